// Exact data on a workload none of the other tests use (test/support/torture.ts): every DDL kind,
// CREATE … SELECT, temporary tables under STATEMENT and MIXED, a transaction larger than
// max_binlog_size, a 17 MiB row, tables without a primary key, every column type, XA, concurrent
// sessions and many rotations. Each strategy restores to every target kind through the real Percona
// runbook and must equal the ground truth captured LIVE on the source at that point (never a replay by
// the same engine); the proof must hold. Windows a strategy cannot replay are refused by the plan with
// nothing touched; and when a wrong replay is forced through anyway, the proof catches it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import type { RecoveryTarget } from '../../workflows/schemas';
import { FsArchive } from '../../activities/archive/archive-fs';
import { refreshIndex } from '../../activities/archive/archive-index';
import { archiveReader } from '../../activities/archive/archive-read';
import { inspectBackup, restoreBackup, type BackupInfo } from '../../activities/mysql/backup';
import { startTemporaryServer, stopTemporaryServer } from '../../activities/mysql/mysqld';
import { replayBinlogs } from '../../activities/replay/replay';
import { planReplay } from '../../activities/replay/replay-plan';
import { proveRestoredReplay } from '../../activities/replay/replay-proof';
import { SqlPools } from '../../activities/mysql/sql';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { startSource, takeBackup, type Source } from '../../scripts/lib/scenario';
import { standInCluster, useStandIns } from '../support/percona-scenario';
import { startWorker, testClient, uniqueQueue, type RunningWorker } from '../support/temporal';
import {
  runTorture,
  TORTURE_SCHEMAS,
  TORTURE_SOURCE_ARGS,
  type TortureCheckpoint,
  type TortureRun,
} from '../support/torture';
import { runWorkflow, runWorkflowExpectingFailure } from '../support/workflows';

useStandIns();
const TYPE = 'perconaPointInTimeRecovery';
let base = '';
let source: Source;
let run: TortureRun;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
let kubectlState = '';
let n = 0;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'torture-'));
  source = await startSource(base, { extraArgs: TORTURE_SOURCE_ARGS });
  run = await runTorture(source, { onBackupPoint: () => takeBackup(source.server, join(base, 'backup')) });
  await source.archiver.stop();
  await source.sql.closeAll();
  await source.server.stop();
  kubectlState = await standInCluster(join(base, 'k8s'), 'torture');
  worker = await startWorker(uniqueQueue('torture'));
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  await worker?.stop();
  await closeClient?.();
  await removeTestDir(base);
});

type Kind = 'gtid' | 'exclusive' | 'position' | 'time';
const cp = (i: number): TortureCheckpoint => run.checkpoints[i]!;
function targetAt(c: TortureCheckpoint, kind: Kind): RecoveryTarget {
  switch (kind) {
    case 'gtid':
      return { type: 'gtid', gtid: c.gtid, exclusive: false };
    case 'exclusive':
      return { type: 'gtid', gtid: c.nextGtid!, exclusive: true };
    case 'position':
      return { type: 'position', ...c.position };
    case 'time':
      return { type: 'time', time: c.time };
  }
}

function input(target: RecoveryTarget, replay: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  n++;
  return {
    cluster: { adapter: 'kubernetes', name: 'torture', namespace: 'db', resource: 'torture' },
    backup: { dir: join(base, 'backup') },
    restore: { datadir: join(base, `restore-${n}`, 'data') },
    archive: { kind: 'fs', dir: source.archiveDir },
    verify: { schemas: TORTURE_SCHEMAS },
    heartbeatTimeout: '20s',
    target,
    replay,
    ...extra,
  };
}

async function recovers(
  target: RecoveryTarget,
  truth: TortureCheckpoint['truth'],
  replay: Record<string, unknown>,
  force = false,
) {
  const r = await runWorkflow<PerconaResult>(
    client,
    TYPE,
    worker.taskQueue,
    input(target, replay, { force }),
  );
  assert.deepEqual(r.tables, truth, 'restored tables equal the source at that point (captured live)');
  assert.ok(r.proof?.holds, 'the proof holds');
  // Every window transaction is accounted for: applied, or a statement that matched no row there.
  assert.equal(r.proof!.applied + r.proof!.notLogged.count, r.proof!.expected, JSON.stringify(r.proof));
  assert.equal(r.replay!.transactionsApplied, r.proof!.expected);
  assert.deepEqual(r.replay!.forcedErrors, []);
  assert.deepEqual(r.proof!.skippedByForce, []);
  return r;
}

// Checkpoints: [0] backup, [1] after every DDL kind and the STATEMENT/MIXED sessions, [2] after the
// big transaction and the 17 MiB row, [3] after CREATE … SELECT, XA and mixed-engine transactions.
describe('the applier restores the torture workload exactly, to every target kind', () => {
  const cases: [number, Kind][] = [
    [1, 'gtid'],
    [2, 'time'],
    [3, 'position'],
    [3, 'exclusive'],
    [3, 'time'],
  ];
  for (const [i, kind] of cases)
    test(`${kind} target at checkpoint ${i}`, async () => {
      await recovers(targetAt(cp(i), kind), cp(i).truth, { strategy: 'applier' });
    });

  test('latest, with 4 parallel threads: the accident included, as on the source at the end', async () => {
    await recovers({ type: 'latest' }, run.finalTruth, { strategy: 'applier', parallelThreads: 4 });
  });
});

