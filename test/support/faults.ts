// Shared by the fault-injection suites (test/faults): a Temporal dev server of their own with a
// persistent database (so it can be restarted mid-run), one recovery run with one injected fault,
// what its history shows of the fault, and the table the suites print.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { progressQuery, type RunbookProgress } from '../../workflows/kit';
import { freePort } from '../../activities/mysql/ports';
import { startDevServer, type DevServer } from '../../scripts/lib/temporal-dev-server';
import { spawnWorker, type WorkerProcess } from './worker-process';
import { catalogRequest } from './fleet';

export interface FaultRow {
  fault: string;
  step: string;
  outcome: string;
  restores: number;
  checksumOk: boolean;
  faultInHistory: string;
}

/** A row survived: the run completed with the ground truth's checksums after exactly one base restore. */
export const survived = (r: FaultRow) => r.outcome === 'completed' && r.checksumOk && r.restores === 1;

export function printFaultTable(rows: FaultRow[]): void {
  console.log(
    `\n${'fault'.padEnd(34)} ${'step'.padEnd(26)} ${'outcome'.padEnd(10)} restores  checksum  in history`,
  );
  for (const r of rows)
    console.log(
      `${r.fault.padEnd(34)} ${r.step.padEnd(26)} ${r.outcome.padEnd(10)} ${String(r.restores).padEnd(9)} ${(r.checksumOk ? 'ok' : 'WRONG').padEnd(9)} ${r.faultInHistory}`,
    );
  console.log(`${rows.filter(survived).length}/${rows.length} survived\n`);
}

/** The suite's own Temporal dev server: SQLite on disk, same ports after a restart. */
export class FaultTemporal {
  private server: DevServer | null = null;
  private connection: Connection | null = null;
  client!: Client;

  private constructor(
    private readonly dbFilename: string,
    private readonly ports: { port: number; uiPort: number },
  ) {}

  static async start(baseDir: string): Promise<FaultTemporal> {
    const t = new FaultTemporal(join(baseDir, 'temporal.db'), {
      port: await freePort(),
      uiPort: await freePort(),
    });
    t.server = await t.boot();
    process.env.TEMPORAL_ADDRESS = t.server.address; // the workers a suite spawns use this server
    t.connection = await Connection.connect({ address: t.server.address });
    t.client = new Client({ connection: t.connection });
    return t;
  }

  private boot(): Promise<DevServer> {
    return startDevServer({ headless: true, dbFilename: this.dbFilename, ...this.ports });
  }

  /** Stops the server and starts it again on the same database and ports, after `outageMs`. */
  async restart(outageMs = 0): Promise<void> {
    await this.server?.stop();
    await new Promise((r) => setTimeout(r, outageMs));
    this.server = await this.boot();
  }

  async stop(): Promise<void> {
    await this.connection?.close();
    await this.server?.stop();
  }
}

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
export type HistoryEvents = NonNullable<History['events']>;

/** What the history shows of a fault: retried attempts, more than one worker, timeouts. */
export function faultInHistory(events: HistoryEvents): string {
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
  return (
    [
      attempts > 1 ? `retry (attempt ${attempts})` : '',
      identities.size > 1 ? `${identities.size} workers` : '',
      timeouts ? `${timeouts} timeout(s)` : '',
    ]
      .filter(Boolean)
      .join(', ') || 'none'
  );
}

/** Every failure message the history holds, including those of attempts that were retried. */
export function failureMessages(events: HistoryEvents): string[] {
  return events
    .flatMap((e) => [
      e.activityTaskStartedEventAttributes?.lastFailure,
      e.activityTaskFailedEventAttributes?.failure,
      e.workflowTaskFailedEventAttributes?.failure,
    ])
    .flatMap((f) => {
      const out: string[] = [];
      for (let c = f; c; c = c.cause) out.push(c.message ?? '');
      return out;
    })
    .filter(Boolean);
}

/**
 * Worker processes of one environment, spawned a test ahead: the next run's worker starts (a few
 * seconds of bundling) while the current run goes on. It polls a queue nothing uses yet.
 */
