// Test teardown that holds even when a run failed half way: every process working inside a test's
// directory (servers the runbooks started detached, e.g. a temporary mysqld left for inspection) is
// killed before the directory is removed.
import { readdir, readlink, rm } from 'node:fs/promises';
import { isAlive } from '../../activities/runtime/processes';

export async function killProcessesUnder(dir: string): Promise<number[]> {
  const killed: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => null);
    if (cwd && (cwd === dir || cwd.startsWith(`${dir}/`))) {
      try {
        process.kill(Number(entry), 'SIGKILL');
        killed.push(Number(entry));
      } catch {
        /* gone */
      }
    }
  }
  for (let i = 0; i < 100 && killed.some(isAlive); i++) await new Promise((r) => setTimeout(r, 50));
  return killed;
}

export async function removeTestDir(dir: string): Promise<void> {
  await killProcessesUnder(dir);
  await rm(dir, { recursive: true, force: true });
}
