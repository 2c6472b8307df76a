// The recovery tablet as the long-running server it is: a real vttablet never exits while it serves
// (go/vt/topo/server.go: it exits at once only when it cannot open the topology). So it is started
// detached and supervised, like the temporary mysqld: its pid, log, ports and DB credentials file
// live in the state directory (state-dir.ts), readiness is polled on what vttablet itself offers (its
// record in the topology through `vtctlclient GetTablet`, and its status page's /debug/health, which
// answers "ok" only when a query reaches mysqld and back: go/vt/vttablet/tabletserver/tabletserver.go
// registerDebugHealthHandler), and a retry finds the running one instead of starting a second.
// Then the tablet is verified: it serves the snapshot keyspace's shard, and its mysqld is exactly at
// the GTID state the verify step proved.
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { StepOutcome } from '../../workflows/kit';
import type { Dialect, Endpoint } from '../../workflows/schemas';
import type { VitessTopo } from '../../workflows/schemas-vitess';
import { failure } from '../../workflows/failures';
import { dialectOf } from '../mysql/dialect';
import type { SqlPools } from '../mysql/sql';
import { writeFileDurably } from '../runtime/durable-file';
import { isAlive, livePid, spawnDetached, waitUntil } from '../runtime/processes';
import { ensureStateDir } from '../runtime/state-dir';
import { resolveSecret } from '../trust/secrets';
import { vttabletArgv } from './tablet';
import { vtctlRead } from './topology';
import { sameGtidSet } from '../../workflows/gtid';

export interface StartTabletRequest {
  vtctldServer: string;
  alias: string;
  keyspace: string;
  shard: string;
  dbName: string;
  topo?: VitessTopo;
  /** The restored shard's datadir: vttablet works in `<shard dir>/tablet` beside it. */
  datadir: string;
  /** The restored mysqld, as the runbook reaches it. */
  endpoint: Endpoint;
  dialect: Dialect;
  /** The GTID state the verify step proved: the tablet must serve exactly this. */
  expectGtid: string;
}

export interface TabletState {
  pid: number;
  port: number;
  log: string;
  type: string;
}

const READY_MS = 120_000;

/** Where the tablet's pid, log, ports and credentials live: the state directory, one folder per alias. */
const tabletDir = (alias: string) => ensureStateDir('vttablet', alias);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Our vttablet: a process whose argv runs a program named vttablet with `-tablet-path <alias>`. */
function isOurTablet(argv: string[], alias: string): boolean {
  const i = argv.indexOf('-tablet-path');
  return argv.slice(0, 2).some((a) => basename(a) === 'vttablet') && i >= 0 && argv[i + 1] === alias;
}

async function argvOf(pid: number): Promise<string[] | null> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  return raw === null ? null : raw.split('\0').filter(Boolean);
}

/**
 * The live vttablet of this alias: the one the pid file names (checked to be it), else any found in
 * /proc (a worker that died between the start and writing the pid file), else null.
 */
async function runningTablet(pidFile: string, alias: string): Promise<number | null> {
  const recorded = await livePid(pidFile);
  if (recorded !== null) {
    const argv = await argvOf(recorded);
    if (argv && isOurTablet(argv, alias)) return recorded;
    if (argv === null)
      throw failure(
        'UnverifiedProcess',
        `cannot read /proc/${recorded}/cmdline to check that pid ${recorded} (from ${pidFile}) is vttablet ${alias}`,
      );
  }
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = await argvOf(Number(entry));
    if (argv && isOurTablet(argv, alias)) return Number(entry);
  }
  return null;
}

async function logTail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-8).join('\n') || '(empty)';
}

async function health(port: number): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/debug/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.text()).trim();
    return res.status === 200 && body === 'ok' ? 'ok' : `${res.status} ${body.slice(0, 200)}`;
  } catch (err) {
    return `no answer (${(err as Error).message})`;
  }
}

/** topodata.TabletType by number (protojson may print enums either way). */
const TABLET_TYPES = [
  'UNKNOWN',
  'MASTER',
  'REPLICA',
  'RDONLY',
  'SPARE',
  'EXPERIMENTAL',
  'BACKUP',
  'RESTORE',
  'DRAINED',
];

/** GetTablet's record (protojson of topodata.Tablet): keyspace, shard and type. */
async function tabletRecord(server: string, alias: string) {
  const json = await vtctlRead(server, 'GetTablet', alias).catch(() => null);
  if (json === null) return null;
  const t = JSON.parse(json) as { keyspace?: string; shard?: string; type?: string | number };
  const type = typeof t.type === 'number' ? (TABLET_TYPES[t.type] ?? String(t.type)) : String(t.type ?? '');
  return { keyspace: t.keyspace ?? '', shard: t.shard ?? '', type };
}

