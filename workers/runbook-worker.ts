// Builds the runbook worker: the workflows bundle plus the activities, on one task queue. Shared by
// the production worker, the demo and the tests, so they all run the same code.
import {
  NativeConnection,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { fileURLToPath } from 'node:url';
import { createActivities, type ActivityDeps } from '../activities';
import { SqlPools } from '../activities/sql';
import { TASK_QUEUE } from '../workflows/routing';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();
/**
 * The workflow bundle, built once per process (≈2 s) and reused by every worker in it; one per
 * failure converter, since the bundle carries the converter workflows encode their failures with.
 */
export function workflowBundle(failureConverterPath?: string): Promise<WorkflowBundleWithSourceMap> {
  const key = failureConverterPath ?? '';
  let bundle = bundles.get(key);
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath,
      logger: quietLogger,
      ...(failureConverterPath ? { failureConverterPath } : {}),
    });
    bundles.set(key, bundle);
  }
  return bundle;
}

const quietLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn(message: string) {
    console.warn(message);
  },
  error(message: string) {
    console.error(message);
  },
};

export interface RunbookWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  deps?: ActivityDeps;
  identity?: string;
  /** E.g. `{ payloadCodecs: [codec] }` (workers/codec.ts) to keep payloads encrypted in history. */
  dataConverter?: DataConverter;
}

export async function createRunbookWorker(
  o: RunbookWorkerOptions,
): Promise<{ worker: Worker; deps: ActivityDeps }> {
  const deps = o.deps ?? { sql: new SqlPools() };
  const worker = await Worker.create({
    connection: o.connection,
    namespace: o.namespace ?? 'default',
    taskQueue: o.taskQueue ?? TASK_QUEUE,
    workflowBundle: await workflowBundle(o.dataConverter?.failureConverterPath),
    activities: createActivities(deps),
    ...(o.identity ? { identity: o.identity } : {}),
    ...(o.dataConverter ? { dataConverter: o.dataConverter } : {}),
    shutdownGraceTime: '10s',
    // Heartbeats carry replay progress for `runbook status --watch`: send them every 2 s at most.
    maxHeartbeatThrottleInterval: '2s',
  });
  return { worker, deps };
}
