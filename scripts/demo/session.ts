// What every demo shares: its own directory under .run/demo/<name>, the real Temporal dev server (with
// Web UI), the production runbook worker on it, a client, a fleet catalog the demo writes its world
// into, timestamped output, the before/after table, and a teardown that stops whatever the demo started.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ActivityDeps } from '../../activities';
import type { TableFingerprint } from '../../workflows/schemas';
import { createRunbookWorker } from '../../workers/runbook-worker';
import { killProcessesUnder } from '../lib/cleanup';
import { startDevServer, type DevServer } from '../lib/temporal-dev-server';
import { projectRoot } from '../lib/tools';

export const DEMO_TASK_QUEUE = 'mysql-runbooks';

export interface DemoSession {
  /** This demo's own directory (emptied at start): servers, backups, archives, catalog, state. */
  base: string;
  temporal: DevServer;
  client: Client;
  taskQueue: string;
  say(msg: string): void;
  /** Writes the cluster's fleet-catalog entry (the worker reads it when an activity runs). */
  catalogEntry(cluster: string, entry: object): Promise<void>;
  /** The Web UI page of a run. */
  runUrl(workflowId: string): string;
}

interface Running {
  session: DemoSession;
  worker: Worker;
  running: Promise<void>;
  deps: ActivityDeps;
  connections: { native: NativeConnection; client: Connection };
}

const t0 = Date.now();
export const say = (msg: string): void =>
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);

/** Starts Temporal (once per process) and prepares the demo's directory and catalog. */
export async function openSession(name: string, temporal?: DevServer): Promise<Running> {
  const base = join(projectRoot, '.run', 'demo', name);
  await killProcessesUnder(base); // a demo interrupted earlier may have left servers running here
  await rm(base, { recursive: true, force: true });
  await mkdir(base, { recursive: true });
  // What the worker creates on this host (sockets, staging) stays in the demo's own state directory.
  process.env.RUNBOOK_STATE_DIR = join(base, 'state');
  const catalog = join(base, 'catalog');
  await mkdir(catalog, { recursive: true, mode: 0o700 });
  process.env.RUNBOOK_CATALOG = catalog;

  const server = temporal ?? (await startDevServer({ dbFilename: join(base, 'temporal.db') }));
  const native = await NativeConnection.connect({ address: server.address });
  const { worker, deps } = await createRunbookWorker({ connection: native, taskQueue: DEMO_TASK_QUEUE });
  const running = worker.run();
  const clientConnection = await Connection.connect({ address: server.address });
  const session: DemoSession = {
    base,
    temporal: server,
    client: new Client({ connection: clientConnection }),
    taskQueue: DEMO_TASK_QUEUE,
    say,
    async catalogEntry(cluster, entry) {
      await writeFile(join(catalog, `${cluster}.json`), JSON.stringify(entry, null, 2), { mode: 0o600 });
    },
    runUrl: (id) => `${server.uiUrl}/namespaces/${server.namespace}/workflows/${encodeURIComponent(id)}`,
  };
  return { session, worker, running, deps, connections: { native, client: clientConnection } };
}

/** Stops the worker and everything the demo started under its directory (not the Temporal server). */
export async function closeSession(r: Running): Promise<void> {
  r.worker.shutdown();
  await r.running.catch(() => {});
  await r.deps.sql.closeAll();
  await r.connections.client.close();
  await r.connections.native.close();
  await killProcessesUnder(r.session.base); // servers the demo or a run started, left running or not
}

/**
 * Prints the before/after table: each table's fingerprint just before the accident (or wherever the
 * truth was read: `truthLabel`) next to each recovered copy's. Returns true only when every cell matches.
 */
export function printComparison(
  truth: Record<string, TableFingerprint>,
  recovered: { label: string; tables: Record<string, TableFingerprint> }[],
  truthLabel = 'just before accident',
): boolean {
  let ok = true;
  const fmt = (f?: TableFingerprint) => (f ? `${f.rows} rows / ${f.checksum}` : 'missing').padEnd(24);
  console.log(
    `\n${'table'.padEnd(20)} ${truthLabel.padEnd(24)} ${recovered.map((r) => `recovered ${r.label}`.padEnd(24)).join(' ')} match`,
  );
  for (const [table, want] of Object.entries(truth)) {
    const cells = recovered.map((r) => r.tables[table]);
    const match = cells.every((c) => c?.rows === want.rows && c?.checksum === want.checksum);
    ok &&= match;
    console.log(`${table.padEnd(20)} ${fmt(want)} ${cells.map(fmt).join(' ')} ${match ? 'yes' : 'NO'}`);
  }
  for (const r of recovered)
    for (const table of Object.keys(r.tables))
      if (!(table in truth)) {
        ok = false;
        console.log(`${table.padEnd(20)} ${'absent before'.padEnd(24)} present in recovered ${r.label}   NO`);
      }
  console.log(
    ok
      ? `\nAll checksums match the data ${truthLabel === 'just before accident' ? 'just before the accident' : truthLabel}.`
      : '\nMISMATCH: the recovery did not reproduce the data.',
  );
  return ok;
}