/** Starts (or finds) the shard's recovery tablet, waits until it serves, and verifies what it serves. */
export async function startVitessTablet(
  sql: SqlPools,
  req: StartTabletRequest,
): Promise<StepOutcome & { tablet: TabletState }> {
  const what = `vttablet ${req.alias} (${req.keyspace}/${req.shard})`;
  const mysqldState = `the restored mysqld on ${req.endpoint.socket} keeps running at the proven GTID state ${req.expectGtid || '(empty)'}`;
  if (!req.topo)
    throw failure(
      'InvalidInput',
      `${what}: the catalog names no topology server for vttablet (vtctld.topo); nothing was started; ${mysqldState}`,
    );
  const dir = await tabletDir(req.alias);
  const pidFile = join(dir, 'vttablet.pid');
  const log = join(dir, 'vttablet.log');
  const evidence: string[] = [];

  let pid = await runningTablet(pidFile, req.alias);
  const portsFile = join(dir, 'ports.json');
  let ports = JSON.parse(await readFile(portsFile, 'utf8').catch(() => 'null')) as {
    port: number;
    grpcPort: number;
  } | null;
  let skipped = false;
  if (pid !== null && ports) {
    skipped = true;
    evidence.push(`${what} already running (pid ${pid}): not started again`);
  } else {
    if (pid !== null)
      throw failure(
        'UnverifiedProcess',
        `${what} runs as pid ${pid}, but ${portsFile} is missing: stop it by hand; nothing was started`,
      );
    // Ports are recorded before the start, so a retry finds them and a second start could not bind.
    ports ??= { port: await freePort(), grpcPort: await freePort() };
    await writeFileDurably(portsFile, JSON.stringify(ports));
    const password = await resolveSecret(req.endpoint.password);
    const credentialsFile = password === undefined ? undefined : join(dir, 'db-credentials.json');
    // vttablet re-reads it on SIGHUP, so it stays (0600, in the state directory) while the tablet runs.
    if (credentialsFile)
      await writeFileDurably(credentialsFile, JSON.stringify({ [req.endpoint.user]: [password] }));
    const work = join(dirname(req.datadir), 'tablet');
    await mkdir(work, { recursive: true, mode: 0o700 });
    const argv = vttabletArgv({
      alias: req.alias,
      keyspace: req.keyspace,
      shard: req.shard,
      dbName: req.dbName,
      topo: req.topo,
      socket: req.endpoint.socket!,
      user: req.endpoint.user,
      ...(credentialsFile ? { credentialsFile } : {}),
      ...ports,
    });
    pid = await spawnDetached(argv, log, { cwd: work });
    await writeFileDurably(pidFile, `${pid}\n`);
    evidence.push(`started ${argv.join(' ')} (pid ${pid}, log ${log})`);
  }

  const { port } = ports;
  let last = '';
  try {
    await waitUntil(
      `${what} to serve`,
      async () => {
        if (!isAlive(pid)) return Promise.reject(new Error('exited'));
        const h = await health(port);
        const rec = await tabletRecord(req.vtctldServer, req.alias);
        last = `/debug/health: ${h}; topology record: ${rec ? `${rec.keyspace}/${rec.shard} ${rec.type}` : 'none'}`;
        // Credentials a wait cannot fix: fail now, not after the readiness timeout.
        if (/Access denied/i.test(h)) return Promise.reject(new Error(h));
        return h === 'ok' && rec !== null;
      },
      READY_MS,
      300,
    );
  } catch (err) {
    const exited = !isAlive(pid);
    throw failure(
      'TabletNotServing',
      exited
        ? `${what} exited (pid ${pid}); ${mysqldState}; its log ${log} ends:\n${await logTail(log)}`
        : `${what} runs (pid ${pid}) but does not serve (${READY_MS / 1000} s at most) (${last || (err as Error).message}); it is left running; ${mysqldState}; its log ${log} ends:\n${await logTail(log)}`,
    );
  }

  // What it serves: the snapshot keyspace's shard (not a RESTORE in progress), at the proven GTID state.
  const rec = (await tabletRecord(req.vtctldServer, req.alias))!;
  const [row] = await sql.query(req.endpoint, dialectOf(req.dialect).gtidStateSql);
  const gtid = String(row?.gtid ?? '');
  const serving = `${what} is running (pid ${pid}, status page :${port}, log ${log}) and registered as ${rec.keyspace}/${rec.shard} ${rec.type}`;
  if (rec.keyspace !== req.keyspace || rec.shard !== req.shard || rec.type !== 'REPLICA')
    throw failure(
      'TabletNotAtTarget',
      `${serving}, not as ${req.keyspace}/${req.shard} REPLICA: it is left running for inspection; ${mysqldState}`,
    );
  if (!sameGtidSet(gtid, req.expectGtid))
    throw failure(
      'TabletNotAtTarget',
      `${serving}, but its mysqld is at GTID state ${gtid || '(empty)'}, not the proven ${req.expectGtid || '(empty)'}: it is left running for inspection`,
    );
  evidence.push(
    `${serving}; /debug/health ok; its mysqld is at ${gtid || '(empty)'}, the proven snapshot state`,
  );
  return { skipped, evidence, tablet: { pid, port, log, type: rec.type } };
}
