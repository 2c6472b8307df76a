// The controller worker: the workflows, and the SQL-only activities. Configuration comes from the
// environment (workers/worker-config.ts: Temporal's own variables read by @temporalio/envconfig —
// TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_CLIENT_CERT_PATH, … or a
// profile in temporal.toml — plus RUNBOOK_TASK_QUEUE and RUNBOOK_ROLE), and RUNBOOK_CODEC_KEY(S) to
// encrypt payloads (workers/codec.ts). With RUNBOOK_ROLE=all (default, one machine) it also runs the
// host work of inputs that name no host; with RUNBOOK_ROLE=controller host work runs only on the
// host agents (workers/host-agent.ts). Stops gracefully on SIGINT/SIGTERM.
import { Runtime } from '@temporalio/worker';
import { catalogDir, loadCatalog } from '../activities/trust/fleet-catalog';
import { dataConverterFromEnv } from './codec';
import { runMain, serveUntilStopped } from './serve';
import { workerLogger } from './refusal-logger';
import { createRunbookWorker } from './runbook-worker';
import { controllerSettings } from './worker-config';
import { connectWorker, loadTemporalTarget } from './temporal-connection';

async function main(): Promise<void> {
  // Everything is checked before connecting: an incomplete configuration stops here.
  const target = loadTemporalTarget();
  const { taskQueue, role } = controllerSettings();
  const dataConverter = dataConverterFromEnv(); // a malformed key stops the worker here, before it polls
  // A catalog with any invalid entry stops the worker here, naming each problem.
  const catalog = await loadCatalog();
  Runtime.install({ logger: workerLogger(), shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const connection = await connectWorker(target);
  const { worker, deps } = await createRunbookWorker({
    connection,
    namespace: target.namespace,
    taskQueue,
    dataConverter,
    role,
  });
  console.log(
    `runbook worker polling ${taskQueue} on ${target.describe}, pid ${process.pid}, ` +
      `fleet catalog ${catalogDir()} (${catalog.size} cluster(s))` +
      (role === 'controller' ? ', controller only (host work on host agents)' : '') +
      (dataConverter ? ', payloads encrypted' : ''),
  );
  await serveUntilStopped(worker, deps, connection);
}

runMain('worker', main);
