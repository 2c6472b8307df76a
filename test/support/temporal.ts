// Test access to the run's shared Temporal dev server (started by scripts/run-tests.ts), and workers
// on a task queue of the test's own, so test files running side by side never take each other's tasks.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { createRunbookWorker } from '../../workers/runbook-worker';
import { RefusalLogger } from '../../workers/refusal-logger';
import type { ActivityDeps } from '../../activities';
import './fleet'; // this test process's own catalog directory, before any worker starts

let installed = false;
function quietRuntime(): void {
  if (installed) return;
  installed = true;
  // Refusals the tests provoke on purpose log one line at INFO (not shown); real trouble still prints.
  Runtime.install({ logger: new RefusalLogger(new DefaultLogger('WARN'), 'INFO') });
}

export function temporalAddress(): string {
  const a = process.env.TEMPORAL_ADDRESS;
  if (!a)
    throw new Error(
      'TEMPORAL_ADDRESS is not set: run the tests with `npm test` (it starts the Temporal dev server)',
    );
  return a;
}

export async function testClient(): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address: temporalAddress() });
  return { client: new Client({ connection }), close: () => connection.close() };
}

export function uniqueQueue(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface RunningWorker {
  worker: Worker;
  deps: ActivityDeps;
  taskQueue: string;
  stop(): Promise<void>;
}

export async function startWorker(taskQueue: string): Promise<RunningWorker> {
  quietRuntime();
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  const { worker, deps } = await createRunbookWorker({ connection, taskQueue });
  const running = worker.run();
  return {
    worker,
    deps,
    taskQueue,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await deps.sql.closeAll();
      await connection.close();
    },
  };
}
