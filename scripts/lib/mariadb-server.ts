// Throwaway MariaDB servers for the demo and the tests: each has its own datadir, socket, port and
// tmpdir (shared tmpdirs broke parallel installs), binlogs in ROW format with GTID strict mode, and
// small buffers so several fit on a 2-core machine.
import { execa, type ResultPromise } from 'execa';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort } from '../../activities/mysql/ports';

export interface MariadbServerOptions {
  /** Directory that will hold datadir, socket, logs (created). */
  baseDir: string;
  serverId: number;
  /** Binlog basename inside the datadir. */
  binlogBasename?: string;
  extraArgs?: string[];
}

const running = new Set<number>();
process.on('exit', () => {
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export class MariadbServer {
  readonly datadir: string;
  readonly socket: string;
  readonly tmpdir: string;
  readonly pidFile: string;
  readonly errorLog: string;
  readonly binlogBasename: string;
  port = 0;
  private proc: ResultPromise | null = null;
  private pool: mysql.Pool | null = null;

  constructor(readonly opts: MariadbServerOptions) {
    this.datadir = join(opts.baseDir, 'data');
    this.socket = join(opts.baseDir, 'mysqld.sock');
    this.tmpdir = join(opts.baseDir, 'tmp');
    this.pidFile = join(opts.baseDir, 'mysqld.pid');
    this.errorLog = join(opts.baseDir, 'error.log');
    this.binlogBasename = opts.binlogBasename ?? 'mysql-bin';
  }

  /** The full mariadbd command line: what a process adapter needs to start this server again. */
  get argv(): string[] {
    return [
      'mariadbd',
      '--no-defaults',
      '--user=root',
      `--datadir=${this.datadir}`,
      `--socket=${this.socket}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${this.pidFile}`,
      `--tmpdir=${this.tmpdir}`,
      `--log-error=${this.errorLog}`,
      `--server-id=${this.opts.serverId}`,
      `--log-bin=${join(this.datadir, this.binlogBasename)}`,
      '--binlog-format=ROW',
      '--log-slave-updates=ON',
      '--gtid-strict-mode=ON',
      '--innodb-buffer-pool-size=32M',
      '--innodb-log-file-size=48M',
      '--key-buffer-size=1M',
      '--performance-schema=OFF',
      '--skip-name-resolve',
      ...(this.opts.extraArgs ?? []),
    ];
  }

  async install(): Promise<void> {
    await mkdir(this.tmpdir, { recursive: true });
    await execa('mariadb-install-db', [
      '--no-defaults',
      `--datadir=${this.datadir}`,
      '--user=root',
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      `--tmpdir=${this.tmpdir}`,
    ]);
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    await mkdir(this.tmpdir, { recursive: true });
    const [cmd, ...args] = this.argv;
    this.proc = execa(cmd!, args, { stdio: 'ignore', reject: false, detached: true });
    const pid = this.proc.pid!;
    running.add(pid);
    this.proc.finally(() => running.delete(pid)).catch(() => {});
    await this.waitReady();
  }

  private async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const c = await mysql.createConnection({ socketPath: this.socket, user: 'root' });
        await c.end();
        return;
      } catch (err) {
        if (this.proc && this.proc.exitCode !== null) break;
        if (Date.now() > deadline) throw new Error(`mariadbd ${this.datadir} not ready: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const log = await readFile(this.errorLog, 'utf8').catch(() => '');
    throw new Error(
      `mariadbd ${this.datadir} exited during start:\n${log.split('\n').slice(-15).join('\n')}`,
    );
  }

  /** Root connection pool over the socket (tests and demo only). */
  sql(): mysql.Pool {
    this.pool ??= mysql.createPool({
      socketPath: this.socket,
      user: 'root',
      connectionLimit: 4,
      multipleStatements: true,
    });
    return this.pool;
  }

  async query<T = mysql.RowDataPacket[]>(text: string, params: unknown[] = []): Promise<T> {
    const [rows] = await this.sql().query(text, params);
    return rows as T;
  }

  async endPool(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    await p?.end().catch(() => {});
  }

  /** Clean shutdown: SIGTERM, then wait for the process to exit. */
  async stop(): Promise<void> {
    await this.endPool();
    const pid = await this.pid();
    if (pid === null) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    await waitForExit(pid, 60_000);
  }

  async kill(): Promise<void> {
    await this.endPool();
    const pid = await this.pid();
    if (pid !== null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await waitForExit(pid, 10_000);
    }
  }

  async pid(): Promise<number | null> {
    const text = await readFile(this.pidFile, 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (!pid) return null;
    try {
      process.kill(pid, 0);
      return pid;
    } catch {
      return null;
    }
  }

  async destroy(): Promise<void> {
    await this.kill();
    await rm(this.opts.baseDir, { recursive: true, force: true });
  }
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`process ${pid} did not exit within ${timeoutMs} ms`);
}

/** Installs and starts a fresh server. */
export async function startMariadbServer(opts: MariadbServerOptions): Promise<MariadbServer> {
  const s = new MariadbServer(opts);
  await s.install();
  await s.start();
  return s;
}

export async function mariadbVersion(): Promise<string> {
  const { stdout } = await execa('mariadbd', ['--version']);
  return stdout.trim();
}