export class WorkerSupply {
  private readonly ahead = new Map<string, Promise<WorkerProcess>>();
  constructor(private readonly env: Record<string, string>) {}

  prepare(taskQueue: string): void {
    if (this.ahead.has(taskQueue)) return;
    const w = spawnWorker(taskQueue, this.env);
    // One spawned while the Temporal server is down (the restart fault) fails; take() replaces it.
    w.catch(() => {});
    this.ahead.set(taskQueue, w);
  }

  take(taskQueue: string): Promise<WorkerProcess> {
    const ahead = this.ahead.get(taskQueue);
    this.ahead.delete(taskQueue);
    return ahead ? ahead.catch(() => spawnWorker(taskQueue, this.env)) : spawnWorker(taskQueue, this.env);
  }

  async close(): Promise<void> {
    for (const w of this.ahead.values()) await (await w.catch(() => null))?.kill();
    this.ahead.clear();
  }
}

export type Inject = (worker: WorkerProcess) => Promise<{ respawn: boolean }>;

export const killWorker: Inject = async (worker) => {
  await worker.kill();
  return { respawn: true };
};

/**
 * Starts `workflowType` on a worker process of its own, injects the fault once `when(progress)` holds
 * (`respawn`: a new worker takes over, as a restarted host would), and waits for the result.
 */
export async function runWithFault<R>(o: {
  client: Client;
  workflowType: string;
  workflowId: string;
  taskQueue: string;
  /** The queue of the run after this one: its worker is spawned while this one runs. */
  nextTaskQueue?: string;
  args: unknown[];
  workers: WorkerSupply;
  fault: string;
  step: string;
  when: (p: RunbookProgress) => Promise<boolean>;
  inject: Inject;
  timeoutMs?: number;
}): Promise<{ result: R; events: HistoryEvents; faultInHistory: string }> {
  const workers = [await o.workers.take(o.taskQueue)];
  try {
    const handle = await o.client.workflow.start(o.workflowType, {
      taskQueue: o.taskQueue,
      workflowId: o.workflowId,
      args: [await catalogRequest(o.workflowType, o.args[0]), ...o.args.slice(1)],
    });
    if (o.nextTaskQueue) o.workers.prepare(o.nextTaskQueue);
    let fired = false;
    const giveUp = Date.now() + 120_000;
    while (!fired && Date.now() < giveUp) {
      const p = await handle.query(progressQuery).catch(() => null);
      if (p && (await o.when(p))) {
        const { respawn } = await o.inject(workers[0]!);
        if (respawn) workers.push(await o.workers.take(o.taskQueue));
        fired = true;
      } else await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(fired, `${o.fault}: the run never reached ${o.step}`);
    const timeoutMs = o.timeoutMs ?? 180_000;
    let timer: NodeJS.Timeout | undefined;
    const result = (await Promise.race([
      handle.result(),
      new Promise(
        (_, reject) =>
          (timer = setTimeout(
            () =>
              void pendingWork(handle).then((pending) =>
                reject(new Error(`no result within ${timeoutMs / 1000} s; ${pending}`)),
              ),
            timeoutMs,
          )),
      ),
    ]).finally(() => clearTimeout(timer))) as R;
    const events = (await handle.fetchHistory()).events ?? [];
    return { result, events, faultInHistory: faultInHistory(events) };
  } finally {
    for (const w of workers) await w.kill();
  }
}

/** What a stuck run is waiting on (pending activities with their attempt and last failure), for the error. */
async function pendingWork(handle: { describe(): Promise<{ raw: unknown }> }): Promise<string> {
  try {
    const { raw } = await handle.describe();
    const pending = (raw as { pendingActivities?: Record<string, unknown>[] }).pendingActivities ?? [];
    if (!pending.length) return 'no pending activity';
    return pending
      .map((a) => {
        const type = (a.activityType as { name?: string } | undefined)?.name;
        const failure = (a.lastFailure as { message?: string } | undefined)?.message;
        return `pending ${type} state ${String(a.state)} attempt ${String(a.attempt)}${failure ? ` last failure: ${failure}` : ''}`;
      })
      .join('; ');
  } catch (err) {
    return `describe failed: ${(err as Error).message}`;
  }
}
