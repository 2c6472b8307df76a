// The supervised binlog archiver: `mariadb-binlog --read-from-remote-server --raw --stop-never`
// copies the source's binlogs as they are written. It exits when the source goes away; the
// supervisor restarts it from the newest local file (which it rewrites from the start), so the
// archive resumes by itself after the archiver or the source restarts. Completed files are pushed to
// the archive and indexed. The supervisor holds its spool directory (archiver.pid) and records its
// streamer (archiver-streamer.pid): a supervisor that was killed leaves its streamer running, and the
// next one stops that orphan before it streams, so two streamers never write the same file.
import { execa, type ResultPromise } from 'execa';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dialect, Endpoint } from '../../workflows/schemas';
import { BINLOG_NAME, type BinlogArchive } from './archive';
import { refreshIndex } from './archive-index';
import { childEnv } from '../runtime/child-env';
import { clientOptions } from '../mysql/client-options';
import { tail } from '../runtime/command';
import { dialectOf } from '../mysql/dialect';
import { livePid, terminate } from '../runtime/processes';
import { redact } from '../trust/secrets';
import { SqlPools } from '../mysql/sql';
import { statePath } from '../runtime/state-dir';
import { failure } from '../../workflows/failures';

export interface ArchiverOptions {
  source: Endpoint;
  /** Local directory the streamed files land in (for a filesystem archive, the archive itself). */
  spoolDir: string;
  archive: BinlogArchive;
  /** Replica server id the archiver presents to the source (unique among its replicas). */
  serverId: number;
  dialect?: Dialect;
  syncEveryMs?: number;
  log?: (line: string) => void;
}

const SUPERVISOR_PID = 'archiver.pid';
const STREAMER_PID = 'archiver-streamer.pid';

/** Whether `pid` is an archiver's streamer writing into `spoolDir` (never signal a recycled pid). */
async function isStreamerOf(pid: number, spoolDir: string): Promise<boolean> {
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  return argv.includes('--stop-never') && argv.includes(`--result-file=${spoolDir}/`);
}

export class BinlogArchiver {
  private proc: ResultPromise | null = null;
  private stopping = false;
  private holdsSpool = false;
  private loop: Promise<void> | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  private readonly pushed = new Map<string, number>();
  private readonly sql = new SqlPools();
  restarts = 0;
  lastError = '';

  /** The pid of the running mariadb-binlog, if any (for monitoring and fault tests). */
  get streamerPid(): number | undefined {
    return this.proc?.pid;
  }

  constructor(private readonly o: ArchiverOptions) {}

  private log(line: string): void {
    this.o.log?.(`archiver: ${line}`);
  }

  async localFiles(): Promise<string[]> {
    const names = await readdir(this.o.spoolDir).catch(() => [] as string[]);
    return names.filter((n) => BINLOG_NAME.test(n)).sort();
  }

  /** Where to (re)start: the newest local file, else the source's oldest binlog. */
  private async firstFile(): Promise<string> {
    const local = await this.localFiles();
    if (local.length) return local.at(-1)!;
    const rows = await this.sql.query(this.o.source, 'SHOW BINARY LOGS');
    const first = rows[0]?.Log_name;
    if (!first) throw failure('BinlogSource', 'the source has no binary logs (is log_bin on?)');
    return String(first);
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.supervise();
    this.syncTimer = setInterval(() => {
      if (!this.syncing) void this.sync().catch((e: Error) => this.log(`sync failed: ${e.message}`));
    }, this.o.syncEveryMs ?? 2000);
  }

