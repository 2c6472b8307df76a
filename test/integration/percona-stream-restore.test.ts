// perconaPointInTimeRecovery from a backup catalog holding a `mariadb-backup --stream=xbstream | zstd`
// backup: the plan chooses the stream, fetch-backup prepares it in the staging area while the cluster
// still serves (before pause-cluster), restore-backup copies back the prepared directory, and the
// replay reaches the target with the source's checksums. Real MariaDB, real tools; kubectl stand-in.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { copyFile, mkdir, mkdtemp, open, readFile, stat, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import type { TableFingerprint } from '../../workflows/schemas';
import {
  createShop,
  fingerprint,
  gtidPos,
  runWorkload,
  startSource,
  type Source,
} from '../../scripts/lib/scenario';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { standInCluster, useStandIns } from '../support/percona-scenario';
import {
  startWorker,
  temporalAddress,
  testClient,
  uniqueQueue,
  type RunningWorker,
} from '../support/temporal';
import { historiesDir } from '../support/histories';
import { saveHistory } from '../../scripts/lib/history';
import { runWorkflow, runWorkflowExpectingFailure } from '../support/workflows';
import type { Client } from '@temporalio/client';
import { takeStreamBackup } from '../support/stream-backup';

useStandIns();
let base: string;
let source: Source;
let catalogDir: string;
let kubectlState: string;
let truth: Record<string, TableFingerprint>;
let targetGtid: string;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'pitr-stream-'));
  source = await startSource(base);
  await createShop(source.server);
  await runWorkload(source.server, 1, 600);
  catalogDir = join(base, 'catalog');
  await mkdir(catalogDir);
  await takeStreamBackup(
    source.server.socket,
    join(catalogDir, 'full-1.xbstream.zst'),
    'zstd',
    join(base, 'bk'),
  );
  await runWorkload(source.server, 2, 600);
  await source.server.query('FLUSH BINARY LOGS');
  await runWorkload(source.server, 3, 300);
  truth = await fingerprint(source.sql, source.endpoint);
  targetGtid = await gtidPos(source.server);
  await source.archiver.waitCaughtUp();
  await source.archiver.sync();
  await source.archiver.stop();
  kubectlState = await standInCluster(join(base, 'k8s'), 'shop');
  worker = await startWorker(uniqueQueue('stream'));
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  await worker?.stop();
  await closeClient?.();
  await source?.sql.closeAll();
  await source?.server.stop().catch(() => {});
  if (base) await removeTestDir(base);
});

void test('a zstd xbstream of the catalog is fetched and prepared before the pause, restored, replayed to the target with the source checksums', async () => {
  const workflowId = `stream-restore-${Date.now()}`;
  const r = await runWorkflow<PerconaResult>(
    client,
    'perconaPointInTimeRecovery',
    worker.taskQueue,
    {
      cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'shop' },
      backup: { catalog: { kind: 'fs', dir: catalogDir } },
      restore: { datadir: join(base, 'restore', 'data') },
      archive: { kind: 'fs', dir: source.archiveDir },
      target: { type: 'gtid', gtid: targetGtid },
      verify: { schemas: ['shop'], expected: truth },
      heartbeatTimeout: '10s',
    },
    workflowId,
  );
  // With RECORD_HISTORIES=1 the run joins the replay suite (the fetch-backup step as it runs today).
  if (process.env.RECORD_HISTORIES === '1')
    await saveHistory(temporalAddress(), workflowId, join(historiesDir, 'percona-pitr-stream-backup.json'));
  assert.deepEqual(r.tables, truth);
  const step = (name: string) => r.steps.find((s) => s.name === name)!;
  const fetch = step('fetch-backup');
  assert.equal(fetch.status, 'done');
  assert.match(fetch.evidence.join('\n'), /extracted with mbstream after zstd decompression/);
  assert.match(fetch.evidence.join('\n'), /prepared in .* s: .*base-backup\/prepared ends at mysql-bin/);
  // Production served during the whole fetch: the pause began after the fetch had ended.
  assert.ok(step('pause-cluster').startedAt! >= fetch.endedAt!, 'fetched before the pause');
  assert.match(step('restore-backup').evidence.join('\n'), /copied back .*base-backup\/prepared into/);
  assert.equal(r.plan.source?.entry.name, 'full-1.xbstream.zst');
});

void test('a stream damaged after the catalog listed it is refused at decompress by fetch-backup: the cluster is never paused, no datadir made', async () => {
  // Listed (and its listing cached by name, size and mtime) while whole; then a byte flipped in place,
  // the same size and mtime: only fetch-backup, which decompresses all of it, can see the damage.
  const file = join(catalogDir, 'full-2.xbstream.zst');
  await copyFile(join(catalogDir, 'full-1.xbstream.zst'), file);
  const input = (datadir: string, mode: 'plan' | 'run') => ({
    mode,
    cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'shop' },
    backup: { catalog: { kind: 'fs', dir: catalogDir } },
    backupName: 'full-2.xbstream.zst',
    restore: { datadir },
    archive: { kind: 'fs', dir: source.archiveDir },
    target: { type: 'gtid', gtid: targetGtid },
    heartbeatTimeout: '10s',
  });
  const datadir = join(base, 'restore-damaged', 'data');
  await runWorkflow(client, 'perconaPointInTimeRecovery', worker.taskQueue, input(datadir, 'plan'));
  const { size } = await stat(file);
  const ref = join(base, 'mtime-ref');
  await writeFile(ref, '');
  await execa('touch', ['-m', '-r', file, ref]); // the mtime to the nanosecond
  const fh = await open(file, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, Math.floor(size / 2));
  b[0] = b[0]! ^ 0xff;
  await fh.write(b, 0, 1, Math.floor(size / 2));
  await fh.close();
  await execa('touch', ['-m', '-r', ref, file]);
  const cluster = await readFile(kubectlState, 'utf8');

  const f = await runWorkflowExpectingFailure(
    client,
    'perconaPointInTimeRecovery',
    worker.taskQueue,
    input(datadir, 'run'),
  );
  assert.match(f.message, /^fetch-backup: backup full-2\.xbstream\.zst .* refused at decompress: zstd/);
  assert.match(f.message, /production was not paused/);
  assert.equal(await readFile(kubectlState, 'utf8'), cluster, 'the cluster was not touched');
  assert.equal(await stat(join(base, 'restore-damaged')).catch(() => null), null, 'no datadir made');
});
