// Where a worker keeps what it creates on its host: one state directory, owned by the worker's user
// and closed to everyone else (0700), checked before every use — a directory planted by another
// user, a symlink, or a group- or world-accessible one is refused, never trusted by its name. Inside
// it live the temporary mysqld's socket and pid file, the staging of binlogs, the replay source and
// its template, and the clients' option files: nothing under a guessable /tmp path.
// RUNBOOK_STATE_DIR chooses it; by default /var/lib/mysql-runbooks for root, else
// $XDG_STATE_HOME/mysql-runbooks (~/.local/state/mysql-runbooks).
import { lstat, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export class UnsafeStateDir extends Error {
  override name = 'UnsafeStateDir';
}

const uid = () => process.getuid?.() ?? 0;

export function stateRoot(): string {
  const configured = process.env.RUNBOOK_STATE_DIR;
  if (configured) {
    if (!isAbsolute(configured))
      throw new UnsafeStateDir(`RUNBOOK_STATE_DIR must be absolute: ${configured}`);
    return configured;
  }
  if (uid() === 0) return '/var/lib/mysql-runbooks';
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'mysql-runbooks');
}

/** A path inside the state directory (no check: for names computed ahead, e.g. a socket path). */
export function statePath(...parts: string[]): string {
  return join(stateRoot(), ...parts);
}

/** The directory is ours alone: a real directory (not a link), owned by this user, mode 0700. */
async function checkOwned(dir: string): Promise<void> {
  const st = await lstat(dir);
  if (st.isSymbolicLink() || !st.isDirectory())
    throw new UnsafeStateDir(
      `${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}: refusing to use it`,
    );
  if (st.uid !== uid())
    throw new UnsafeStateDir(
      `${dir} belongs to uid ${st.uid}, not to this worker (uid ${uid()}): refusing to use it`,
    );
  if (st.mode & 0o077)
    throw new UnsafeStateDir(
      `${dir} is open to other users (mode ${(st.mode & 0o777).toString(8)}): refusing to use it; chmod 700 it`,
    );
}

/** Creates (0700) or checks each directory from the state root down to `parts`; returns the last. */
export async function ensureStateDir(...parts: string[]): Promise<string> {
  let dir = stateRoot();
  for (const part of ['', ...parts]) {
    if (part) {
      if (part.includes('/') || part === '..' || part === '.')
        throw new UnsafeStateDir(`not a plain directory name: ${JSON.stringify(part)}`);
      dir = join(dir, part);
    }
    await mkdir(dir, { recursive: part === '', mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    await checkOwned(dir);
  }
  return dir;
}

/**
 * Makes a run's staging directory ready: inside the state directory it is created and checked like
 * the rest of it; elsewhere (a staging root the configuration names) created 0700 and checked too.
 */
export async function ensureStaging(stagingDir: string): Promise<string> {
  const root = stateRoot();
  if (stagingDir.startsWith(`${root}/`))
    return ensureStateDir(...stagingDir.slice(root.length + 1).split('/'));
  await mkdir(stagingDir, { recursive: true, mode: 0o700 });
  await checkOwned(stagingDir);
  return stagingDir;
}
