// The backup catalog on S3 (SeaweedFS) and `runbook backups <cluster>`, over real mariadb-backup
// backups of a MariaDB source that took writes between them (test/support/backup-catalog-world.ts):
// listed coordinates and reach are compared with what the source recorded as each backup was taken.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ApplicationFailure } from '@temporalio/common';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { buildCatalogWorld, type CatalogWorld, type TakenBackup } from '../support/backup-catalog-world';
import { listBackupCatalog } from '../../activities/mysql/backup-catalog';
import { Archive } from '../../workflows/schemas';
import { startSeaweedS3, type SeaweedS3 } from '../support/seaweedfs';
import { writeCatalogEntry } from '../support/fleet';
import { projectRoot } from '../../scripts/lib/tools';
import { gtidPos } from '../../scripts/lib/scenario';

let w: CatalogWorld;
before(async () => {
  w = await buildCatalogWorld();
});
after(async () => w?.cleanup());

const truthOf = (name: string) => w.backups.find((b) => b.name === name)!;
const coords = (b: TakenBackup) => ({ file: b.file, position: b.position, gtid: b.gtid });

describe('S3 (SeaweedFS)', () => {
  let s3: SeaweedS3;
  before(async () => {
    s3 = await startSeaweedS3({ bucket: 'backups' });
    process.env.BKCAT_AK = s3.accessKeyId;
    process.env.BKCAT_SK = s3.secretAccessKey;
    const raw = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const put = async (key: string, body: Buffer) =>
      raw.send(new PutObjectCommand({ Bucket: 'backups', Key: key, Body: body }));
    for (const b of w.backups.filter((x) => x.form === 'xbstream'))
      await put(`shop/${b.name}`, await readFile(join(w.catalogDir, b.name)));
    await put('shop/notes.txt', Buffer.from('not a backup'));
    await put('shop/old/full-0.xbstream', await readFile(join(w.catalogDir, 'full-2.xbstream')));
    const bad = await readFile(join(w.catalogDir, 'full-2.xbstream'));
    await put('shop/bad.xbstream', bad.subarray(0, 100_000));
    raw.destroy();
  });
  after(async () => s3?.stop());

  const location = (secret = 'BKCAT_SK') =>
    Archive.parse({
      kind: 's3',
      bucket: 'backups',
      prefix: 'shop',
      endpoint: s3.endpoint,
      accessKeyId: { env: 'BKCAT_AK' },
      secretAccessKey: { env: secret },
    });

  test('lists the stream objects under the prefix with the coordinates recorded as each was taken', async () => {
    const read: string[] = [];
    const listing = await listBackupCatalog(location(), { onRead: (n) => read.push(n) });
    assert.deepEqual(
      listing.backups.map((b) => b.name),
      ['full-4.xbstream.gz', 'full-3.xbstream.zst', 'full-2.xbstream', 'bad.xbstream'],
    );
    for (const b of listing.backups.filter((x) => x.name !== 'bad.xbstream'))
      assert.deepEqual(b.binlog, coords(truthOf(b.name)), b.name);
    assert.match(listing.backups.at(-1)!.problem ?? '', /damaged xbstream: truncated chunk .* at offset \d+/);
    assert.equal(read.length, 4);
    const again: string[] = [];
    await listBackupCatalog(location(), { onRead: (n) => again.push(n) });
    assert.equal(again.length, 0, 'the index answers: nothing read again');
  });
  test('wrong credentials or a missing catalog are refused at once, naming the catalog, no secret', async () => {
    process.env.BKCAT_SK_WRONG = `${s3.secretAccessKey}x`;
    await assert.rejects(listBackupCatalog(location('BKCAT_SK_WRONG')), (err: ApplicationFailure) => {
      assert.equal(err.type, 'ArchiveMisconfigured');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /s3:\/\/backups\/shop: cannot list objects/);
      assert.ok(!err.message.includes(s3.secretAccessKey));
      return true;
    });
    await assert.rejects(
      listBackupCatalog({ kind: 'fs', dir: join(w.base, 'no-such-catalog') }),
      (err: ApplicationFailure) => {
        assert.equal(err.type, 'InvalidInput');
        assert.match(err.message, /backup catalog .*no-such-catalog cannot be read: ENOENT/);
        return true;
      },
    );
  });
});

describe('runbook backups <cluster>', () => {
  const cli = (...args: string[]) =>
    execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'scripts/runbook.ts'), ...args], {
      cwd: projectRoot,
      reject: false,
    });

  test('lists each backup: form, size, finish time, coordinates, usable or why not, and its reach with the archive', async () => {
    const newest = await gtidPos(w.source.server);
    const name = `bk-${process.pid}`;
    const entryInput = {
      cluster: { adapter: 'process', name: 'shop', pidFile: join(w.base, 'x.pid'), start: ['/bin/true'] },
      backup: { catalog: { kind: 'fs', dir: w.catalogDir } },
      restore: { datadir: join(w.base, 'restore-cli', 'data') },
      archive: { kind: 'fs', dir: w.source.archiveDir },
    };
    await writeCatalogEntry(name, {
      runbooks: {
        perconaPointInTimeRecovery: {
          input: entryInput,
        },
      },
      approval: { required: false },
    });
    const r = await cli('backups', name);
    assert.equal(r.exitCode, 0, r.stderr);
    const blocks = r.stdout.split(/\n(?=\S)/).slice(1);
    assert.deepEqual(
      blocks.map((b) => b.split('\n')[0]),
      [...w.backups].reverse().map((b) => b.name),
    );
    for (const t of w.backups) {
      const block = blocks.find((b) => b.startsWith(`${t.name}\n`))!;
      assert.match(block, new RegExp(`binlog: +${t.file}:${t.position} GTID ${t.gtid}\\n`));
      assert.match(
        block,
        new RegExp(`form: +${t.form}${t.compression !== 'none' ? ` \\(${t.compression}\\)` : ''}, `),
      );
      assert.match(block, /finished: +\d{4}-\d{2}-\d{2}T/);
      if (t.name === 'raw-5') assert.match(block, /usable: +no: not prepared/);
      else {
        assert.match(block, /usable: +yes/);
        assert.match(block, new RegExp(`earliest: +${t.file}:${t.position} GTID ${t.gtid}`));
        assert.match(block, new RegExp(`latest: +${newest.split(',').at(-1)} \\(`));
      }
    }
    // An entry with one backup directory (backup.dir) lists that one.
    const one = `bk1-${process.pid}`;
    await writeCatalogEntry(one, {
      runbooks: {
        perconaPointInTimeRecovery: {
          input: { ...entryInput, backup: { dir: join(w.catalogDir, 'full-1') } },
        },
      },
      approval: { required: false },
    });
    const single = await cli('backups', one);
    assert.equal(single.exitCode, 0, single.stderr);
    const t = truthOf('full-1');
    assert.match(
      single.stdout,
      new RegExp(`binlog: +${t.file}:${t.position} GTID ${t.gtid}\\n +usable: +yes`),
    );
    const unknown = await cli('backups', 'no-such-cluster');
    assert.equal(unknown.exitCode, 2);
    assert.match(unknown.stderr, /no-such-cluster: no usable fleet catalog entry/);
  });
});
