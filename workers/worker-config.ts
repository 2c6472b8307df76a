// What the controller worker and the host agents serve, read from the environment and checked before
// anything connects (where Temporal is: workers/temporal-connection.ts). An incomplete configuration
// stops the process with a message that names the variable to fix, never a secret.
//
//   RUNBOOK_TASK_QUEUE                             the controller's queue (default mysql-runbooks)
//   RUNBOOK_ROLE                                   controller worker: `all` (default) or `controller`
//   RUNBOOK_HOST                                   host agent: the host name inputs use (required)
import { hostname } from 'node:os';
import { hostQueueName, TASK_QUEUE } from '../workflows/routing';
import { Slug } from '../workflows/schemas';
import { ConfigError, type Env } from './temporal-connection';

function taskQueueOf(env: Env): string {
  const q = env.RUNBOOK_TASK_QUEUE?.trim() || TASK_QUEUE;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/.test(q))
    throw new ConfigError(
      `RUNBOOK_TASK_QUEUE must be letters, digits, ".", "_" or "-" (got ${JSON.stringify(q)})`,
    );
  return q;
}

export type ControllerRole = 'all' | 'controller';

export interface ControllerSettings {
  taskQueue: string;
  /** `all`: one machine, every activity here. `controller`: workflows and SQL only; host work on agents. */
  role: ControllerRole;
}

export function controllerSettings(env: Env = process.env): ControllerSettings {
  const role = (env.RUNBOOK_ROLE?.trim() || 'all') as ControllerRole;
  if (role !== 'all' && role !== 'controller')
    throw new ConfigError(
      `RUNBOOK_ROLE must be "all" (one machine: this worker also runs host work for inputs that name no host) ` +
        `or "controller" (host work only on host agents); got ${JSON.stringify(role)}`,
    );
  return { taskQueue: taskQueueOf(env), role };
}

export interface AgentSettings {
  host: string;
  /** The controller's queue the workflows run on; the agent polls `<taskQueue>.host.<host>`. */
  taskQueue: string;
  hostQueue: string;
  identity: string;
}

export function hostAgentSettings(env: Env = process.env): AgentSettings {
  const host = env.RUNBOOK_HOST?.trim();
  if (!host)
    throw new ConfigError(
      'RUNBOOK_HOST is not set: a host agent serves one host, and RUNBOOK_HOST is the name inputs give that host ' +
        '(e.g. "cluster": { "host": "db1" } → RUNBOOK_HOST=db1)',
    );
  const ok = Slug.safeParse(host);
  if (!ok.success)
    throw new ConfigError(
      `RUNBOOK_HOST ${JSON.stringify(host)}: ${ok.error.issues[0]?.message ?? 'not a host name'}`,
    );
  const taskQueue = taskQueueOf(env);
  return {
    host,
    taskQueue,
    hostQueue: hostQueueName(taskQueue, host),
    identity: `host-agent:${host}:${process.pid}@${hostname()}`,
  };
}
