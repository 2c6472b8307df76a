// Restore to a new server (issue 15): the recovery fills a fresh datadir on a server of the fleet
// catalog instead of the paused cluster, proves it with the temporary mysqld like in place, then
// starts it as a server of its own (durable settings, the catalog's port and socket) and leaves it
// running. The cluster is never touched. A datadir that holds anything this recovery did not create
// is refused, never moved aside or deleted; so is a port another process listens on.
import { readdir, stat } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Cluster, Dialect, NewServer } from '../../workflows/schemas';
import type { StepOutcome } from '../../workflows/kit';
import { failure } from '../../workflows/failures';
import {
  directoryIdentity,
  processesUsingDatadir,
  restoreBackup,
  type RestoreRequest,
} from '../mysql/backup';
import { dialectOf } from '../mysql/dialect';
import type { SqlPools } from '../mysql/sql';
import { checkDatadir } from '../trust/datadir-guard';
import { writeFileDurably } from '../runtime/durable-file';
import { Ledger } from '../runtime/ledger';
import { isAlive, mysqldOn, spawnDetached, verifiedPid, waitUntil } from '../runtime/processes';
import { ensureStateDir, statePath } from '../runtime/state-dir';

export type NewServerSpec = NewServer & { name: string };

/** Where the new server keeps its socket, pid file and error log (its own datadir, as mysqld does by default). */
export function newServerFiles(s: Pick<NewServer, 'datadir' | 'socket'>) {
  return {
    socket: s.socket ?? join(s.datadir, 'mysql.sock'),
    pidFile: join(s.datadir, 'mysqld.pid'),
    errorLog: join(s.datadir, 'mysqld.err'),
  };
}

export const describeNewServer = (s: NewServerSpec) =>
  `${s.host ?? '(this host)'}:${s.datadir} listening on ${s.port ? `${s.bindAddress}:${s.port} and ` : ''}socket ${newServerFiles(s).socket}`;

/** The server it stays: networking on the catalog's port, durable commits, the replayed binlog/GTID state continued. */
export function newServerArgv(s: NewServer, dialect: Dialect): string[] {
  const f = newServerFiles(s);
  return [
    dialectOf(dialect).server,
    '--no-defaults',
    ...(userInfo().username === 'root' ? ['--user=root'] : []),
    `--datadir=${s.datadir}`,
    `--socket=${f.socket}`,
    ...(s.port ? [`--port=${s.port}`, `--bind-address=${s.bindAddress}`] : ['--skip-networking']),
    `--pid-file=${f.pidFile}`,
    `--log-error=${f.errorLog}`,
    `--server-id=${s.serverId}`,
    `--log-bin=${join(s.datadir, s.binlogBasename)}`,
    '--binlog-format=MIXED',
    ...(dialect === 'mariadb'
      ? ['--gtid-strict-mode=ON', '--log-slave-updates=ON']
      : ['--gtid-mode=ON', '--enforce-gtid-consistency=ON']),
    // Durable, unlike the temporary mysqld: every commit reaches the disk.
    '--innodb-flush-log-at-trx-commit=1',
    '--sync-binlog=1',
    // The applier replay's channel is reset, but a server that stays must never replicate by surprise.
    '--skip-slave-start',
  ];
}

async function entriesOf(dir: string): Promise<string[] | null> {
  return readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
}

/** True when something listens on address:port (a bind is refused with EADDRINUSE). */
export function portInUse(port: number, address: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' ? resolve(true) : reject(err),
    );
    srv.listen({ port, host: address, exclusive: true }, () => srv.close(() => resolve(false)));
  });
}

/** Did this recovery create what is in the datadir (a copy started or finished by it)? */
async function createdByThisRecovery(recoveryId: string, datadir: string): Promise<boolean> {
  const ledger = Ledger.besideDatadir(datadir);
  if (await ledger.read(recoveryId, 'restore-backup')) return true;
  const started = await ledger.read(recoveryId, 'restore-backup-started');
  const identity = await directoryIdentity(datadir);
  return !!started && identity !== null && started.identity === identity;
}

