// Fault injection for perconaPointInTimeRecovery (`npm run test:faults`): the production worker is
// SIGKILLed at every step boundary and in the middle of the replay, the replayed-into mysqld is
// killed, the replay's SQL connection is cut, and the Temporal server itself (persistent SQLite) is
// restarted mid-run. Each run must finish with the source's data at the target, exactly one completed
// copy-back, no duplicate-key error, and the fault visible in its history. Prints the fault table.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import type { RunbookProgress } from '../../workflows/kit';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { PERCONA_PITR } from '../../workflows/runbooks';
import { mariadbPositionIncludes } from '../../workflows/gtid';
import { Ledger } from '../../activities/runtime/ledger';
import { runtimeDir } from '../../activities/mysql/mysqld';
import { livePid } from '../../activities/runtime/processes';
import { SqlPools } from '../../activities/mysql/sql';
import {
  FaultTemporal,
  killWorker,
  printFaultTable,
  runWithFault,
  WorkerSupply,
  type FaultRow,
  type Inject,
} from '../support/faults';
import {
  perconaInput,
  recordAccident,
  standInCluster,
  temporaryServerOf,
  useStandIns,
  type Accident,
} from '../support/percona-scenario';
import type { WorkerProcess } from '../support/worker-process';

useStandIns();
const rows: FaultRow[] = [];
const sql = new SqlPools();
let acc: Accident;
let temporal: FaultTemporal;
let workers: WorkerSupply;
let n = 0;

before(async () => {
  acc = await recordAccident({ afterBackup: 15_000 });
  await standInCluster(join(acc.base, 'k8s'), 'shop');
  temporal = await FaultTemporal.start(acc.base);
  workers = new WorkerSupply({
    PATH: process.env.PATH!,
    KUBECTL_STANDIN_STATE: process.env.KUBECTL_STANDIN_STATE!,
  });
});

after(async () => {
  printFaultTable(rows);
  await workers?.close();
  await sql.closeAll();
  await temporal?.stop();
  await acc?.cleanup();
});

interface Run {
  recoveryId: string;
  datadir: string;
}

/** Runs one recovery, injects `inject` when `when(progress)` holds, and records the outcome. */
async function survive(
  fault: string,
  step: string,
  when: (p: RunbookProgress, run: Run) => Promise<boolean>,
  inject: (worker: WorkerProcess, run: Run) => ReturnType<Inject>,
): Promise<FaultRow> {
  n++;
  const run = { recoveryId: `fault-${n}-${Date.now()}`, datadir: join(acc.base, `fault-${n}`, 'data') };
  const { result: r, faultInHistory } = await runWithFault<PerconaResult>({
    client: temporal.client,
    workflowType: 'perconaPointInTimeRecovery',
    workflowId: run.recoveryId,
    taskQueue: `faults-${n}`,
    nextTaskQueue: `faults-${n + 1}`,
    args: [perconaInput(acc, run.recoveryId, run.datadir, { heartbeatTimeout: '3s' })],
    workers,
    fault,
    step,
    when: (p) => when(p, run),
    inject: (worker) => inject(worker, run),
  });
  const journal = await Ledger.besideDatadir(run.datadir).readJournal(run.recoveryId);
  assert.deepEqual(r.replay?.forcedErrors, []);
  return {
    fault,
    step,
    outcome: 'completed',
    restores: journal.filter((l) => l.includes('copy-back finished')).length,
    checksumOk: JSON.stringify(r.tables) === JSON.stringify(acc.truth),
    faultInHistory,
  };
}

/** The replay is under way and has committed transactions past the backup. */
async function replaying(p: RunbookProgress, ctx: Run): Promise<boolean> {
  if (p.currentStep !== 'replay-binlogs') return false;
  const e = temporaryServerOf(ctx.recoveryId, ctx.datadir);
  const [row] = await sql.query(e, 'SELECT @@gtid_binlog_pos AS g').catch(() => [undefined]);
  const backupGtid = /GTID (\S+)\)/.exec(p.steps[0]?.evidence[0] ?? '')?.[1] ?? '';
  return !!row?.g && !mariadbPositionIncludes(backupGtid, String(row.g));
}

for (const s of PERCONA_PITR.steps) {
  test(`worker SIGKILLed as ${s.name} starts`, async () => {
    const row = await survive(
      'worker SIGKILL at step start',
      s.name,
      // Started, as seen by the poll: a short step may already be done when it is first seen, and
      // then the kill lands just after it — still at this step's boundary, never missed.
      async (p) => p.steps.find((x) => x.name === s.name)?.status !== 'pending',
      killWorker,
    );
    rows.push(row);
    assert.equal(row.checksumOk, true);
    assert.equal(row.restores, 1);
    assert.notEqual(row.faultInHistory, 'none');
  });
}

test('worker SIGKILLed in the middle of the replay', async () => {
  const row = await survive('worker SIGKILL mid-replay', 'replay-binlogs', replaying, killWorker);
  rows.push(row);
  assert.equal(row.checksumOk, true);
  assert.equal(row.restores, 1);
  assert.match(row.faultInHistory, /retry/);
});

test('the replayed-into mysqld SIGKILLed mid-replay', async () => {
  const row = await survive(
    'target mysqld SIGKILL mid-replay',
    'replay-binlogs',
    replaying,
    async (_worker, { recoveryId, datadir }) => {
      const pid = await livePid(join(runtimeDir({ recoveryId, datadir }), 'mysqld.pid'));
      assert.ok(pid);
      process.kill(pid, 'SIGKILL');
      return { respawn: false };
    },
  );
  rows.push(row);
  assert.equal(row.checksumOk, true);
  assert.equal(row.restores, 1);
  assert.match(row.faultInHistory, /retry/);
});

test("the replay's SQL connection cut mid-replay", async () => {
  const row = await survive(
    'SQL connection KILLed mid-replay',
    'replay-binlogs',
    replaying,
    async (_worker, { recoveryId, datadir }) => {
      const e = temporaryServerOf(recoveryId, datadir);
      const sessions = await sql.query(
        e,
        "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND command <> 'Daemon' AND user = 'root'",
      );
      for (const s of sessions) await sql.query(e, `KILL ${Number(s.id)}`).catch(() => {});
      return { respawn: false };
    },
  );
  rows.push(row);
  assert.equal(row.checksumOk, true);
  assert.equal(row.restores, 1);
  assert.match(row.faultInHistory, /retry/);
});

test('the Temporal server restarted mid-replay (persistent database)', async () => {
  const row = await survive('Temporal server restart mid-replay', 'replay-binlogs', replaying, async () => {
    await temporal.restart();
    return { respawn: false };
  });
  row.faultInHistory = row.faultInHistory === 'none' ? 'server restart (no event)' : row.faultInHistory;
  rows.push(row);
  assert.equal(row.checksumOk, true);
  assert.equal(row.restores, 1);
});
