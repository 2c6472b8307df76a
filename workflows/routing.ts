// Where activities run: work that touches a host's files or processes goes to that host's task queue
// (`<workflow queue>.host.<name>`, e.g. `mysql-runbooks.host.db1`), served only by that host's agent
// (workers/host-agent.ts); with no host named, it stays on the workflow's own queue (one machine).
// Which activity is host work is decided in activities/index.ts (ACTIVITY_PLACEMENT).
//
// A call to a named host waits until that host's agent takes it, at most the input's `hostTimeout`
// (Temporal's schedule-to-start timeout): meanwhile `progress` shows the step waiting on the host;
// then the step fails naming the host. It never runs anywhere else.
import { proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { ACTIVITY_PLACEMENT, Activities, ActivityName, Placement } from '../activities';
import { onHost } from './kit';

export const TASK_QUEUE = 'mysql-runbooks';

/** The queue a host agent polls: the controller's queue (the workflow's) plus `.host.<name>`. */
export function hostQueueName(workflowQueue: string, host: string): string {
  return `${workflowQueue}.host.${host}`;
}

export function hostQueue(host: string | undefined): string {
  return host ? hostQueueName(workflowInfo().taskQueue, host) : workflowInfo().taskQueue;
}

/**
 * The host a SQL-only activity must run on: a server reached by its unix socket only from its own
 * host; one reached over TCP from the controller.
 */
export function sqlRunsOn(host: string | undefined, endpoint: { socket?: string }): string | undefined {
  return endpoint.socket ? host : undefined;
}

/** The activities of one placement (activities/index.ts: ACTIVITY_PLACEMENT), as a typed handle. */
type Placed<P extends Placement> = {
  [K in ActivityName as (typeof ACTIVITY_PLACEMENT)[K] extends P ? K : never]: Activities[K];
};
/** SQL and controller work: no host's files or processes, so no host to name. */
export type SqlActivities = Placed<'sql' | 'controller'>;
/** Work on one host's files or processes (and SQL there): reached only by naming the host. */
export type HostActivities = Placed<'host' | 'sql'>;

const retry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' } as const;

const quickOptions: ActivityOptions = { startToCloseTimeout: '5m', retry: { ...retry, maximumAttempts: 5 } };

/**
 * Short SQL activities (checks): a worker that dies during one is noticed within 5 minutes. `host` is
 * where a server reached by its unix socket lives (sqlRunsOn); host work is not on this handle.
 */
export function quick(host?: string): SqlActivities {
  return on(host, quickOptions);
}

/** Short work on a host's files or processes: the host must be named (undefined: one machine). */
export function quickOn(host: string | undefined): HostActivities {
  return on(host, quickOptions);
}

/** Long activities (copy-back, replay, server start/stop): they heartbeat, so a dead worker is noticed fast. */
export function long(host: string | undefined, heartbeatTimeout: string): HostActivities {
  return on(host, {
    startToCloseTimeout: '48h',
    heartbeatTimeout: heartbeatTimeout as ActivityOptions['heartbeatTimeout'],
    retry: { ...retry, maximumAttempts: 20 },
  });
}

function on(host: string | undefined, opts: ActivityOptions): Activities {
  if (!host) return proxyActivities<Activities>({ ...opts, taskQueue: workflowInfo().taskQueue });
  const queue = hostQueue(host);
  return new Proxy({} as Activities, {
    get:
      (_target, activity: string) =>
      (...args: unknown[]) =>
        onHost({ host, queue, activity }, (scheduleToStartTimeout) => {
          const proxy = proxyActivities<Record<string, (...a: unknown[]) => Promise<unknown>>>({
            ...opts,
            taskQueue: queue,
            scheduleToStartTimeout: scheduleToStartTimeout as ActivityOptions['scheduleToStartTimeout'],
          });
          return proxy[activity]!(...args);
        }),
  });
}
