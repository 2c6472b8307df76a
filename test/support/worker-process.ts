// The production worker (workers/worker.ts) as a separate process, so a test can SIGKILL it like a
// crashed host: its whole process group dies (the worker and the commands it runs), while servers it
// started detached (the temporary mysqld) live on, as they would after a worker crash.
import { execa, type ResultPromise } from 'execa';
import { join } from 'node:path';
import { projectRoot } from '../../scripts/lib/tools';
import { temporalAddress } from './temporal';

export interface WorkerProcess {
  pid: number;
  output(): string;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function spawnWorker(
  taskQueue: string,
  env: Record<string, string> = {},
): Promise<WorkerProcess> {
  let out = '';
  const proc: ResultPromise = execa(
    process.execPath,
    ['--import', 'tsx', join(projectRoot, 'workers/worker.ts')],
    {
      cwd: projectRoot,
      env: { ...env, TEMPORAL_ADDRESS: temporalAddress(), RUNBOOK_TASK_QUEUE: taskQueue },
      detached: true,
      reject: false,
      all: true,
      buffer: false,
    },
  );
  proc.all?.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 60_000;
  while (!out.includes('runbook worker polling')) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`worker did not start:\n${out}`);
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
  process.once('exit', () => killGroup('SIGKILL'));
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
