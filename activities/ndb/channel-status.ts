// A replication channel's status on either dialect: its statements, one SHOW SLAVE/REPLICA STATUS
// row normalized and described, what a stopped thread means, and the reads of it on a server.
import type { Dialect, Endpoint } from '../../workflows/schemas';
import { binlogSequence } from '../archive/archive';
import { dialectOf } from '../mysql/dialect';
import type { Row, SqlPools } from '../mysql/sql';
import { errno } from './failover-common';

/** `'ch'` or "the default channel", for messages. */
export const channelName = (channel: string) => (channel ? `'${channel}'` : 'the default channel');

/** The statements of one channel, whole, from the dialect (activities/mysql/dialect.ts). */
export function channelSql(dialect: Dialect, channel: string) {
  const d = dialectOf(dialect);
  return {
    status: d.replicaStatusSql(channel),
    start: d.startReplicaSql(channel),
    stop: d.stopReplicaSql(channel),
    /** Params: host, port, user, password, file, position. */
    change: d.changeSourceSql(channel),
    skipErrors: d.skipErrorsSql,
  };
}

export interface BinlogPosition {
  file: string;
  position: number;
}

export interface ChannelStatus {
  channel: string;
  /** False when the server has no such channel. */
  exists: boolean;
  ioRunning: string;
  sqlRunning: string;
  /** Either thread runs (or tries to): the channel may still fetch or apply. */
  running: boolean;
  sourceHost: string;
  sourcePort: number;
  sourceUser: string;
  sourceServerId: number;
  /** How far the IO thread has read from the source. */
  read: BinlogPosition;
  /** How far the SQL thread has applied, in the source's coordinates. */
  exec: BinlogPosition;
  secondsBehind: number | null;
  lastIoError: string;
  lastSqlError: string;
  /** One line for evidence and messages. */
  description: string;
}

/** Normalizes one row of SHOW SLAVE STATUS (MariaDB) or SHOW REPLICA STATUS (MySQL). */
export function readChannelStatus(
  dialect: Dialect,
  channel: string,
  row: Record<string, unknown> | undefined,
): ChannelStatus {
  const col = (maria: string, my: string): unknown => row?.[dialect === 'mysql' ? my : maria];
  const str = (maria: string, my: string) => String(col(maria, my) ?? '');
  const num = (maria: string, my: string) => Number(col(maria, my) ?? 0) || 0;
  const io = row ? str('Slave_IO_Running', 'Replica_IO_Running') || 'No' : 'No';
  const sqlThread = row ? str('Slave_SQL_Running', 'Replica_SQL_Running') || 'No' : 'No';
  const behind = col('Seconds_Behind_Master', 'Seconds_Behind_Source');
  const status: Omit<ChannelStatus, 'description'> = {
    channel,
    exists: !!row,
    ioRunning: io,
    sqlRunning: sqlThread,
    running: io !== 'No' || sqlThread !== 'No',
    sourceHost: str('Master_Host', 'Source_Host'),
    sourcePort: num('Master_Port', 'Source_Port'),
    sourceUser: str('Master_User', 'Source_User'),
    sourceServerId: num('Master_Server_Id', 'Source_Server_Id'),
    read: {
      file: str('Master_Log_File', 'Source_Log_File'),
      position: num('Read_Master_Log_Pos', 'Read_Source_Log_Pos'),
    },
    exec: {
      file: str('Relay_Master_Log_File', 'Relay_Source_Log_File'),
      position: num('Exec_Master_Log_Pos', 'Exec_Source_Log_Pos'),
    },
    secondsBehind: behind === null || behind === undefined || behind === '' ? null : Number(behind),
    lastIoError: str('Last_IO_Error', 'Last_IO_Error'),
    lastSqlError: str('Last_SQL_Error', 'Last_SQL_Error'),
  };
  return { ...status, description: describeChannel(dialect, status) };
}

export function describeChannel(dialect: Dialect, s: Omit<ChannelStatus, 'description'>): string {
  if (!s.exists) return `channel ${channelName(s.channel)} is not configured`;
  const [io, sqlT, lag] =
    dialect === 'mysql'
      ? ['Replica_IO_Running', 'Replica_SQL_Running', 'Seconds_Behind_Source']
      : ['Slave_IO_Running', 'Slave_SQL_Running', 'Seconds_Behind_Master'];
  const parts = [
    `channel ${channelName(s.channel)}: ${io}=${s.ioRunning}, ${sqlT}=${s.sqlRunning}`,
    `source ${s.sourceHost || '?'}:${s.sourcePort}`,
    `applied to ${s.exec.file || '?'}:${s.exec.position} (read to ${s.read.file || '?'}:${s.read.position})`,
    `${lag}=${s.secondsBehind ?? 'NULL'}`,
  ];
  if (s.lastIoError) parts.push(`last IO error: ${s.lastIoError}`);
  if (s.lastSqlError) parts.push(`last SQL error: ${s.lastSqlError}`);
  return parts.join(', ');
}

/** Orders two positions of the same server's binlog: by file sequence, then offset. */
export function compareBinlogPositions(a: BinlogPosition, b: BinlogPosition): number {
  const fa = binlogSequence(a.file);
  const fb = binlogSequence(b.file);
  return fa !== fb ? fa - fb : a.position - b.position;
}

/** MariaDB ER_MASTER_INFO (no such connection name), MySQL ER_REPLICA_CHANNEL_DOES_NOT_EXIST. */
const NO_SUCH_CHANNEL = new Set([1617, 3074]);

export async function channelStatus(
  sql: SqlPools,
  e: Endpoint,
  dialect: Dialect,
  channel: string,
): Promise<ChannelStatus> {
  let rows: Row[];
  try {
    rows = await sql.query(e, channelSql(dialect, channel).status);
  } catch (err) {
    if (NO_SUCH_CHANNEL.has(errno(err) ?? 0)) return readChannelStatus(dialect, channel, undefined);
    throw err;
  }
  return readChannelStatus(dialect, channel, rows[0]);
}

export async function channelNames(sql: SqlPools, e: Endpoint, dialect: Dialect): Promise<string[]> {
  const rows = await sql.query(e, dialectOf(dialect).allReplicasStatusSql);
  return rows.map((r) => String(r.Channel_Name ?? r.Connection_name ?? ''));
}

export const bothRunning = (s: ChannelStatus) => s.ioRunning === 'Yes' && s.sqlRunning === 'Yes';

/** A thread stopped with an error: what to tell the operator. */
export function threadFailure(dialect: Dialect, server: string, s: ChannelStatus): string | null {
  if (s.sqlRunning === 'No' && s.lastSqlError)
    return `the SQL thread of ${channelName(s.channel)} on ${server} stopped: ${s.lastSqlError}`;
  if (s.ioRunning !== 'Yes' && s.lastIoError)
    return `the IO thread of ${channelName(s.channel)} on ${server} cannot read from the source: ${s.lastIoError}`;
  if (s.exists && (s.sqlRunning === 'No' || s.ioRunning === 'No'))
    return `${channelName(s.channel)} on ${server} is not running: ${s.description}`;
  return null;
}
