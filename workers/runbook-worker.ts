// Builds the runbook worker: the workflows bundle plus the activities, on one task queue. Shared by
// the production worker, the demo and the tests, so they all run the same code.
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { type DataConverter } from '@temporalio/common';
import { fileURLToPath } from 'node:url';
import {
  CONTROLLER_ACTIVITIES,
  createActivities,
  HOST_ACTIVITIES,
  pickActivities,
  SQL_ACTIVITIES,
  type ActivityDeps,
  type ActivityName,
} from '../activities';
import { SqlPools } from '../activities/mysql/sql';
import { bundleInChildProcess } from './workflow-bundle-child';
import { TASK_QUEUE } from '../workflows/routing';
import { guardedByCatalog } from '../activities/trust/catalog-guard';
import { approvalJournal } from '../activities/trust/approval-journal';
import { failure } from '../workflows/failures';
import { requireSearchAttributes } from './namespace-check';

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
    bundle = bundleInChildProcess(workflowsPath, failureConverterPath); // keeps webpack's memory out of the worker
    bundles.set(key, bundle);
  }
  return bundle;
}

export interface RunbookWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  deps?: ActivityDeps;
  identity?: string;
  /** E.g. `{ payloadCodecs: [codec] }` (workers/codec.ts) to keep payloads encrypted in history. */
  dataConverter?: DataConverter;
  /**
   * `all` (default: one machine): every activity, host work included for inputs that name no host.
   * `controller`: workflows and SQL-only activities; host work of an input that names no host fails
   * at once (it would otherwise touch the controller's own files).
   */
  role?: 'all' | 'controller';
}

export async function createRunbookWorker(
  o: RunbookWorkerOptions,
): Promise<{ worker: Worker; deps: ActivityDeps }> {
  const namespace = o.namespace ?? 'default';
  // A namespace without the search attributes would take every run and hang it: refuse to poll it.
  await requireSearchAttributes(o.connection.operatorService, namespace);
  const deps = o.deps ?? { sql: new SqlPools() };
  const worker = await Worker.create({
    connection: o.connection,
    namespace,
    taskQueue: o.taskQueue ?? TASK_QUEUE,
    workflowBundle: await workflowBundle(o.dataConverter?.failureConverterPath),
    // Each activity first checks what it would touch against this worker's fleet catalog.
    activities: guardedByCatalog(
      o.role === 'controller' ? controllerActivities(deps) : createActivities(deps),
      CONTROLLER_ACTIVITIES,
    ),
    ...(o.identity ? { identity: o.identity } : {}),
    ...(o.dataConverter ? { dataConverter: o.dataConverter } : {}),
    // Each host journals the approvals of the work it is given before it does it.
    interceptors: { activity: [approvalJournal] },
    shutdownGraceTime: '10s',
    // Heartbeats carry replay progress for `runbook status --watch`: send them every 2 s at most.
    maxHeartbeatThrottleInterval: '2s',
  });
  return { worker, deps };
}

/** SQL activities, and host activities that refuse: on a controller, host work must name its host. */
function controllerActivities(deps: ActivityDeps) {
  const refuse = (name: ActivityName) => async () => {
    throw failure(
      'HostNotNamed',
      `${name} works on a host's files or processes, and the input names no host for it: this controller ` +
        '(RUNBOOK_ROLE=controller) runs no host work. Name the host in the input (e.g. "restore": { "host": "db2" }) ' +
        "so that host's agent runs it",
    );
  };
  return {
    ...pickActivities(deps, [...CONTROLLER_ACTIVITIES, ...SQL_ACTIVITIES]),
    ...Object.fromEntries(HOST_ACTIVITIES.map((n) => [n, refuse(n)])),
  };
}
