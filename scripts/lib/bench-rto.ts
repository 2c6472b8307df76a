// The RTO estimate against the actual (issue 17): full perconaPointInTimeRecovery runs on a real
// Temporal dev server and real MariaDB servers, the production worker in its own process with a
// state directory of its own (so the host starts with no rates; a warm-up run of each strategy first,
// its rates removed, pays the worker's one-time costs). For each workload and strategy the
// same recovery runs ROUNDS times: the first run on a host with no rates is estimated from the
// defaults and seeds the rates; every later round is estimated from the rates the earlier runs
// recorded (the median of the last five). The error is (estimate − actual) ÷ actual, over the steps
// that ran (approval waits excluded); the goal is ±25 % on the rounds after the seed.
//
// Workloads: the recorded accident (1,500 transactions after the backup; the backup ≈17 MiB), and a
// larger window (8,000 after it) whose first round is estimated from the small window's rates.
// `npm run bench:rto` (BENCH_RTO_ROUNDS, default 3; BENCH_RTO_STRATEGIES, default applier,pipe); scripts/bench.ts runs it after the scale benches.
import { Client, Connection } from '@temporalio/client';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { recordAccident, type Accident } from '../../test/support/percona-scenario';
import { spawnWorker, type WorkerProcess } from '../../test/support/worker-process';
import { catalogRequest } from '../../test/support/fleet';
import type { MariadbServer } from './mariadb-server';
import { startDevServer } from './temporal-dev-server';
import { printTable } from './text-table';
import { killProcessesUnder } from './cleanup';
import { recoveryInput, restoreTarget, WORKER_MEMORY_ENV } from './bench-recoveries';

const TASK_QUEUE = 'bench-rto';
const ROUNDS = Number(process.env.BENCH_RTO_ROUNDS ?? 3);
const GOAL_PERCENT = 25;

interface Row {
  workload: string;
  strategy: string;
  round: number;
  /** How the round was estimated: defaults (seed), another workload's rates, or this one's. */
  from: string;
  estimated: number;
  actual: number;
  errorPercent: number;
  worst: string;
  counts: boolean;
}

const WORKLOADS = [
  { name: 'accident', afterBackup: 1500 },
  { name: 'larger window', afterBackup: 8000 },
] as const;
/** BENCH_RTO_STRATEGIES=pipe (comma-separated) measures only those. */
const STRATEGIES = (process.env.BENCH_RTO_STRATEGIES ?? 'applier,pipe').split(',');

/** The step whose estimate missed by the most seconds, e.g. `replay-binlogs 2.1 s vs 3.0 s`. */
function worstStep(r: PerconaResult): string {
  const steps = r.rto?.actual?.steps ?? [];
  const worst = [...steps]
    .filter((s) => s.estimatedSeconds !== null)
    .sort(
      (a, b) =>
        Math.abs(b.actualSeconds - b.estimatedSeconds!) - Math.abs(a.actualSeconds - a.estimatedSeconds!),
    )[0];
  return worst ? `${worst.step} ${worst.estimatedSeconds} s vs ${worst.actualSeconds} s` : '';
}

/** A failure and its causes, innermost last. */
function causes(err: unknown): string {
  const out: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) out.push(e.message);
  return out.join(' ← ') || String(err);
}