// One stand-in cluster whose kubectl calls the refusals count: the cases run one after the other.
describe('the pipe restores the windows it can replay exactly', { concurrency: false }, () => {
  const cases: [number, Kind, boolean][] = [
    [1, 'time', false],
    [1, 'exclusive', false],
    [2, 'gtid', false],
    [2, 'position', false],
    [2, 'exclusive', true],
    [1, 'gtid', true],
  ];
  for (const [i, kind, force] of cases)
    test(`${kind} target at checkpoint ${i}${force ? ', with force' : ''}`, async () => {
      await recovers(targetAt(cp(i), kind), cp(i).truth, { strategy: 'pipe' }, force);
    });

  for (const force of [false, true])
    test(`a window with CREATE … SELECT is refused for the pipe${force ? ' (force)' : ''} by the plan, nothing touched`, async () => {
      const patches = async () =>
        (await readFile(`${kubectlState}.log`, 'utf8').catch(() => ''))
          .split('\n')
          .filter((l) => l.includes('"patch"')).length;
      const before = await patches();
      const i = input(targetAt(cp(3), 'gtid'), { strategy: 'pipe' }, { force });
      const f = await runWorkflowExpectingFailure(client, TYPE, worker.taskQueue, i);
      assert.match(
        f.message,
        /^locate-binlogs: the pipe strategy cannot replay this window correctly: \S+ \(mysql-bin\.\d+:\d+, "CREATE TABLE `torture`\.`accounts_snapshot`/,
      );
      assert.match(f.message, force ? /force needs the pipe/ : /use replay\.strategy "applier"/);
      assert.equal(await patches(), before, 'no kubectl patch: the cluster was not paused');
      assert.equal(await stat(i.restore.datadir).catch(() => null), null, 'no datadir was restored');
    });
});

describe('a wrong replay forced through anyway is caught by the proof', () => {
  const sql = new SqlPools();
  after(() => sql.closeAll());

  /** Plans, restores and replays the window to `target` with the pipe and force, bypassing the plan's refusal. */
  async function forcedPipe(
    target: RecoveryTarget,
    before?: (e: { socket?: string; user: string }) => Promise<void>,
  ) {
    const archive = new FsArchive(source.archiveDir);
    const backup: BackupInfo = await inspectBackup(join(base, 'backup'), 'mariadb');
    const recoveryId = `forced-${++n}`;
    const stagingDir = join(base, `staging-${recoveryId}`);
    const plan = await planReplay({
      index: await refreshIndex(archive, stagingDir),
      backup,
      target,
      allowGaps: false,
      nowSeconds: Date.now() / 1000,
      read: archiveReader(archive, stagingDir),
    });
    const datadir = join(base, `restore-${recoveryId}`, 'data');
    await restoreBackup({ recoveryId, backup, datadir });
    const server = {
      recoveryId,
      datadir,
      binlogBasename: 'mysql-bin',
      serverId: 1,
      dialect: 'mariadb' as const,
      user: 'root',
    };
    const { endpoint } = await startTemporaryServer(sql, { ...server, backupGtid: backup.gtid });
    await before?.(endpoint);
    const replay = await replayBinlogs(sql, archive, {
      recoveryId,
      dialect: 'mariadb',
      endpoint,
      plan,
      backupPosition: { file: backup.file, position: backup.position },
      force: true,
      stagingDir,
      server: { ...server, backupGtid: backup.gtid },
      replay: { strategy: 'pipe', parallelThreads: 1 },
    });
    const prove = (forced = replay.forcedErrors) =>
      proveRestoredReplay(sql, archive, { plan, stagingDir, server, endpoint, forced });
    return { plan, replay, prove, stop: () => stopTemporaryServer(sql, server) };
  }

  test('CREATE … SELECT through the client under force: renumbered GTIDs, the proof fails naming it', async () => {
    const r = await forcedPipe(targetAt(cp(3), 'gtid'));
    try {
      const ctas = /^(\S+) \(/.exec(r.plan.unsafeFor.pipe ?? '')?.[1];
      assert.ok(ctas, 'the plan saw the CREATE … SELECT');
      await assert.rejects(r.prove(), (err: Error & { type?: string }) => {
        assert.equal(err.type, 'ProofFailed');
        assert.match(err.message, new RegExp(`${ctas} differs from the archive`));
        return true;
      });
    } finally {
      await r.stop();
    }
  });

  test('a transaction force skipped: named by its GTID and accepted; without that account, the proof fails', async () => {
    // The row the first transaction after the backup inserts (the next journal id) is planted on the
    // restored server beforehand, unlogged: that insert meets a duplicate key.
    const r = await forcedPipe(targetAt(cp(1), 'gtid'), async (endpoint) => {
      const pool = await sql.get(endpoint);
      const conn = await pool.getConnection();
      try {
        await conn.query('SET SESSION sql_log_bin = 0');
        await conn.query(
          "INSERT INTO torture.journal (id, label) SELECT COALESCE(MAX(id), 0) + 1, 'planted' FROM torture.journal",
        );
      } finally {
        conn.release();
      }
    });
    try {
      assert.ok(r.replay.forcedErrors.length >= 1, 'the client reported the duplicate');
      const skipped = r.replay.forcedErrors[0]!;
      assert.match(skipped.gtid, /^0-1-\d+$/);
      const ok = await r.prove();
      assert.deepEqual(
        ok.skippedByForce.map((s) => s.gtid),
        r.replay.forcedErrors.map((f) => f.gtid),
      );
      await assert.rejects(
        r.prove([]),
        new RegExp(`${skipped.gtid} .*never applied|${skipped.gtid} differs`),
      );
    } finally {
      await r.stop();
    }
  });
});
