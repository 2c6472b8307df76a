// The backup catalog and the closest-backup choice, on real mariadb-backup backups of a MariaDB
// source that took writes between them (prepared directories, xbstream plain, | zstd, | gzip, one
// unprepared), with its real binlog archive. Every choice is compared with the position and GTID
// recorded on the source as each backup was taken; every refusal leaves the catalog, the archive
// and the restore datadir as they were. S3 and `runbook backups`: backup-catalog-s3-cli.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { copyFile, mkdir, open, readdir, stat, truncate, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildCatalogWorld, type CatalogWorld, type TakenBackup } from '../support/backup-catalog-world';
import { listBackupCatalog } from '../../activities/mysql/backup-catalog';
import { chooseBackup } from '../../activities/percona/backup-choice';
import { planPerconaRecovery } from '../../activities/percona/percona';
import { FsArchive } from '../../activities/archive/archive-fs';
import { refreshIndex } from '../../activities/archive/archive-index';
import { archiveReader } from '../../activities/archive/archive-read';
import { PlanError, planReplay } from '../../activities/replay/replay-plan';
import type { ArchiveIndex } from '../../activities/archive/archive';
import { PerconaPitrInput, type RecoveryTarget } from '../../workflows/schemas';
import { SqlPools } from '../../activities/mysql/sql';

let w: CatalogWorld;
let index: ArchiveIndex;
let archive: FsArchive;

before(async () => {
  w = await buildCatalogWorld();
  archive = new FsArchive(w.source.archiveDir);
  index = await refreshIndex(archive, join(w.base, 'staging'));
});
after(async () => w?.cleanup());

const truthOf = (name: string) => w.backups.find((b) => b.name === name)!;
const coords = (b: TakenBackup) => ({ file: b.file, position: b.position, gtid: b.gtid });

function choose(target: RecoveryTarget, o: { backupName?: string; dir?: string } = {}) {
  return chooseBackup(
    {
      backup: { catalog: { kind: 'fs', dir: o.dir ?? w.catalogDir } },
      ...(o.backupName ? { backupName: o.backupName } : {}),
      dialect: 'mariadb',
      target,
      index,
    },
    (b) =>
      planReplay({
        index,
        backup: b,
        target,
        allowGaps: false,
        nowSeconds: Date.now() / 1000,
        read: archiveReader(archive, join(w.base, 'staging')),
      }),
  );
}

