// The throwaway binlog server of the applier replay: a private MariaDB whose binlog index lists copies
// of the verified archived files, so the restored server can replicate from them. It lives under the
// run's staging dir (datadir, tmpdir, pid file) with a short socket path and a loopback-only port; a
// copy left running by a dead attempt is found by its pid file and replaced.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { freePort } from '../mysql/ports';
import { userInfo } from 'node:os';
import { ensureStateDir, ensureStaging } from '../runtime/state-dir';
import { basename, join } from 'node:path';
import type { Endpoint } from '../../workflows/schemas';
import { runCommand } from '../runtime/command';
import { runtimeDir } from '../mysql/mysqld';
import { isAlive, livePid, mysqldOn, spawnDetached, verifiedPid, waitUntil } from '../runtime/processes';
import type { SqlPools } from '../mysql/sql';
import { failure } from '../../workflows/failures';

export interface ReplaySource {
  dir: string;
  pid: number;
  port: number;
  /** Root over the private socket (unix-socket authentication: no password). */
  endpoint: Endpoint;
}

interface SourceLayout {
  dir: string;
  datadir: string;
  binlogDir: string;
  tmpdir: string;
  pidFile: string;
  errorLog: string;
  socket: string;
}

function layout(stagingDir: string, recoveryId: string): SourceLayout {
  const dir = join(stagingDir, 'replay-source');
  return {
    dir,
    datadir: join(dir, 'data'),
    binlogDir: join(dir, 'binlogs'),
    tmpdir: join(dir, 'tmp'),
    pidFile: join(dir, 'mysqld.pid'),
    errorLog: join(dir, 'error.log'),
    // A unix socket path must stay under 108 bytes; the staging dir may be deep.
    socket: join(runtimeDir({ recoveryId, datadir: dir }), 'source.sock'),
  };
}

/** Root over the private socket (unix-socket authentication: no password). */
const sourceEndpoint = (l: SourceLayout): Endpoint => ({ socket: l.socket, user: 'root' });

const asRoot = () => (userInfo().username === 'root' ? ['--user=root'] : []);

