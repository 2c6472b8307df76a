// Full perconaPointInTimeRecovery runs on a real Temporal dev server and real MariaDB servers, with the
// production worker in its own process (test/support/worker-process.ts):
//   - orchestration overhead: one run's wall time next to the time its external commands and waits
//     took (activities/runtime/command.ts records them with RUNBOOK_COMMAND_TIMINGS);
//   - concurrency: 20 recoveries at once on that one worker, its RSS sampled from /proc.
// Each recovery restores the recorded accident's backup into a server of its own (process adapter),
// replays to just before the DROP, verifies against the source's checksums, and starts that server.
import { Client, Connection } from '@temporalio/client';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { recordAccident, type Accident } from '../../test/support/percona-scenario';
import { spawnWorker, type WorkerProcess } from '../../test/support/worker-process';
import { catalogRequest } from '../../test/support/fleet';
import { MariadbServer } from './mariadb-server';
import { startDevServer } from './temporal-dev-server';
import { ms, printTable, seconds } from './text-table';
import { killProcessesUnder } from './cleanup';

const CONCURRENT = 20;
const TASK_QUEUE = 'bench-scale';
const OVERHEAD_GOAL_MS = 2_000;
const RSS_GOAL_KB = 300 * 1024;

/**
 * The worker's memory settings (README): V8's young generation at 1 MB per semi-space, its old
 * generation capped at 256 MB (else it grows lazily towards 4 GB before collecting; a 100,000-file
 * archive index takes ≈30 MB parsed), and two glibc malloc arenas instead of one per thread.
 * Measured peak RSS with 20 recoveries: 452 MB without them, 282–298 MB with them.
 */
export const WORKER_MEMORY_ENV = {
  MALLOC_ARENA_MAX: '2',
  NODE_OPTIONS: '--max-semi-space-size=1 --max-old-space-size=256',
};

interface Timing {
  program: string;
  start: number;
  end: number;
  ms: number;
}

interface Run {
  id: string;
  wallMs: number;
  start: number;
  end: number;
  result: PerconaResult | Error;
}

/** A server of its own to restore into: stopped, restored by the run, started by its unpause step. */
export async function restoreTarget(base: string, i: number): Promise<MariadbServer> {
  const server = new MariadbServer({
    baseDir: join(base, `target-${i}`),
    serverId: 100 + i,
    extraArgs: ['--skip-networking'], // socket only: twenty servers, no port to share
  });
  await mkdir(server.tmpdir, { recursive: true });
  return server;
}

