// The host agent: one per database host. It runs no workflows, only the work the runbooks send to
// this host's task queue (`<RUNBOOK_TASK_QUEUE>.host.<RUNBOOK_HOST>`, e.g. mysql-runbooks.host.db1):
// copy-back into a datadir, temporary mysqld, binlog replay, pausing a process cluster, ndbd --initial,
// trepctl/thl/dsctl, vtctlclient — and SQL on servers reached by their unix socket here.
// The Temporal connection and the payload codec are configured exactly as for the controller
// (workers/worker-config.ts, workers/codec.ts); RUNBOOK_HOST is required. Stops on SIGINT/SIGTERM.
import { Runtime } from '@temporalio/worker';
import { catalogDir, loadCatalog } from '../activities/trust/fleet-catalog';
import { dataConverterFromEnv } from './codec';
import { runMain, serveUntilStopped } from './serve';
import { workerLogger } from './refusal-logger';
import { createHostAgentWorker } from './agent-worker';
import { hostAgentSettings } from './worker-config';
import { connectWorker, loadTemporalTarget } from './temporal-connection';

async function main(): Promise<void> {
  const target = loadTemporalTarget();
  const agent = hostAgentSettings();
  const dataConverter = dataConverterFromEnv();
  // A catalog with any invalid entry stops the worker here, naming each problem.
  const catalog = await loadCatalog();
  Runtime.install({ logger: workerLogger(), shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const connection = await connectWorker(target);
  const { worker, deps, taskQueue } = await createHostAgentWorker({
    connection,
    namespace: target.namespace,
    taskQueue: agent.taskQueue,
    host: agent.host,
    identity: agent.identity,
    dataConverter,
  });
  console.log(
    `host agent ${agent.host} polling ${taskQueue} on ${target.describe} as ${agent.identity}, ` +
      `fleet catalog ${catalogDir()} (${catalog.size} cluster(s))` +
      (dataConverter ? ', payloads encrypted' : ''),
  );
  await serveUntilStopped(worker, deps, connection);
}

runMain('host agent', main);