function serverArgv(l: SourceLayout, port: number, binlogBasename: string, serverId: number): string[] {
  return [
    'mariadbd',
    '--no-defaults',
    ...asRoot(),
    `--datadir=${l.datadir}`,
    `--socket=${l.socket}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    '--skip-name-resolve',
    `--pid-file=${l.pidFile}`,
    `--tmpdir=${l.tmpdir}`,
    `--log-error=${l.errorLog}`,
    `--server-id=${serverId}`,
    `--log-bin=${join(l.binlogDir, binlogBasename)}`,
    `--log-bin-index=${join(l.binlogDir, `${binlogBasename}.index`)}`,
    '--skip-slave-start',
    // It only serves files: the smallest buffers that start.
    '--innodb-buffer-pool-size=8M',
    '--innodb-log-file-size=8M',
    '--innodb-buffer-pool-load-at-startup=OFF',
    '--innodb-buffer-pool-dump-at-shutdown=OFF',
    '--key-buffer-size=64K',
    '--performance-schema=OFF',
    '--max-connections=16',
  ];
}

/** The binlog basename shared by the files (`mysql-bin` of `mysql-bin.000042`). */
export function binlogBasenameOf(files: readonly string[]): string {
  const names = new Set(files.map((f) => basename(f).replace(/\.\d+$/, '')));
  const [only] = names;
  if (names.size !== 1 || !only)
    throw failure('BadReplayRequest', `the binlog files do not share one basename: ${[...names].join(', ')}`);
  return only;
}

/**
 * An initialised system datadir (grant tables, no user data), made once per host and MariaDB build and
 * copied for each source server: mariadb-install-db is most of a source server's start-up time.
 */
async function systemTemplate(): Promise<string> {
  const { stdout: version } = await runCommand(['mariadbd', '--version']);
  const key = createHash('sha256').update(`${version}\0${userInfo().username}`).digest('hex').slice(0, 12);
  const dir = join(await ensureStateDir('templates'), `source-${key}`);
  if (await stat(join(dir, 'READY')).catch(() => null)) return join(dir, 'data');
  const work = await mkdtemp(`${dir}.tmp-`);
  await mkdir(join(work, 'tmp'));
  await runCommand([
    'mariadb-install-db',
    '--no-defaults',
    `--datadir=${join(work, 'data')}`,
    ...asRoot(),
    '--auth-root-authentication-method=socket',
    '--skip-test-db',
    `--tmpdir=${join(work, 'tmp')}`,
    '--innodb-log-file-size=8M',
  ]);
  await writeFile(join(work, 'READY'), '');
  // Atomic publish; when another worker published first, use theirs.
  await rename(work, dir).catch(() => rm(work, { recursive: true, force: true }));
  return join(dir, 'data');
}

/** Stops a source server left by an earlier attempt and removes its directory. */
export async function removeReplaySource(
  sql: SqlPools,
  stagingDir: string,
  recoveryId: string,
): Promise<number | null> {
  const l = layout(stagingDir, recoveryId);
  await sql.forget(sourceEndpoint(l));
  const pid = await verifiedPid(l.pidFile, mysqldOn(l.datadir, 'the replay source server'));
  if (pid) {
    // Nothing in it is kept, so no clean shutdown to wait for.
    process.kill(pid, 'SIGKILL');
    await waitUntil(`the replay source server (pid ${pid}) to exit`, async () => !isAlive(pid), 60_000, 20);
  }
  await rm(l.dir, { recursive: true, force: true });
  await rm(join(l.socket, '..'), { recursive: true, force: true });
  return pid;
}

async function errorLogTail(l: SourceLayout): Promise<string> {
  const text = await readFile(l.errorLog, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-8).join('\n');
}

/**
 * Starts a fresh source server serving `files` (copies: the server may touch its binlogs, and the
 * originals are the archive). Any server an earlier attempt left is replaced first.
 */
export async function startReplaySource(
  sql: SqlPools,
  opts: { stagingDir: string; recoveryId: string; files: string[]; serverId: number },
): Promise<ReplaySource & { replaced: number | null }> {
  const replaced = await removeReplaySource(sql, opts.stagingDir, opts.recoveryId);
  const l = layout(opts.stagingDir, opts.recoveryId);
  await ensureStaging(opts.stagingDir);
  await ensureStateDir('run', basename(join(l.socket, '..')));
  await Promise.all(
    [l.datadir, l.binlogDir, l.tmpdir].map((d) => mkdir(d, { recursive: true, mode: 0o700 })),
  );
  const base = binlogBasenameOf(opts.files);
  const copies = opts.files.map((f) => join(l.binlogDir, basename(f)));
  const template = await systemTemplate();
  await Promise.all([
    cp(template, l.datadir, { recursive: true }),
    // A reflink where the filesystem has them, else a plain copy.
    ...opts.files.map((f, i) => copyFile(f, copies[i]!, constants.COPYFILE_FICLONE)),
  ]);
  await writeFile(join(l.binlogDir, `${base}.index`), copies.map((c) => `${c}\n`).join(''));

  const endpoint = sourceEndpoint(l);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    await sql.forget(endpoint);
    const pid = await spawnDetached(serverArgv(l, port, base, opts.serverId), join(l.dir, 'stdout.log'));
    try {
      await waitUntil(
        'the replay source server to accept connections',
        async () => {
          if (!isAlive(pid)) throw failure('Transient', 'exited');
          return sql.query(endpoint, 'SELECT 1').then(
            () => true,
            () => false,
          );
        },
        5 * 60_000,
        100,
      );
      return { dir: l.dir, pid, port, endpoint, replaced };
    } catch (err) {
      const log = await errorLogTail(l);
      // Another process may have taken the port between the check and the bind: pick another.
      if (attempt < 3 && /Bind on TCP\/IP port|Address already in use/i.test(log)) continue;
      throw failure(
        'Transient',
        `the replay source server did not start (${(err as Error).message}); its error log ends:\n${log}`,
      );
    }
  }
}

/** Whether the source server of this run is still up. */
export async function replaySourceAlive(stagingDir: string, recoveryId: string): Promise<boolean> {
  return (await livePid(layout(stagingDir, recoveryId).pidFile)) !== null;
}
