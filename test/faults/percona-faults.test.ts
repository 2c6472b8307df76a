// Fault injection for perconaPointInTimeRecovery (`npm run test:faults`): the production worker is
// SIGKILLed at every step boundary and in the middle of the replay, the replayed-into mysqld is
// killed, the replay's SQL connection is cut, and the Temporal server itself (persistent SQLite) is
// restarted mid-run. Each run must finish with the source's data at the target, exactly one completed
// copy-back, no duplicate-key error, and the fault visible in its history. Prints the fault table.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { progressQuery, type RunbookProgress } from '../../workflows/kit';
import { PERCONA_STEPS, type PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { mariadbPositionIncludes } from '../../workflows/gtid';
import { Ledger } from '../../activities/ledger';
import { runtimeDir } from '../../activities/mysqld';
import { livePid } from '../../activities/processes';
import { SqlPools } from '../../activities/sql';
import { freePort } from '../../scripts/lib/ports';
import { startDevServer, type DevServer } from '../../scripts/lib/temporal-dev-server';
import {
  perconaInput,
  recordAccident,
  standInCluster,
  temporaryServerOf,
  useStandIns,
  type Accident,
} from '../support/percona-scenario';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';

useStandIns();
interface Row {
  fault: string;
  step: string;
  outcome: string;
  restores: number;
  checksumOk: boolean;
  faultInHistory: string;
}
const rows: Row[] = [];
const sql = new SqlPools();
let acc: Accident;
let temporal: DevServer;
let ports: { port: number; uiPort: number };
let client: Client;
let connection: Connection;
let n = 0;

async function startTemporal(): Promise<DevServer> {
  return startDevServer({ headless: true, dbFilename: join(acc.base, 'temporal.db'), ...ports });
}

before(async () => {
  acc = await recordAccident({ afterBackup: 15_000 });
  await standInCluster(join(acc.base, 'k8s'), 'shop');
  ports = { port: await freePort(), uiPort: await freePort() };
  temporal = await startTemporal();
  process.env.TEMPORAL_ADDRESS = temporal.address; // the workers this suite spawns use its own server
  connection = await Connection.connect({ address: temporal.address });
  client = new Client({ connection });
});

after(async () => {
  console.log(
    `\n${'fault'.padEnd(34)} ${'step'.padEnd(24)} ${'outcome'.padEnd(10)} restores  checksum  in history`,
  );
  for (const r of rows)
    console.log(
      `${r.fault.padEnd(34)} ${r.step.padEnd(24)} ${r.outcome.padEnd(10)} ${String(r.restores).padEnd(9)} ${(r.checksumOk ? 'ok' : 'WRONG').padEnd(9)} ${r.faultInHistory}`,
    );
  const survived = rows.filter((r) => r.outcome === 'completed' && r.checksumOk && r.restores === 1).length;
  console.log(`${survived}/${rows.length} survived\n`);
  await connection?.close();
  await sql.closeAll();
  await temporal?.stop();
  await acc?.cleanup();
});

type Inject = (ctx: {
  worker: WorkerProcess;
  recoveryId: string;
  datadir: string;
}) => Promise<{ respawn: boolean }>;

/** Runs one recovery, injects `inject` when `when(progress)` holds, and records the outcome. */
async function survive(
  fault: string,
  step: string,
  when: (p: RunbookProgress, ctx: { recoveryId: string; datadir: string }) => Promise<boolean>,
  inject: Inject,
): Promise<Row> {
  n++;
  const taskQueue = `faults-${n}`;
  const recoveryId = `fault-${n}-${Date.now()}`;
  const datadir = join(acc.base, `fault-${n}`, 'data');
  const env = { PATH: process.env.PATH!, KUBECTL_STANDIN_STATE: process.env.KUBECTL_STANDIN_STATE! };
  const workers = [await spawnWorker(taskQueue, env)];
  try {
    const handle = await client.workflow.start('perconaPointInTimeRecovery', {
      taskQueue,
      workflowId: recoveryId,
      args: [perconaInput(acc, recoveryId, datadir, { heartbeatTimeout: '3s' })],
    });
    let fired = false;
    for (let i = 0; i < 4000 && !fired; i++) {
      const p = await handle.query(progressQuery).catch(() => null);
      if (p && (await when(p, { recoveryId, datadir }))) {
        const { respawn } = await inject({ worker: workers[0]!, recoveryId, datadir });
        if (respawn) workers.push(await spawnWorker(taskQueue, env));
        fired = true;
      } else await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(fired, `${fault}: the run never reached ${step}`);
    let timer: NodeJS.Timeout | undefined;
    const r = (await Promise.race([
      handle.result(),
      new Promise(
        (_, reject) => (timer = setTimeout(() => reject(new Error('no result within 180 s')), 180_000)),
      ),
    ]).finally(() => clearTimeout(timer))) as PerconaResult;
    const journal = await Ledger.besideDatadir(datadir).readJournal(recoveryId);
    const events = (await handle.fetchHistory()).events ?? [];
    const attempts = Math.max(...events.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 1));
    const identities = new Set(
      events
        .map(
          (e) =>
            e.workflowTaskStartedEventAttributes?.identity ?? e.activityTaskStartedEventAttributes?.identity,
        )
        .filter(Boolean),
    );
    const timeouts = events.filter(
      (e) => e.workflowTaskTimedOutEventAttributes || e.activityTaskTimedOutEventAttributes,
    ).length;
    const row: Row = {
      fault,
      step,
      outcome: 'completed',
      restores: journal.filter((l) => l.includes('copy-back finished')).length,
      checksumOk: JSON.stringify(r.tables) === JSON.stringify(acc.truth),
      faultInHistory:
        [
          attempts > 1 ? `retry (attempt ${attempts})` : '',
          identities.size > 1 ? `${identities.size} workers` : '',
          timeouts ? `${timeouts} timeout(s)` : '',
        ]
          .filter(Boolean)
          .join(', ') || 'none',
    };
    assert.deepEqual(r.replay?.forcedErrors, []);
    return row;
  } finally {
    for (const w of workers) await w.kill();
  }
}

const killWorker: Inject = async ({ worker }) => {
  await worker.kill();
  return { respawn: true };
};

/** The replay is under way and has committed transactions past the backup. */
async function replaying(p: RunbookProgress, ctx: { recoveryId: string; datadir: string }): Promise<boolean> {
  if (p.currentStep !== 'replay-binlogs') return false;
  const e = temporaryServerOf(ctx.recoveryId, ctx.datadir);
  const [row] = await sql.query(e, 'SELECT @@gtid_binlog_pos AS g').catch(() => [undefined]);
  const backupGtid = /GTID (\S+)\)/.exec(p.steps[0]?.evidence[0] ?? '')?.[1] ?? '';
  return !!row?.g && !mariadbPositionIncludes(backupGtid, String(row.g));
}

for (const s of PERCONA_STEPS) {
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
    async ({ recoveryId, datadir }) => {
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
    async ({ recoveryId, datadir }) => {
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
    await temporal.stop();
    temporal = await startTemporal();
    return { respawn: false };
  });
  row.faultInHistory = row.faultInHistory === 'none' ? 'server restart (no event)' : row.faultInHistory;
  rows.push(row);
  assert.equal(row.checksumOk, true);
  assert.equal(row.restores, 1);
});
