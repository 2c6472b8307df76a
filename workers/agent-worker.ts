// Builds a host agent worker (workers/host-agent.ts is its entry point): no workflows, only the
// activities a workflow sends to one host's task queue.
import { Context } from '@temporalio/activity';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { HOST_ACTIVITIES, pickActivities, SQL_ACTIVITIES, type ActivityDeps } from '../activities';
import { SqlPools } from '../activities/mysql/sql';
import { hostWorkStartedSignal } from '../workflows/kit';
import { hostQueueName, TASK_QUEUE } from '../workflows/routing';
import { guardedByCatalog } from '../activities/trust/catalog-guard';
import { approvalJournal } from '../activities/trust/approval-journal';

export interface HostAgentWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  /** The controller's queue (the workflows'); the agent polls `<taskQueue>.host.<host>`. */
  taskQueue?: string;
  host: string;
  identity: string;
  deps?: ActivityDeps;
  dataConverter?: DataConverter;
}

/**
 * A host agent: no workflows, only the activities a workflow sends to this host — host work, and SQL
 * on servers reached by their unix socket here. Each activity first tells its workflow it started
 * here, so `progress` stops showing the step as waiting on this host.
 */
export async function createHostAgentWorker(
  o: HostAgentWorkerOptions,
): Promise<{ worker: Worker; deps: ActivityDeps; taskQueue: string }> {
  const deps = o.deps ?? { sql: new SqlPools() };
  const taskQueue = hostQueueName(o.taskQueue ?? TASK_QUEUE, o.host);
  // Each activity first checks what it would touch against this host's own fleet catalog.
  const served = guardedByCatalog(pickActivities(deps, [...HOST_ACTIVITIES, ...SQL_ACTIVITIES]), []);
  const activities = Object.fromEntries(
    Object.entries(served).map(([name, fn]) => [
      name,
      async (...args: never[]) => {
        await announceStart(o.host, o.identity);
        return fn!(...args);
      },
    ]),
  );
  const worker = await Worker.create({
    connection: o.connection,
    namespace: o.namespace ?? 'default',
    taskQueue,
    activities,
    identity: o.identity,
    ...(o.dataConverter ? { dataConverter: o.dataConverter } : {}),
    // Each host journals the approvals of the work it is given before it does it.
    interceptors: { activity: [approvalJournal] },
    shutdownGraceTime: '10s',
    maxHeartbeatThrottleInterval: '2s',
  });
  return { worker, deps, taskQueue };
}

/** Best effort: a workflow that cannot be signalled still gets the activity's result. */
async function announceStart(host: string, agent: string): Promise<void> {
  const ctx = Context.current();
  const { workflowExecution, activityType } = ctx.info;
  if (!workflowExecution) return;
  try {
    await ctx.client.workflow
      .getHandle(workflowExecution.workflowId, workflowExecution.runId)
      .signal(hostWorkStartedSignal, { host, activity: activityType, agent });
  } catch (err) {
    ctx.log.warn('could not tell the workflow this activity started', { error: (err as Error).message });
  }
}
