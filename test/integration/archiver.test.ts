// The supervised archiver against a real MariaDB source: it resumes by itself after the source
// restarts, after its streaming process is killed, and (run as its own service, scripts/archiver.ts)
// after the supervisor itself is SIGKILLed while the source keeps writing. The archive it leaves is
// byte-identical to the source's binlogs, with an index whose GTID chain has no hole.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { ArchiveIndex, BinlogArchive } from '../../activities/archive/archive';
import { FsArchive } from '../../activities/archive/archive-fs';
import { S3Archive } from '../../activities/archive/archive-s3';
import { isAlive, livePid } from '../../activities/runtime/processes';
import { startMariadbServer, waitForExit, type MariadbServer } from '../../scripts/lib/mariadb-server';
import { projectRoot } from '../../scripts/lib/tools';
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

async function sourceBinlogs(server = source.server): Promise<string[]> {
  const rows = await server.query<{ Log_name: string }[]>('SHOW BINARY LOGS');
  return rows.map((r) => r.Log_name);
}

/** The index proves continuity: every source binlog once, each starting where the previous one ended. */
async function assertUnbrokenChain(index: ArchiveIndex, server: MariadbServer): Promise<void> {
  assert.deepEqual(
    index.files.map((f) => f.name),
    await sourceBinlogs(server),
    'every source binlog, once, in order',
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
  assert.equal(index.files.at(-1)!.lastGtid, await gtidPos(server));
  const total = index.files.reduce((n, f) => n + f.transactions, 0);
  assert.equal(BigInt(total), parseMariadbGtidList(await gtidPos(server)).get(0)!.seq);
}

/** Every source binlog is in the archive, byte for byte (fetched through the archive's own API). */
async function assertSameBinlogs(
  server: MariadbServer,
  archive: BinlogArchive,
  stage: string,
): Promise<void> {
  await mkdir(stage, { recursive: true });
  for (const name of await sourceBinlogs(server)) {
    const staged = join(stage, name);
    await archive.fetchFile(name, staged);
    assert.ok(
      sameBinlog(await readFile(join(server.datadir, name)), await readFile(staged)),
      `${name} is identical in the archive`,
    );
  }
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
  }
  await assertSameBinlogs(source.server, s3Archive, join(base, 'fetched'));
  // The index in S3 proves continuity: each file starts where the previous one ended.
  await assertUnbrokenChain(await s3Archive.readIndex(), source.server);
});

/** The archiver service (scripts/archiver.ts) as a process of its own; its output is kept. */
async function startArchiverService(
  configFile: string,
): Promise<{ pid: number; proc: ResultPromise; out: () => string }> {
  let out = '';
  const proc = execa(
    process.execPath,
    ['--import', 'tsx', join(projectRoot, 'scripts/archiver.ts'), configFile],
    {
      cwd: projectRoot,
      reject: false,
      all: true,
      buffer: false,
    },
  );
  proc.all?.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 60_000;
  while (!out.includes('streaming from')) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`archiver did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: proc.pid!, proc, out: () => out };
}

test('the archiver service SIGKILLed while the source writes: started again, it stops the orphaned streamer and the archive resumes unbroken', async () => {
  const dir = join(base, 'service');
  const server = await startMariadbServer({
    baseDir: join(dir, 'source'),
    serverId: 2,
    extraArgs: ['--innodb-flush-log-at-trx-commit=2', '--sync-binlog=0'],
  });
  const spoolDir = join(dir, 'spool');
  const archive = new FsArchive(join(dir, 'archive'));
  const configFile = join(dir, 'archiver.json');
  await writeFile(
    configFile,
    JSON.stringify({
      source: { socket: server.socket, user: 'root' },
      archive: { kind: 'fs', dir: archive.dir },
      spoolDir,
      serverId: 952,
      syncEveryMs: 300,
    }),
  );
  let writing = true;
  let seed = 10;
  let services: Awaited<ReturnType<typeof startArchiverService>>[] = [];
  const streamerPid = () => livePid(join(spoolDir, 'archiver-streamer.pid'));
  try {
    await createShop(server);
    // The source keeps writing through the whole test (and a binlog rotation).
    const writer = (async () => {
      while (writing) {
        await runWorkload(server, seed++, 20);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    writer.catch(() => {}); // awaited below; marked handled in case an assertion ends the test first
    services.push(await startArchiverService(configFile));
    await new Promise((r) => setTimeout(r, 1500));

    // SIGKILL the supervisor alone: its streamer lives on as an orphan, still writing the spool.
    const orphan = await streamerPid();
    assert.ok(orphan && isAlive(orphan), 'the first streamer runs');
    process.kill(services[0]!.pid, 'SIGKILL');
    await services[0]!.proc;
    assert.ok(isAlive(orphan), 'the streamer outlived its supervisor');
    await new Promise((r) => setTimeout(r, 1000));
    await server.query('FLUSH BINARY LOGS');
    await new Promise((r) => setTimeout(r, 500));

    // Started again (as systemd would): the orphan is stopped before anything streams.
    services.push(await startArchiverService(configFile));
    assert.match(
      services[1]!.out(),
      new RegExp(`stopping streamer ${orphan}, left running by an archiver that died`),
    );
    assert.equal(isAlive(orphan), false, 'the orphaned streamer is gone');
    assert.notEqual(await streamerPid(), orphan, 'one new streamer writes the spool');
    await new Promise((r) => setTimeout(r, 1500));
    writing = false;
    await writer;

    // Caught up: the spool holds the source's current file up to its position, and the index says so.
    const [status] = await server.query<{ File: string; Position: number }[]>('SHOW MASTER STATUS');
    const want = await gtidPos(server);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const size = await stat(join(spoolDir, status!.File)).then(
        (x) => x.size,
        () => 0,
      );
      const last = (await archive.readIndex()).files.at(-1);
      if (size >= Number(status!.Position) && last?.lastGtid === want) break;
      assert.ok(
        Date.now() < deadline,
        `the archive did not catch up: spool ${status!.File} at ${size} of ${status!.Position}, index ends ${JSON.stringify(last)}, source at ${want}\n${services[1]!.out()}`,
      );
      await new Promise((r) => setTimeout(r, 200));
    }
    process.kill(services[1]!.pid, 'SIGTERM');
    await services[1]!.proc;
    services = [];

    await assertSameBinlogs(server, archive, join(dir, 'fetched'));
    await assertUnbrokenChain(await archive.readIndex(), server);
  } finally {
    writing = false;
    const left = [...services.map((s) => s.pid), await streamerPid()];
    for (const pid of left)
      if (pid && isAlive(pid)) {
        process.kill(pid, 'SIGKILL');
        await waitForExit(pid, 10_000);
      }
    await server.destroy();
  }
});
