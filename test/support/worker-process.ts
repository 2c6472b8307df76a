// The production worker (workers/worker.ts) as a separate process, so a test can SIGKILL it like a
// crashed host: its whole process group dies (the worker and the commands it runs), while servers it
// started detached (the temporary mysqld) live on, as they would after a worker crash.
import { execa, type ResultPromise } from 'execa';
import { join } from 'node:path';
import { projectRoot } from '../../scripts/lib/tools';
import { temporalAddress } from './temporal';
import './fleet'; // this test process's own catalog directory, before any worker starts

export interface WorkerProcess {
  pid: number;
  output(): string;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** Process groups still running when the test process exits are killed (one listener for all). */
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pid of liveGroups)
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
});

export async function spawnWorker(
  taskQueue: string,
  env: Record<string, string> = {},
): Promise<WorkerProcess> {
  return spawnEntry(['workers/worker.ts'], 'runbook worker polling', {
    ...env,
    TEMPORAL_ADDRESS: temporalAddress(),
    RUNBOOK_TASK_QUEUE: taskQueue,
  });
}

/**
 * A host agent (workers/host-agent.ts) for `host`, serving `<taskQueue>.host.<host>`. `wrap` runs it
 * through another program first (e.g. `ip netns exec <ns>`); `env` may point it at another address.
 */
export async function spawnHostAgent(
  taskQueue: string,
  host: string,
  o: { env?: Record<string, string>; wrap?: string[] } = {},
): Promise<WorkerProcess> {
  return spawnEntry(
    ['workers/host-agent.ts'],
    `host agent ${host} polling`,
    {
      TEMPORAL_ADDRESS: temporalAddress(),
      RUNBOOK_TASK_QUEUE: taskQueue,
      RUNBOOK_HOST: host,
      ...o.env,
    },
    o.wrap,
  );
}

async function spawnEntry(
  entry: string[],
  readyText: string,
  env: Record<string, string>,
  wrap: string[] = [],
): Promise<WorkerProcess> {
  let out = '';
  const argv = [...wrap, process.execPath, '--import', 'tsx', ...entry.map((e) => join(projectRoot, e))];
  const proc: ResultPromise = execa(argv[0]!, argv.slice(1), {
    cwd: projectRoot,
    env,
    detached: true,
    reject: false,
    all: true,
    buffer: false,
  });
  proc.all?.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 60_000;
  while (!out.includes(readyText)) {
    if (proc.exitCode !== null || Date.now() > deadline)
      throw new Error(`${entry.join(' ')} did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = proc.pid!;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      /* already gone */
    }
  };
  liveGroups.add(pid);
  void proc.finally(() => liveGroups.delete(pid)).catch(() => {});
  return {
    pid,
    output: () => out,
    async kill() {
      killGroup('SIGKILL');
      await proc.catch(() => {});
    },
    async stop() {
      killGroup('SIGTERM');
      await proc.catch(() => {});
    },
  };
}