/** Names, sizes and mtimes of everything under `dir`: what "nothing touched" compares. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath, e.name);
    const st = await stat(p);
    out.push(`${p} ${st.size} ${st.mtimeMs}`);
  }
  return out.sort();
}

async function refused(work: () => Promise<unknown>, kind: string, pattern: RegExp): Promise<void> {
  const [cat, arc] = [await snapshot(w.catalogDir), await snapshot(w.source.archiveDir)];
  await assert.rejects(work(), (err: Error) => {
    assert.ok(err instanceof PlanError, String(err));
    assert.equal(err.kind, kind);
    assert.match(err.message, pattern);
    return true;
  });
  assert.deepEqual(await snapshot(w.catalogDir), cat, 'the catalog is unchanged');
  assert.deepEqual(await snapshot(w.source.archiveDir), arc, 'the archive is unchanged');
}

describe('listing', () => {
  test('lists every backup with the coordinates recorded on the source as it was taken; the unprepared one is unusable', async () => {
    const listing = await listBackupCatalog({ kind: 'fs', dir: w.catalogDir });
    assert.deepEqual(
      listing.backups.map((b) => b.name),
      [...w.backups].reverse().map((b) => b.name),
      'newest first',
    );
    for (const t of w.backups) {
      const b = listing.backups.find((x) => x.name === t.name)!;
      assert.equal(b.form, t.form, t.name);
      assert.equal(b.compression, t.compression, t.name);
      assert.deepEqual(b.binlog, coords(t), t.name);
      assert.equal(b.tool, 'mariadb-backup');
      assert.ok(
        b.finishedAt && b.finishedAt >= t.before && b.finishedAt < t.after,
        `${t.name} ${b.finishedAt}`,
      );
      if (t.name === 'raw-5') assert.match(b.problem ?? '', /not prepared \(backup_type = full-backuped\)/);
      else assert.equal(b.problem, null, t.name);
      if (t.form === 'xbstream')
        assert.ok((b.dataBytes ?? 0) > b.bytes * (t.compression === 'none' ? 0.9 : 1));
    }
  });

  test('a stream is read once: the index answers until the stream changes', async () => {
    const read: string[] = [];
    await listBackupCatalog({ kind: 'fs', dir: w.catalogDir }, { onRead: (n) => read.push(n) });
    assert.equal(read.length, 0, `all cached by the first listing, read: ${read.join(', ')}`);
    const path = join(w.catalogDir, 'full-3.xbstream.zst');
    const later = new Date(Date.now() + 5000);
    await utimes(path, later, later);
    await listBackupCatalog({ kind: 'fs', dir: w.catalogDir }, { onRead: (n) => read.push(n) });
    assert.deepEqual(read, ['full-3.xbstream.zst']);
  });

  test('a damaged stream is unusable, naming the offset mbstream names too', async () => {
    const dir = join(w.base, 'damaged');
    await mkdir(dir);
    const good = join(w.catalogDir, 'full-2.xbstream');
    const size = (await stat(good)).size;
    // One payload byte flipped in the middle: a checksum mismatch.
    await copyFile(good, join(dir, 'flipped.xbstream'));
    const fh = await open(join(dir, 'flipped.xbstream'), 'r+');
    const at = Math.floor(size / 2);
    const buf = Buffer.alloc(1);
    await fh.read(buf, 0, 1, at);
    buf[0] = buf[0]! ^ 0xff;
    await fh.write(buf, 0, 1, at);
    await fh.close();
    await copyFile(good, join(dir, 'cut.xbstream'));
    await truncate(join(dir, 'cut.xbstream'), Math.floor(size / 3));
    await copyFile(join(w.catalogDir, 'full-3.xbstream.zst'), join(dir, 'cut.xbstream.zst'));
    await truncate(join(dir, 'cut.xbstream.zst'), 1000);
    await copyFile(good, join(dir, 'magic.xbstream'));
    const fm = await open(join(dir, 'magic.xbstream'), 'r+');
    await fm.write(Buffer.from('Y'), 0, 1, 0);
    await fm.close();

    const listing = await listBackupCatalog({ kind: 'fs', dir });
    const problem = (n: string) => listing.backups.find((b) => b.name === n)!.problem ?? '';
    await mkdir(join(w.base, 'mb-out'));
    const mb = await execa('mbstream', ['-x', '-C', join(w.base, 'mb-out')], {
      inputFile: join(dir, 'flipped.xbstream'),
      reject: false,
    });
    const hex = /invalid checksum at offset 0x([0-9a-f]+)/.exec(mb.stderr)?.[1];
    assert.ok(hex, `mbstream said: ${mb.stderr}`);
    assert.match(
      problem('flipped.xbstream'),
      new RegExp(`checksum mismatch .* at offset ${parseInt(hex, 16)}\\b`),
    );
    assert.match(problem('cut.xbstream'), /damaged xbstream: truncated chunk .* at offset \d+/);
    assert.match(problem('cut.xbstream.zst'), /cannot decompress \(zstd\)|damaged xbstream/);
    assert.match(problem('magic.xbstream'), /wrong chunk magic at offset 0/);
    // And the choice never takes them: nothing usable there.
    await refused(() => choose({ type: 'latest' }, { dir }), 'NoUsableBackup', /holds no usable backup/);
  });
});

describe('choosing', () => {
  const cases: { what: string; target: () => RecoveryTarget; expect: string }[] = [
    {
      what: 'a GTID after full-1',
      target: () => ({ type: 'gtid', gtid: last(w.between[0]!), exclusive: false }),
      expect: 'full-1',
    },
    {
      what: 'a GTID after the plain stream',
      target: () => ({ type: 'gtid', gtid: last(w.between[1]!), exclusive: false }),
      expect: 'full-2.xbstream',
    },
    {
      what: 'a GTID after the zstd stream',
      target: () => ({ type: 'gtid', gtid: last(w.between[2]!), exclusive: false }),
      expect: 'full-3.xbstream.zst',
    },
    {
      what: 'a GTID after the unprepared backup (skipped)',
      target: () => ({ type: 'gtid', gtid: last(w.between[4]!), exclusive: false }),
      expect: 'full-4.xbstream.gz',
    },
    {
      what: 'a time between full-2 and full-3',
      target: () => ({ type: 'time', time: w.mid[1]! }),
      expect: 'full-2.xbstream',
    },
    { what: 'latest', target: () => ({ type: 'latest' }), expect: 'full-6' },
    {
      // full-6's own binlog file starts after the target's second: only the file before it shows that
      // its data is newer than the target.
      what: 'a time just before the backup taken after a rotation',
      target: () => ({ type: 'time', time: w.mid[4]! }),
      expect: 'full-4.xbstream.gz',
    },
    {
      what: 'the position where the plain stream was taken (exclusive)',
      target: () => ({
        type: 'position',
        file: truthOf('full-2.xbstream').file,
        position: truthOf('full-2.xbstream').position,
      }),
      expect: 'full-1',
    },
  ];
  for (const c of cases)
    test(`${c.what}: the newest backup before it, as recorded on the source`, async () => {
      const chosen = await choose(c.target());
      assert.equal(chosen.source?.entry.name, c.expect, chosen.evidence.join('\n'));
      assert.deepEqual(chosen.source?.entry.binlog, coords(truthOf(c.expect)));
      assert.deepEqual(
        { file: chosen.backup.file, position: chosen.backup.position, gtid: chosen.backup.gtid },
        coords(truthOf(c.expect)),
      );
      assert.equal(chosen.replay.startGtid, truthOf(c.expect).gtid);
      // Every newer backup is named as rejected, with its reason.
      const newer = w.backups.slice(w.backups.findIndex((b) => b.name === c.expect) + 1);
      for (const n of newer)
        assert.ok(
          chosen.evidence.some((e) =>
            e.startsWith(
              `rejected newer backup ${n.name}: ${n.prepared || n.form === 'xbstream' ? 'past the target' : 'not usable'}`,
            ),
          ),
          `${n.name} in ${chosen.evidence.join(' | ')}`,
        );
    });

  test('a target older than every backup is refused naming the oldest', async () => {
    await refused(
      () => choose({ type: 'gtid', gtid: last(w.beforeAll), exclusive: false }),
      'NoUsableBackup',
      /older than every usable backup .* the oldest is full-1 at /,
    );
    await refused(
      () => choose({ type: 'time', time: w.beforeAllTime }),
      'NoUsableBackup',
      /the oldest is full-1/,
    );
  });

  test('a named backup: used when it reaches the target, refused when it does not or does not exist', async () => {
    const named = await choose({ type: 'latest' }, { backupName: 'full-1' });
    assert.equal(named.source?.entry.name, 'full-1');
    assert.deepEqual(named.source?.entry.binlog, coords(truthOf('full-1')));
    await refused(
      () => choose({ type: 'latest' }, { backupName: 'nope' }),
      'PlanRefused',
      /holds no backup named nope/,
    );
    await refused(
      () =>
        choose(
          { type: 'gtid', gtid: last(w.between[0]!), exclusive: false },
          { backupName: 'full-4.xbstream.gz' },
        ),
      'PlanRefused',
      /the named backup full-4\.xbstream\.gz cannot reach the target: GTID .* is already in the backup/,
    );
    await refused(
      () => choose({ type: 'latest' }, { backupName: 'raw-5' }),
      'PlanRefused',
      /raw-5 cannot be used: not prepared/,
    );
  });
});

describe('the plan activity', () => {
  const input = (extra: Record<string, unknown>) =>
    PerconaPitrInput.parse({
      cluster: {
        adapter: 'process',
        name: 'shop',
        pidFile: join(w.base, 'no-cluster.pid'),
        start: ['/bin/true'],
      },
      backup: { catalog: { kind: 'fs', dir: w.catalogDir } },
      restore: { datadir: join(w.base, 'restore', 'data') },
      archive: { kind: 'fs', dir: w.source.archiveDir },
      target: { type: 'gtid', gtid: last(w.between[3]!) },
      ...extra,
    });

  test('plan mode returns the chosen stream as the source; a run plans it the same way, touching nothing', async () => {
    const sql = new SqlPools();
    try {
      const plan = await planPerconaRecovery(sql, { ...input({ mode: 'plan' }), recoveryId: 'cat-plan' });
      assert.equal(plan.source?.entry.name, 'full-4.xbstream.gz');
      assert.equal(plan.source?.entry.form, 'xbstream');
      assert.deepEqual(plan.source?.entry.binlog, coords(truthOf('full-4.xbstream.gz')));
      assert.ok(plan.choice?.some((l) => /rejected newer backup raw-5: not usable/.test(l)));
      assert.ok(plan.choice?.some((l) => /rejected newer backup full-6: past the target/.test(l)));

      // A run plans the stream too (fetch-backup prepares it before the pause); the plan touches nothing.
      const cat = await snapshot(w.catalogDir);
      const runPlan = await planPerconaRecovery(sql, { ...input({}), recoveryId: 'cat-run' });
      assert.equal(runPlan.source?.entry.name, 'full-4.xbstream.gz');
      assert.deepEqual(await snapshot(w.catalogDir), cat);
      assert.equal(await stat(join(w.base, 'restore')).catch(() => null), null, 'no restore datadir made');

      // A prepared directory of the catalog plans as a backup directory did.
      const dirPlan = await planPerconaRecovery(sql, {
        ...input({ backupName: 'full-1' }),
        recoveryId: 'cat-dir',
      });
      assert.equal(dirPlan.backup.dir, join(w.catalogDir, 'full-1'));
      assert.deepEqual(
        { file: dirPlan.backup.file, position: dirPlan.backup.position, gtid: dirPlan.backup.gtid },
        coords(truthOf('full-1')),
      );
    } finally {
      await sql.closeAll();
    }
  });

  test('a backupName with a single backup directory is refused by the schema', () => {
    const r = PerconaPitrInput.safeParse({
      cluster: { adapter: 'process', name: 'shop', pidFile: '/x.pid', start: ['/bin/true'] },
      backup: { dir: '/b' },
      backupName: 'full-1',
      restore: { datadir: '/r' },
      archive: { kind: 'fs', dir: '/a' },
      target: { type: 'latest' },
    });
    assert.equal(r.success, false);
    assert.match(JSON.stringify(r.error?.issues), /not a catalog/);
    const path = PerconaPitrInput.safeParse({
      cluster: { adapter: 'process', name: 'shop', pidFile: '/x.pid', start: ['/bin/true'] },
      backup: { catalog: { kind: 'fs', dir: '/b' } },
      backupName: '../etc/passwd',
      restore: { datadir: '/r' },
      archive: { kind: 'fs', dir: '/a' },
      target: { type: 'latest' },
    });
    assert.equal(path.success, false);
  });
});

/** The last GTID of a single-domain gtid_binlog_pos. */
function last(pos: string): string {
  return pos.split(',').at(-1)!;
}