async function refuseOccupied(req: { recoveryId: string; server: NewServerSpec }, allowOurs: boolean) {
  const s = req.server;
  const entries = await entriesOf(s.datadir);
  if (entries?.length && !(allowOurs && (await createdByThisRecovery(req.recoveryId, s.datadir))))
    throw failure(
      'NewServerOccupied',
      `new server ${s.name}: its datadir ${s.datadir} is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, e.g. ${entries.slice(0, 3).join(', ')}) and this recovery did not create it; ` +
        'it is never moved aside or deleted. Nothing was touched',
    );
  if (s.port && (await portInUse(s.port, s.bindAddress)))
    throw failure(
      'NewServerOccupied',
      `new server ${s.name}: port ${s.bindAddress}:${s.port} is in use by another process. Nothing was touched`,
    );
  const socket = newServerFiles(s).socket;
  // A socket inside the datadir is covered by the datadir's check; one elsewhere must not exist.
  if (!socket.startsWith(`${s.datadir}/`) && (await stat(socket).catch(() => null)))
    throw failure(
      'NewServerOccupied',
      `new server ${s.name}: its socket ${socket} exists (another server's?). Nothing was touched`,
    );
}

/** Plan-time check (read-only): the new server's datadir is free, not the cluster's, and its port is free. */
export async function checkNewServer(req: {
  recoveryId: string;
  server: NewServerSpec;
  cluster: Cluster;
  clusterDatadir: string;
}): Promise<StepOutcome> {
  const s = req.server;
  const processDatadir =
    req.cluster.adapter === 'process'
      ? req.cluster.start.find((a) => a.startsWith('--datadir='))?.slice('--datadir='.length)
      : undefined;
  await checkDatadir(s.datadir, [
    { what: "the cluster's datadir", path: req.clusterDatadir },
    { what: "the cluster's running datadir", path: processDatadir },
    { what: "the workers' state directory", path: statePath() },
  ]);
  await refuseOccupied(req, true);
  return {
    evidence: [
      `new-server mode: will create a new server ${s.name} at ${describeNewServer(s)}; the cluster ${req.cluster.name} is not paused and nothing of it is changed`,
      `${s.approvalFree ? 'a scratch server (catalog): the restore into its empty datadir needs no approval' : 'the restore into its datadir is approval-gated'}`,
    ],
  };
}

/** Restores the backup into the new server's datadir: only when it is absent, empty, or this recovery's own copy. */
export async function restoreNewServer(
  req: RestoreRequest & { server: NewServerSpec },
): Promise<StepOutcome & { previousDatadir?: string }> {
  await refuseOccupied({ recoveryId: req.recoveryId, server: req.server }, true);
  const r = await restoreBackup({ recoveryId: req.recoveryId, backup: req.backup, datadir: req.datadir });
  // Never the case after the check above; a moved-aside directory would mean the check was wrong.
  if (r.previousDatadir)
    throw failure('RunbookBug', `runbook bug: ${req.datadir} was moved aside to ${r.previousDatadir}`);
  return r;
}

export interface NewServerRecord {
  name: string;
  host: string | null;
  datadir: string;
  pid: number;
  pidFile: string;
  socket: string;
  port: number | null;
  gtid: string;
  argv: string[];
}

/**
 * Starts the new server on the proved datadir (the temporary mysqld has shut down cleanly) and leaves it
 * running; checks it listens where the catalog says, with durable settings, at the proven GTID state.
 * Its pid, files and argv are recorded beside the datadir and in the state directory.
 */
