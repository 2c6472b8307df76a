// The supervised archiver against a real MariaDB source: it resumes by itself after the source
// restarts and after its streaming process is killed, and the archive it leaves is byte-identical to
// the source's binlogs, with an index whose GTID chain has no hole.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Archive } from '../../activities/archive-s3';
import { isAlive } from '../../activities/processes';
import { parseMariadbGtidList } from '../../workflows/gtid';
import { createShop, gtidPos, runWorkload, startSource, type Source } from '../../scripts/lib/scenario';
import { startSeaweedS3, type SeaweedS3 } from '../support/seaweedfs';

let base: string;
let source: Source;
let s3: SeaweedS3;
let s3Archive: S3Archive;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'archiver-'));
  s3 = await startSeaweedS3({ bucket: 'archive' });
  s3Archive = new S3Archive({
    bucket: 'archive',
    prefix: 'src1',
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: s3,
  });
  // The archiver spools locally and pushes to S3, like a production binlog server.
  source = await startSource(base, { archive: s3Archive });
  await createShop(source.server);
});

after(async () => {
  await source?.archiver.stop();
  await source?.sql.closeAll();
  await source?.server.destroy();
  await s3?.stop();
  await removeTestDir(base);
});

/**
 * Equal but for the "in use" flag of the format description event (offset 21): the server clears it
 * in place when it closes a file, after the archiver has already copied that header.
 */
function sameBinlog(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  const mask = (x: Buffer) => Buffer.concat([x.subarray(0, 21), Buffer.from([x[21]! & ~1]), x.subarray(22)]);
  return mask(a).equals(mask(b));
}

async function sourceBinlogs(): Promise<string[]> {
  const rows = await source.server.query<{ Log_name: string }[]>('SHOW BINARY LOGS');
  return rows.map((r) => r.Log_name);
}

test('resumes after the source restarts and after its streaming process is killed; the archive equals the source', async () => {
  const a = source.archiver;
  await runWorkload(source.server, 1, 500);
  await a.waitCaughtUp();

  // The source goes away and comes back (a new binlog file starts).
  await source.server.stop();
  await new Promise((r) => setTimeout(r, 500));
  await source.server.start();
  await runWorkload(source.server, 2, 500);
  await a.waitCaughtUp(60_000);
  assert.ok(a.restarts >= 1, 'the archiver restarted after the source went away');

  // The streaming process dies (SIGKILL); the supervisor starts a new one.
  const pid = a.streamerPid;
  assert.ok(pid && isAlive(pid));
  process.kill(pid, 'SIGKILL');
  await source.server.query('FLUSH BINARY LOGS');
  await runWorkload(source.server, 3, 500);
  await a.waitCaughtUp(60_000);
  assert.notEqual(a.streamerPid, pid, 'a new streaming process runs');

  // Every binlog the source has is in the archive, byte for byte.
  await a.sync();
  const names = await sourceBinlogs();
  assert.ok(names.length >= 3);
  await mkdir(join(base, 'fetched'), { recursive: true });
  for (const name of names) {
    const theirs = await readFile(join(source.server.datadir, name));
    const ours = await readFile(join(source.archiveDir, name));
    assert.ok(sameBinlog(theirs, ours), `${name} is identical in the spool`);
    const staged = join(base, 'fetched', name);
    await s3Archive.fetchFile(name, staged);
    assert.ok(sameBinlog(theirs, await readFile(staged)), `${name} is identical in S3`);
  }

  // The index in S3 proves continuity: each file starts where the previous one ended.
  const index = await s3Archive.readIndex();
  assert.deepEqual(
    index.files.map((f) => f.name),
    names,
  );
  for (let i = 1; i < index.files.length; i++) {
    const prev = index.files[i - 1]!;
    const cur = index.files[i]!;
    if (!prev.lastGtid) continue;
    const last = parseMariadbGtidList(prev.lastGtid).get(0)!;
    assert.equal(
      parseMariadbGtidList(cur.gtidsBefore).get(0)?.seq,
      last.seq,
      `${cur.name} continues ${prev.name}`,
    );
  }
  assert.equal(index.files.at(-1)!.lastGtid, await gtidPos(source.server));
  const total = index.files.reduce((n, f) => n + f.transactions, 0);
  assert.equal(BigInt(total), parseMariadbGtidList(await gtidPos(source.server)).get(0)!.seq);
});