export async function benchRto(base: string): Promise<boolean> {
  const temporal = await startDevServer({ headless: true });
  process.env.TEMPORAL_ADDRESS = temporal.address;
  const servers: MariadbServer[] = [];
  const accidents: Accident[] = [];
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;
  const rows: Row[] = [];
  let failed = false;
  try {
    const stateDir = join(base, 'rto-state');
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    // Each recovery's fixed part is a catalog entry of its own (as operators describe clusters).
    const catalog = join(base, 'catalog');
    await mkdir(catalog, { recursive: true, mode: 0o700 });
    process.env.RUNBOOK_CATALOG = catalog;
    worker = await spawnWorker(TASK_QUEUE, {
      ...WORKER_MEMORY_ENV,
      RUNBOOK_STATE_DIR: stateDir,
      RUNBOOK_CATALOG: catalog,
    });
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });
    let i = 300;
    const seeded = new Set<string>();
    for (const [wi, w] of WORKLOADS.entries()) {
      const acc = await recordAccident({ afterBackup: w.afterBackup });
      accidents.push(acc);
      // A fresh worker's first runs pay one-time costs (workflow code loaded and compiled, the
      // applier's template datadir made once per host): one run of each strategy first, then the
      // rates are removed, so the seed round measures the host as it runs every day.
      if (wi === 0) {
        for (const strategy of STRATEGIES) {
          const server = await restoreTarget(base, i);
          servers.push(server);
          const input = await catalogRequest(
            'perconaPointInTimeRecovery',
            recoveryInput(acc, server, i++, { strategy }),
          );
          const id = `bench-rto-warm-up-${strategy}-${Date.now()}`;
          const wall = Date.now();
          await client.workflow.execute('perconaPointInTimeRecovery', {
            taskQueue: TASK_QUEUE,
            workflowId: id,
            args: [input],
          });
          console.log(
            `  warm-up ${strategy}: ${((Date.now() - wall) / 1000).toFixed(1)} s wall (not counted)`,
          );
        }
        await rm(join(stateDir, 'rates.json'), { force: true });
      }
      for (const strategy of STRATEGIES)
        for (let round = 1; round <= ROUNDS; round++) {
          const server = await restoreTarget(base, i);
          servers.push(server);
          const input = await catalogRequest(
            'perconaPointInTimeRecovery',
            recoveryInput(acc, server, i++, { strategy }),
          );
          const id = `bench-rto-${w.name.replace(/\W/g, '-')}-${strategy}-${round}-${Date.now()}`;
          const r = (await client.workflow
            .execute('perconaPointInTimeRecovery', { taskQueue: TASK_QUEUE, workflowId: id, args: [input] })
            .catch((err: unknown) => {
              failed = true;
              console.log(`  ${id} failed: ${causes(err)}`);
              return null;
            })) as PerconaResult | null;
          const a = r?.rto?.actual;
          if (!r || !a) continue;
          const defaults = r.rto?.estimate.defaults.length ?? 0;
          const from = defaults
            ? `${defaults} default rate(s)`
            : round > 1
              ? 'this workload'
              : seeded.has(strategy)
                ? 'the other workload'
                : 'earlier rounds';
          seeded.add(strategy);
          rows.push({
            workload: w.name,
            strategy,
            round,
            from,
            estimated: a.estimatedSeconds,
            actual: a.actualSeconds,
            errorPercent: a.errorPercent,
            worst: worstStep(r),
            counts: round > 1,
          });
          console.log(
            `  ${w.name} / ${strategy} round ${round}: estimate ${a.estimatedSeconds} s, actual ${a.actualSeconds} s (${a.errorPercent} %), from ${from}`,
          );
        }
    }
  } finally {
    await worker?.stop();
    await connection?.close();
    await Promise.all(servers.map((s) => s.stop().catch(() => {})));
    await killProcessesUnder(base);
    for (const acc of accidents) await acc.cleanup();
    await temporal.stop();
  }
  printTable(
    'RTO estimate vs actual: full perconaPointInTimeRecovery runs, the same recovery repeated (sum of the steps that ran)',
    ['workload', 'strategy', 'round', 'estimated from', 'estimate', 'actual', 'error', 'step missed most'],
    rows.map((r) => [
      r.workload,
      r.strategy,
      String(r.round),
      r.from,
      `${r.estimated} s`,
      `${r.actual} s`,
      `${r.errorPercent > 0 ? '+' : ''}${r.errorPercent} %`,
      r.worst,
    ]),
  );
  // The noise floor: how much the same recovery's own time varied across its rounds.
  for (const w of WORKLOADS)
    for (const strategy of STRATEGIES) {
      const xs = rows.filter((r) => r.workload === w.name && r.strategy === strategy).map((r) => r.actual);
      if (xs.length < 2) continue;
      const mid = [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const spread = Math.max(...xs.map((x) => Math.abs(x - mid) / mid)) * 100;
      console.log(
        `${w.name} / ${strategy}: the same recovery took ${Math.min(...xs)}–${Math.max(...xs)} s (up to ±${Math.round(spread)} % around its median ${mid} s)`,
      );
    }
  const counted = rows.filter((r) => r.counts);
  const misses = counted.filter((r) => Math.abs(r.errorPercent) > GOAL_PERCENT);
  const worst = Math.max(0, ...counted.map((r) => Math.abs(r.errorPercent)));
  console.log(
    `\ngoal: within ±${GOAL_PERCENT} % after the seed round: ${counted.length - misses.length} of ${counted.length} rounds (worst ${worst} %)` +
      (misses.length
        ? `; missed: ${misses.map((m) => `${m.workload}/${m.strategy} round ${m.round}`).join(', ')}`
        : ''),
  );
  return !failed && misses.length === 0;
}
