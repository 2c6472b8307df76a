// Long-lived server processes: started detached (they must outlive the worker that started them,
// so a worker crash never takes a database down) and tracked by pid file.
import { Context } from '@temporalio/activity';
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { timed } from './command';

export async function readPid(pidFile: string): Promise<number | null> {
  const text = await readFile(pidFile, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live pid recorded in `pidFile`, or null when there is none. */
export async function livePid(pidFile: string): Promise<number | null> {
  const pid = await readPid(pidFile);
  return pid !== null && isAlive(pid) ? pid : null;
}

function heartbeat(details?: unknown): void {
  try {
    Context.current().heartbeat(details); // the SDK throttles these to what the server needs
  } catch {
    /* not in an activity */
  }
}

export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 200,
): Promise<void> {
  // A wait on a server or cluster is external time, like a command (benchmark timing record).
  await timed(`wait for ${what}`, async () => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline)
        throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
      heartbeat({ waitingFor: what });
      await new Promise((r) => setTimeout(r, everyMs));
    }
  });
}

/** SIGTERM, then wait for the process to be gone. */
export async function terminate(pid: number, timeoutMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  await waitUntil(`process ${pid} to exit`, async () => !isAlive(pid), timeoutMs);
}

/** Starts `argv` in its own session with output to `logFile`; returns its pid without waiting. */
export async function spawnDetached(argv: readonly string[], logFile: string): Promise<number> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('empty command');
  const log = await open(logFile, 'a');
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', log.fd, log.fd] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot start ${cmd}: ${err.message}`)));
      child.once('spawn', () => resolve(child.pid!));
    });
    child.unref();
    return pid;
  } finally {
    await log.close();
  }
}