export function recoveryInput(acc: Accident, server: MariadbServer, i: number, replay?: object) {
  return {
    ...(replay ? { replay } : {}),
    cluster: {
      adapter: 'process',
      name: `target-${i}`,
      pidFile: server.pidFile,
      start: server.argv,
      connection: { socket: server.socket, user: 'root' },
    },
    backup: { dir: acc.backupDir },
    restore: { datadir: server.datadir },
    archive: { kind: 'fs', dir: acc.source.archiveDir },
    target: { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
    verify: { schemas: ['shop'], expected: acc.truth },
  };
}

async function runRecovery(client: Client, input: unknown, id: string): Promise<Run> {
  // The fixed part of each recovery is a catalog entry of its own, as operators describe clusters: a
  // request that names servers itself is refused.
  const request = await catalogRequest('perconaPointInTimeRecovery', input);
  const start = Date.now();
  const result = await client.workflow
    .execute('perconaPointInTimeRecovery', { taskQueue: TASK_QUEUE, workflowId: id, args: [request] })
    .then(
      (r) => r as PerconaResult,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
  const end = Date.now();
  return { id, wallMs: end - start, start, end, result };
}

/** Restored tables equal the source's just before the accident (the verify step checked it too). */
function verified(run: Run, acc: Accident): boolean {
  return !(run.result instanceof Error) && isDeepStrictEqual(run.result.tables, acc.truth);
}

async function timingsWithin(file: string, from: number, to: number): Promise<Timing[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Timing)
    .filter((t) => t.start >= from && t.end <= to);
}

/** Wall time covered by at least one of the intervals (a pipe's two processes overlap). */
function covered(timings: Timing[]): number {
  let total = 0;
  let end = -Infinity;
  for (const t of [...timings].sort((a, b) => a.start - b.start)) {
    if (t.end <= end) continue;
    total += t.end - Math.max(t.start, end);
    end = t.end;
  }
  return total;
}

/** A label without the run's own paths (`wait for the temporary mysqld on /…/data …` → `… on … …`). */
const shortLabel = (program: string) => program.replace(/\/\S+/g, '…').slice(0, 70);

/** One recovery alone: its wall time, and the part of it spent in external commands and waits. */
async function measureOverhead(
  client: Client,
  acc: Accident,
  base: string,
  timingsFile: string,
  servers: MariadbServer[],
  i: number,
  replay?: object,
) {
  const server = await restoreTarget(base, i);
  servers.push(server);
  const run = await runRecovery(
    client,
    recoveryInput(acc, server, i, replay),
    `bench-overhead-${i}-${Date.now()}`,
  );
  const timings = await timingsWithin(timingsFile, run.start, run.end);
  const external = covered(timings);
  const inSteps = run.result instanceof Error ? 0 : run.result.steps.reduce((n, st) => n + stepMs(st), 0);
  return {
    run,
    timings,
    external,
    overhead: run.wallMs - external,
    outsideSteps: run.wallMs - inSteps,
    verified: verified(run, acc),
  };
}

async function benchOverhead(
  client: Client,
  acc: Accident,
  base: string,
  timingsFile: string,
  servers: MariadbServer[],
): Promise<boolean> {
  // A fresh worker's first run pays one-time costs (workflow code loaded into its V8 context, JIT,
  // first connections): run one first, then measure a worker in its steady state.
  const warmUp = await measureOverhead(client, acc, base, timingsFile, servers, CONCURRENT + 1, PIPE);
  const variants = [
    { label: 'replay.strategy "pipe"', replay: PIPE },
    { label: 'default replay strategy', replay: undefined },
  ];
  const results: Awaited<ReturnType<typeof measureOverhead>>[] = [];
  for (const [i, v] of variants.entries())
    results.push(
      await measureOverhead(client, acc, base, timingsFile, servers, CONCURRENT + 2 + i, v.replay),
    );
  const row = (label: string, cell: (r: (typeof results)[number]) => string) => [label, ...results.map(cell)];
  printTable(
    'Orchestration overhead: one full perconaPointInTimeRecovery alone, on a warmed-up worker',
    ['', ...variants.map((v) => v.label)],
    [
      row('run wall time (start → result)', (r) => ms(r.run.wallMs)),
      row('external commands and waits (time covered)', (r) => `${ms(r.external)} (${r.timings.length})`),
      row('  plain sum (a pipe counts both sides)', (r) => ms(r.timings.reduce((n, t) => n + t.ms, 0))),
      row(`overhead = difference (goal ≤ ${seconds(OVERHEAD_GOAL_MS)})`, (r) => ms(r.overhead)),
      row('  of which outside the steps (Temporal scheduling)', (r) => ms(r.outsideSteps)),
      row('verified (checksums equal the source before the DROP)', (r) =>
        r.run.result instanceof Error ? `FAILED: ${r.run.result.message}` : r.verified ? 'yes' : 'NO',
      ),
    ],
  );
  console.log(
    `(first run on the fresh worker: ${ms(warmUp.run.wallMs)}, overhead ${ms(warmUp.overhead)}; the applier waits for the replica SQL thread by polling over SQL, not a command, so its apply time counts as overhead here: the goal is judged on the pipe)`,
  );
  for (const [i, r] of results.entries()) {
    console.log(`\n${variants[i]!.label}: longest external commands and waits`);
    for (const t of [...r.timings].sort((a, b) => b.ms - a.ms).slice(0, 6))
      console.log(`  ${ms(t.ms).padStart(9)}  ${shortLabel(t.program)}`);
    if (!(r.run.result instanceof Error))
      console.log(`  steps: ${r.run.result.steps.map((s) => `${s.name} ${ms(stepMs(s))}`).join(', ')}`);
  }
  return results[0]!.overhead <= OVERHEAD_GOAL_MS && results.every((r) => r.verified);
}

const stepMs = (s: { startedAt?: string; endedAt?: string }) =>
  s.startedAt && s.endedAt ? Date.parse(s.endedAt) - Date.parse(s.startedAt) : 0;
const PIPE = { strategy: 'pipe' };

interface Memory {
  rssKb: number;
  hwmKb: number;
}
async function memoryOf(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}
const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;

async function benchConcurrency(
  client: Client,
  acc: Accident,
  base: string,
  worker: WorkerProcess,
  workerEnv: Record<string, string>,
  servers: MariadbServer[],
): Promise<boolean> {
  const targets = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => restoreTarget(base, i + 1)));
  servers.push(...targets);
  const before = await memoryOf(worker.pid);
  let peakRss = before.rssKb;
  const sampler = setInterval(() => {
    void memoryOf(worker.pid).then((m) => (peakRss = Math.max(peakRss, m.rssKb)));
  }, 200);
  const t0 = Date.now();
  const runs = await Promise.all(
    targets.map((s, i) =>
      runRecovery(client, recoveryInput(acc, s, i + 1), `bench-concurrent-${i + 1}-${t0}`),
    ),
  );
  const wall = Date.now() - t0;
  clearInterval(sampler);
  const after = await memoryOf(worker.pid);
  peakRss = Math.max(peakRss, after.rssKb);

  const ok = runs.filter((r) => verified(r, acc)).length;
  const walls = runs.map((r) => r.wallMs).sort((a, b) => a - b);
  printTable(
    `Concurrency: ${CONCURRENT} recoveries at once on one worker (its own process)`,
    ['', ''],
    [
      ['total wall time (all started → all finished)', seconds(wall)],
      [
        'one recovery: fastest / median / slowest',
        walls
          .map((w) => seconds(w))
          .filter((_, i) => [0, walls.length >> 1, walls.length - 1].includes(i))
          .join(' / '),
      ],
      ['verified against the ground truth (checksums)', `${ok} of ${CONCURRENT}`],
      [
        'worker settings',
        Object.entries(workerEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || 'node defaults',
      ],
      ['worker RSS before', mb(before.rssKb)],
      [`worker peak RSS during the runs (goal ≤ ${mb(RSS_GOAL_KB)})`, mb(peakRss)],
      ['worker VmHWM (lifetime peak, incl. start-up bundling)', mb(after.hwmKb)],
    ],
  );
  for (const r of runs) if (r.result instanceof Error) console.log(`  ${r.id} failed: ${r.result.message}`);
  return ok === CONCURRENT && peakRss <= RSS_GOAL_KB;
}

