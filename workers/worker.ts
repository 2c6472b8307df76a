// The production worker. Configuration comes from the environment (Temporal's own variables, read
// by @temporalio/envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
// TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH, …,
// or a profile in temporal.toml) plus RUNBOOK_TASK_QUEUE, and RUNBOOK_CODEC_KEY(S) to encrypt payloads
// (workers/codec.ts). Stops gracefully on SIGINT/SIGTERM.
import { NativeConnection, Runtime } from '@temporalio/worker';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { dataConverterFromEnv } from './codec';
import { createRunbookWorker } from './runbook-worker';
import { TASK_QUEUE } from '../workflows/routing';

async function main(): Promise<void> {
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const config = loadClientConnectConfig();
  const address = config.connectionOptions.address ?? 'localhost:7233';
  const namespace = config.namespace ?? 'default';
  const taskQueue = process.env.RUNBOOK_TASK_QUEUE ?? TASK_QUEUE;
  const dataConverter = dataConverterFromEnv(); // a malformed key stops the worker here, before it polls
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ ...config.connectionOptions, address });
  } catch (err) {
    throw new Error(
      `cannot reach Temporal at ${address} (namespace ${namespace}): ${(err as Error).message}`,
    );
  }
  const { worker, deps } = await createRunbookWorker({ connection, namespace, taskQueue, dataConverter });
  console.log(
    `runbook worker polling ${taskQueue} on ${address} (namespace ${namespace}), pid ${process.pid}` +
      (dataConverter ? ', payloads encrypted' : ''),
  );
  try {
    await worker.run();
  } finally {
    await deps.sql.closeAll();
    await connection.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
