// Where activities run: work that touches a host's files or processes goes to that host's task queue
// (`mysql-runbooks.host.<name>`); with no host named, it stays on the workflow's own queue.
import { proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';

export const TASK_QUEUE = 'mysql-runbooks';

export function hostQueue(host: string | undefined): string {
  return host ? `${TASK_QUEUE}.host.${host}` : workflowInfo().taskQueue;
}

const retry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' } as const;

/** Short activities (SQL checks): a worker that dies during one is noticed within 5 minutes. */
export function quick(host?: string): Activities {
  const opts: ActivityOptions = {
    taskQueue: hostQueue(host),
    startToCloseTimeout: '5m',
    retry: { ...retry, maximumAttempts: 5 },
  };
  return proxyActivities<Activities>(opts);
}

/** Long activities (copy-back, replay, server start/stop): they heartbeat, so a dead worker is noticed fast. */
export function long(host: string | undefined, heartbeatTimeout: string): Activities {
  const opts: ActivityOptions = {
    taskQueue: hostQueue(host),
    startToCloseTimeout: '48h',
    heartbeatTimeout: heartbeatTimeout as ActivityOptions['heartbeatTimeout'],
    retry: { ...retry, maximumAttempts: 20 },
  };
  return proxyActivities<Activities>(opts);
}
