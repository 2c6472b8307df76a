// A second host in a demo: the production host agent (workers/host-agent.ts) as a process of its own,
// serving `<queue>.host.<name>`, with the environment that host's tools see. Its working directory is
// the demo's, so the session's teardown stops it even if the demo does not.
import { execa, type ResultPromise } from 'execa';
import { join } from 'node:path';
import { projectRoot } from '../lib/tools';
import type { DemoSession } from './session';

export interface HostAgent {
  pid: number;
  stop(): Promise<void>;
}

export async function startHostAgent(
  s: DemoSession,
  host: string,
  env: Record<string, string> = {},
): Promise<HostAgent> {
  let out = '';
  const proc: ResultPromise = execa(
    process.execPath,
    ['--import', 'tsx', join(projectRoot, 'workers', 'host-agent.ts')],
    {
      cwd: s.base,
      env: {
        TEMPORAL_ADDRESS: s.temporal.address,
        TEMPORAL_NAMESPACE: s.temporal.namespace,
        RUNBOOK_TASK_QUEUE: s.taskQueue,
        RUNBOOK_HOST: host,
        RUNBOOK_STATE_DIR: join(s.base, `state-${host}`),
        ...env,
      },
      detached: true,
      reject: false,
      all: true,
      buffer: false,
    },
  );
  proc.all?.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 60_000;
  while (!out.includes(`host agent ${host} polling`)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`the host agent of ${host} did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = proc.pid!;
  return {
    pid,
    async stop() {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      await proc.catch(() => {});
    },
  };
}
