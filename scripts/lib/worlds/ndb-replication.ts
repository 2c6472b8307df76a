// Replication between the MariaDB servers of the NDB channel-failover worlds (the integration test,
// the bad-input catalog and the ndb-failover demo): source SQL nodes M and M' and replica clusters with
// a named 'primary' channel, real MariaDB replication by file and position (NDB replication does not
// use GTIDs). Ground truth is read from the servers themselves.
import { DDL_EXIST_ERRORS } from '../../../activities/ndb/replica-inspect';
import type { MariadbServer } from '../mariadb-server';
import { NDB_TABLES_SQL } from './ndb-model';

export type Row = Record<string, string | number | null>;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Every server of these worlds: no GTID strict mode (NDB replicates by epoch and position), fast commits. */
export const NDB_SERVER_ARGS = [
  '--gtid-strict-mode=OFF',
  '--innodb-flush-log-at-trx-commit=2',
  '--sync-binlog=0',
];
/** Replicas fail on DDL-exists errors as MySQL's do (MariaDB's default IDEMPOTENT mode would hide them). */
export const STRICT_REPLICA_ARGS = ['--slave-ddl-exec-mode=STRICT'];
/** MariaDB does not know the ddl_exist_errors shorthand (it silently leaves OFF): the codes listed. */
export const SKIP_DDL_ARG = `--slave-skip-errors=${DDL_EXIST_ERRORS.join(',')}`;

export async function masterStatus(s: MariadbServer): Promise<{ File: string; Position: number }> {
  const [row] = await s.query<{ File: string; Position: number }[]>('SHOW MASTER STATUS');
  return row!;
}

export async function slaveStatus(s: MariadbServer, channel: string): Promise<Row> {
  const [row] = await s.query<Row[]>(`SHOW SLAVE '${channel}' STATUS`);
  return row!;
}

/**
 * The NDB bookkeeping tables and a 'repl' user with `password` on each server, outside the binlog;
 * then every pool is ended, so no pooled session keeps sql_log_bin = 0.
 */
export async function prepareNdbServers(servers: MariadbServer[], password: string): Promise<void> {
  for (const s of servers) {
    await s.query(`SET SESSION sql_log_bin = 0; ${NDB_TABLES_SQL}`);
    await s.query(
      "SET SESSION sql_log_bin = 0; CREATE USER 'repl'@'%' IDENTIFIED BY ?; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'",
      [password],
    );
  }
  for (const s of servers) await s.endPool();
}

/** Starts `channel` ('' = the default one) on `replica` from `from`'s current binlog position. */
export async function replicate(
  replica: MariadbServer,
  channel: string,
  from: MariadbServer,
  password: string,
): Promise<void> {
  const at = await masterStatus(from);
  const ch = channel ? ` '${channel}'` : '';
  await replica.query(
    `CHANGE MASTER${ch} TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ?, MASTER_USER = 'repl', MASTER_PASSWORD = ?,
       MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no; START SLAVE${ch}`,
    [from.port, password, at.File, at.Position],
  );
}

/** Waits until `channel` on `replica` has applied everything `source` binlogged so far. */
export async function caughtUp(
  replica: MariadbServer,
  channel: string,
  source: MariadbServer,
  timeoutMs = 30_000,
): Promise<void> {
  const want = await masterStatus(source);
  const deadline = Date.now() + timeoutMs;
  let st: Row = {};
  while (Date.now() < deadline) {
    st = await slaveStatus(replica, channel);
    if (st.Relay_Master_Log_File === want.File && Number(st.Exec_Master_Log_Pos) >= Number(want.Position))
      return;
    if (st.Last_SQL_Error) break;
    await sleep(100);
  }
  throw new Error(
    `channel '${channel}' on ${replica.datadir} not caught up with ${want.File}:${want.Position}: ${JSON.stringify(st)}`,
  );
}

/** The latest epoch applied on `s` (MAX(epoch) of mysql.ndb_apply_status), as a string. */
export async function maxEpoch(s: MariadbServer): Promise<string> {
  const [row] = await s.query<{ e: string }[]>(
    'SELECT CAST(MAX(epoch) AS CHAR) AS e FROM mysql.ndb_apply_status',
  );
  return row!.e;
}