/** BENCH_WORKER_DEFAULTS=1 runs the worker without its memory settings, to compare. */
export async function benchRecoveries(
  base: string,
  workerEnv: Record<string, string> = process.env.BENCH_WORKER_DEFAULTS === '1' ? {} : WORKER_MEMORY_ENV,
): Promise<boolean> {
  const temporal = await startDevServer({ headless: true });
  process.env.TEMPORAL_ADDRESS = temporal.address; // where test/support/worker-process.ts connects the worker
  const servers: MariadbServer[] = [];
  let acc: Accident | undefined;
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;
  try {
    const t = Date.now();
    acc = await recordAccident();
    console.log(
      `\nrecoveries: accident recorded on a real MariaDB source in ${seconds(Date.now() - t)} (drop at ${acc.dropGtid})`,
    );
    const timingsFile = join(base, 'command-timings.jsonl');
    const catalog = join(base, 'catalog');
    await mkdir(catalog, { recursive: true, mode: 0o700 });
    process.env.RUNBOOK_CATALOG = catalog;
    worker = await spawnWorker(TASK_QUEUE, {
      ...workerEnv,
      RUNBOOK_COMMAND_TIMINGS: timingsFile,
      RUNBOOK_CATALOG: catalog,
    });
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });
    const overheadOk = await benchOverhead(client, acc, base, timingsFile, servers);
    const concurrencyOk = await benchConcurrency(client, acc, base, worker, workerEnv, servers);
    return overheadOk && concurrencyOk;
  } finally {
    await worker?.stop();
    await connection?.close();
    await Promise.all(servers.map((s) => s.stop().catch(() => {})));
    await killProcessesUnder(base);
    await acc?.cleanup();
    await temporal.stop();
  }
}