  /** Ends when the archiver stops: asked to, or refused its spool directory (see lastError). */
  done(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  /** Takes the spool directory over: never while another live archiver holds it; stops a dead one's streamer. */
  private async takeOver(): Promise<void> {
    const holder = await livePid(join(this.o.spoolDir, SUPERVISOR_PID));
    if (holder !== null && holder !== process.pid)
      throw failure('DatadirInUse', `another archiver (pid ${holder}) is writing to ${this.o.spoolDir}`);
    const orphan = await livePid(join(this.o.spoolDir, STREAMER_PID));
    if (orphan !== null && (await isStreamerOf(orphan, this.o.spoolDir))) {
      this.log(`stopping streamer ${orphan}, left running by an archiver that died`);
      await terminate(orphan, 30_000);
    }
    await writeFile(join(this.o.spoolDir, SUPERVISOR_PID), String(process.pid));
    this.holdsSpool = true;
  }

  private async supervise(): Promise<void> {
    await mkdir(this.o.spoolDir, { recursive: true });
    try {
      await this.takeOver();
    } catch (err) {
      this.lastError = (err as Error).message;
      this.log(`not started: ${this.lastError}`);
      if (this.syncTimer) clearInterval(this.syncTimer);
      return;
    }
    let backoff = 250;
    while (!this.stopping) {
      const client = await clientOptions(this.o.source, this.o.dialect ?? 'mariadb').catch((e: Error) => {
        this.lastError = e.message;
        return null;
      });
      try {
        if (!client) throw failure('Transient', this.lastError);
        const first = await this.firstFile();
        const d = dialectOf(this.o.dialect ?? 'mariadb');
        const argv = [
          ...client.args,
          '--read-from-remote-server',
          '--raw',
          '--stop-never',
          `--stop-never-slave-server-id=${this.o.serverId}`,
          `--result-file=${this.o.spoolDir}/`,
          first,
        ];
        this.log(`streaming from ${first}`);
        const started = Date.now();
        this.proc = execa(d.binlogTool, argv, {
          reject: false,
          stdin: 'ignore',
          env: childEnv(),
          extendEnv: false,
        });
        if (this.proc.pid) await writeFile(join(this.o.spoolDir, STREAMER_PID), String(this.proc.pid));
        const r = await this.proc;
        this.proc = null;
        if (this.stopping) break;
        this.lastError = redact(tail(String(r.stderr)) || `exit code ${r.exitCode}`, client.secrets);
        if (Date.now() - started > 10_000) backoff = 250;
      } catch (err) {
        this.lastError = (err as Error).message;
      } finally {
        await client?.cleanup();
      }
      if (this.stopping) break;
      this.restarts++;
      this.log(`stopped (${this.lastError}); restarting in ${backoff} ms`);
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 10_000);
    }
  }

  /**
   * Pushes new or grown files to the archive and brings its index up to date. One sync at a time:
   * pushing a big file takes longer than the interval, and two pushes of one file collide.
   */
  async sync(): Promise<void> {
    while (this.syncing) await this.syncing.catch(() => {});
    this.syncing = this.pushAndIndex();
    try {
      await this.syncing;
    } finally {
      this.syncing = null;
    }
  }

  private async pushAndIndex(): Promise<void> {
    for (const name of await this.localFiles()) {
      const { size } = await stat(join(this.o.spoolDir, name));
      if (this.pushed.get(name) === size) continue;
      await this.o.archive.putFile(name, join(this.o.spoolDir, name));
      this.pushed.set(name, size);
    }
    // The spool holds every file just pushed: the index reads those copies while they have the size
    // pushed; one that grew since is read back from the archive into the state directory.
    await refreshIndex(this.o.archive, statePath('staging', 'archiver'), (name) =>
      this.pushed.has(name) ? join(this.o.spoolDir, name) : undefined,
    );
  }

  /** Waits until the local copy has everything the source has written so far. */
  async waitCaughtUp(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const [status] = await this.sql.query(this.o.source, 'SHOW MASTER STATUS');
    const file = String(status?.File);
    const pos = Number(status?.Position);
    for (;;) {
      const size = await stat(join(this.o.spoolDir, file)).then(
        (s) => s.size,
        () => 0,
      );
      if (size >= pos) return;
      if (Date.now() > deadline)
        throw failure(
          'Transient',
          `archiver has ${file} up to ${size}, source is at ${pos} (${this.lastError})`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.proc?.kill('SIGTERM');
    await this.loop;
    this.loop = null;
    if (this.holdsSpool)
      for (const f of [STREAMER_PID, SUPERVISOR_PID]) await rm(join(this.o.spoolDir, f), { force: true });
    this.holdsSpool = false;
    await this.sql.closeAll();
  }
}