export async function startNewServer(
  sql: SqlPools,
  req: { recoveryId: string; server: NewServerSpec; dialect: Dialect; expectGtid: string },
): Promise<StepOutcome & { newServer: NewServerRecord }> {
  const s = req.server;
  const f = newServerFiles(s);
  const argv = newServerArgv(s, req.dialect);
  const endpoint = { socket: f.socket, user: s.user, password: s.password };
  const evidence: string[] = [];
  let pid = await verifiedPid(f.pidFile, mysqldOn(s.datadir, `new server ${s.name}`));
  const skipped = pid !== null;
  if (pid) evidence.push(`new server ${s.name} already running (pid ${pid})`);
  else {
    const users = await processesUsingDatadir(s.datadir);
    if (users.length)
      throw failure(
        'DatadirInUse',
        `new server ${s.name}: process ${users.join(', ')} still uses ${s.datadir}; the verified datadir is kept as it is`,
      );
    await refuseOccupied({ recoveryId: req.recoveryId, server: s }, true).catch((err: Error) => {
      throw failure(
        'NewServerOccupied',
        `${err.message.replace(/ Nothing was touched$/, '')}: the restored, verified datadir ${s.datadir} is kept, stopped; free it and start again with the same recoveryId`,
      );
    });
    await sql.forget(endpoint);
    const started = await spawnDetached(argv, join(s.datadir, 'mysqld.start.log'));
    await waitUntil(
      `new server ${s.name} to accept connections`,
      async () => {
        if (!isAlive(started))
          throw failure('NewServerNotAtTarget', `new server ${s.name} exited at start (see ${f.errorLog})`);
        return sql.query(endpoint, 'SELECT 1').then(
          () => true,
          () => false,
        );
      },
      10 * 60_000,
    );
    pid = (await verifiedPid(f.pidFile, mysqldOn(s.datadir, `new server ${s.name}`))) ?? started;
    evidence.push(`started new server ${s.name} (pid ${pid})`);
  }
  const d = dialectOf(req.dialect);
  const [row] = await sql.query(endpoint, d.gtidStateSql);
  const [cfg] = await sql.query(
    endpoint,
    'SELECT @@port AS port, @@innodb_flush_log_at_trx_commit AS flush, @@sync_binlog AS sync, @@server_id AS id, @@log_bin AS logBin',
  );
  const gtid = String(row?.gtid ?? '');
  const problems: string[] = [];
  if (gtid !== req.expectGtid)
    problems.push(`GTID state ${gtid || '(empty)'}, not the proven ${req.expectGtid}`);
  if (Number(cfg?.flush) !== 1 || Number(cfg?.sync) !== 1) problems.push('commits are not durable');
  if (Number(cfg?.id) !== s.serverId) problems.push(`server_id ${String(cfg?.id)}, not ${s.serverId}`);
  if (s.port && Number(cfg?.port) !== s.port) problems.push(`port ${String(cfg?.port)}, not ${s.port}`);
  if (s.port && !(await answersTcp(s.bindAddress, s.port)))
    problems.push(`nothing answers on ${s.bindAddress}:${s.port}`);
  if (problems.length)
    throw failure(
      'NewServerNotAtTarget',
      `new server ${s.name} (pid ${pid}) is not what was proved: ${problems.join('; ')}. It is left running for inspection`,
    );
  const record: NewServerRecord = {
    name: s.name,
    host: s.host ?? null,
    datadir: s.datadir,
    pid,
    pidFile: f.pidFile,
    socket: f.socket,
    port: s.port ?? null,
    gtid,
    argv,
  };
  // What a cleanup needs: beside the datadir (the ledger) and in the state directory, by recovery.
  await Ledger.besideDatadir(s.datadir).write(req.recoveryId, 'new-server', { ...record });
  await ensureStateDir('new-servers');
  await writeFileDurably(statePath('new-servers', `${req.recoveryId}.json`), JSON.stringify(record, null, 2));
  evidence.push(
    `new server ${s.name} running at ${describeNewServer(s)} (pid ${pid}), durable commits, GTID state ${gtid || '(empty)'} as proven; recorded in ${statePath('new-servers', `${req.recoveryId}.json`)}`,
  );
  return { skipped, evidence, newServer: record };
}

function answersTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host, port });
    c.setTimeout(5000);
    c.once('data', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
    c.once('timeout', () => (c.destroy(), resolve(false)));
  });
}
