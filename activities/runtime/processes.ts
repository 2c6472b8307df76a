// Long-lived server processes: started detached (they must outlive the worker that started them,
// so a worker crash never takes a database down) and tracked by pid file.
import { spawn } from 'node:child_process';
import { open, readFile, readlink, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { childEnv } from './child-env';
import { timed } from './command';
import { failure } from '../../workflows/failures';
import { poll } from './poll';

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

export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 200,
): Promise<void> {
  // A wait on a server or cluster is external time, like a command (benchmark timing record).
  await timed(`wait for ${what}`, async () => {
    await poll({
      check: async () => ((await check()) ? true : undefined),
      timeoutMs,
      everyMs,
      details: { waitingFor: what },
      onTimeout: () =>
        failure('Transient', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`),
    });
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
export async function spawnDetached(
  argv: readonly string[],
  logFile: string,
  opts: { cwd?: string } = {},
): Promise<number> {
  const [cmd, ...args] = argv;
  if (!cmd) throw failure('RunbookBug', 'spawnDetached: empty command');
  const log = await open(logFile, 'a');
  try {
    const child = spawn(cmd, args, {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env: childEnv(),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err: NodeJS.ErrnoException) =>
        // A command that is missing or not executable is the catalog's to fix; a retry cannot.
        reject(
          failure(
            err.code === 'ENOENT' || err.code === 'EACCES' ? 'InvalidInput' : 'Transient',
            `cannot start ${cmd}: ${err.message}`,
          ),
        ),
      );
      child.once('spawn', () => resolve(child.pid!));
    });
    child.unref();
    return pid;
  } finally {
    await log.close();
  }
}

/** What a pid must be before it is signalled: one of these programs, and (for a mysqld) in this datadir. */
export interface Expected {
  programs: string[];
  datadir?: string;
  /** For messages: what the process should be. */
  what: string;
}

/** A mysqld (MariaDB or MySQL) whose working directory is `datadir` (mysqld changes into it). */
export const mysqldOn = (datadir: string | undefined, what: string): Expected => ({
  programs: ['mariadbd', 'mysqld'],
  datadir,
  what,
});

/**
 * The live pid in `pidFile`, checked to be the expected process before anyone signals it: its
 * executable (/proc/<pid>/exe) and working directory (/proc/<pid>/cwd, as device and inode). A pid
 * file naming another process (recycled pid, or planted) is refused; so is a host whose /proc cannot
 * be read (fail closed). Null when there is no live pid.
 */
export async function verifiedPid(pidFile: string, expect: Expected): Promise<number | null> {
  const pid = await livePid(pidFile);
  if (pid === null) return null;
  const exe = await readlink(`/proc/${pid}/exe`).catch(() => null);
  if (exe === null)
    throw failure(
      'UnverifiedProcess',
      `cannot read /proc/${pid}/exe to check that pid ${pid} (from ${pidFile}) is ${expect.what}: refusing to signal it`,
    );
  const program = basename(exe.replace(/ \(deleted\)$/, ''));
  let where = '';
  if (expect.datadir) {
    const [cwd, dir] = await Promise.all([
      stat(`/proc/${pid}/cwd`).catch(() => null),
      stat(expect.datadir).catch(() => null),
    ]);
    if (!cwd || !dir || cwd.dev !== dir.dev || cwd.ino !== dir.ino)
      where = ` in ${(await readlink(`/proc/${pid}/cwd`).catch(() => 'an unreadable directory')) || '?'}`;
  }
  if (!expect.programs.includes(program) || where)
    throw failure(
      'UnverifiedProcess',
      `${pidFile} names pid ${pid}, which is ${program}${where}, not ${expect.what}${expect.datadir ? ` on ${expect.datadir}` : ''}: refusing to signal it. Look at the pid file`,
    );
  return pid;
}
