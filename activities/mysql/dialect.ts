// The differences between MySQL and MariaDB that the runbooks touch, in one place: tool names and
// whole statements per flavour (nothing outside edits SQL text), with one rule for channel names.
import type { Dialect } from '../../workflows/schemas';
import { failure } from '../../workflows/failures';

export interface DialectInfo {
  name: Dialect;
  server: string;
  client: string;
  binlogTool: string;
  backupTool: string;
  dumpTool: string;
  /** The server's executed-GTID state: where a replay resumes. */
  gtidStateSql: string;
  /** One channel's status (`channel` undefined: no channel clause). */
  replicaStatusSql(channel?: string): string;
  /** Every channel's status, one row each (with its name). */
  allReplicasStatusSql: string;
  startReplicaSql(channel?: string): string;
  stopReplicaSql(channel?: string): string;
  /** CHANGE MASTER / CHANGE REPLICATION SOURCE by file and position (values bound as ?). */
  changeSourceByPositionSql(channel?: string): string;
  /** The same with the source's host, port, user and password first (all bound as ?). */
  changeSourceSql(channel?: string): string;
  /** The replica's skip-errors setting, as `v`. */
  skipErrorsSql: string;
  /** The status column with the replica's lag in seconds. */
  lagColumn: string;
  /** mysqlbinlog arguments that resume after `state` and stop after the stop transaction (inclusive). */
  replayWindowArgs(
    state: string,
    stop: { gtid: string; endPos: number | null },
    backupPos: { file: string; position: number } | null,
  ): string[];
}

const CHANNEL = /^[A-Za-z0-9_-]{0,64}$/;

/**
 * The channel clause, one rule for every statement: MariaDB names a connection (` 'ch'`; the default
 * one has no name), MySQL says ` FOR CHANNEL 'ch'` (`''` is its default channel). Undefined: no clause.
 * Anything but a plain name is refused before it reaches a statement.
 */
export function channelClause(dialect: Dialect, channel: string | undefined): string {
  if (channel === undefined) return '';
  if (!CHANNEL.test(channel))
    throw failure('InvalidInput', `invalid replication channel name ${JSON.stringify(channel)}`);
  if (dialect === 'mysql') return ` FOR CHANNEL '${channel}'`;
  return channel ? ` '${channel}'` : '';
}

export const mariadb: DialectInfo = {
  name: 'mariadb',
  server: 'mariadbd',
  client: 'mariadb',
  binlogTool: 'mariadb-binlog',
  backupTool: 'mariadb-backup',
  dumpTool: 'mariadb-dump',
  gtidStateSql: 'SELECT @@GLOBAL.gtid_binlog_pos AS gtid',
  replicaStatusSql: (ch) => `SHOW SLAVE${channelClause('mariadb', ch)} STATUS`,
  allReplicasStatusSql: 'SHOW ALL SLAVES STATUS',
  startReplicaSql: (ch) => `START SLAVE${channelClause('mariadb', ch)}`,
  stopReplicaSql: (ch) => `STOP SLAVE${channelClause('mariadb', ch)}`,
  changeSourceByPositionSql: (ch) =>
    `CHANGE MASTER${channelClause('mariadb', ch)} TO MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no`,
  changeSourceSql: (ch) =>
    `CHANGE MASTER${channelClause('mariadb', ch)} TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, ` +
    'MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no',
  skipErrorsSql: 'SELECT @@GLOBAL.slave_skip_errors AS v',
  lagColumn: 'Seconds_Behind_Master',
  // A GTID start position is exclusive (resume after it); a GTID stop position is inclusive.
  replayWindowArgs: (state, stop, backupPos) => [
    ...(state ? [`--start-position=${state}`] : backupPos ? [`--start-position=${backupPos.position}`] : []),
    `--stop-position=${stop.gtid}`,
  ],
};

export const mysql: DialectInfo = {
  name: 'mysql',
  server: 'mysqld',
  client: 'mysql',
  binlogTool: 'mysqlbinlog',
  backupTool: 'xtrabackup',
  dumpTool: 'mysqldump',
  gtidStateSql: 'SELECT @@GLOBAL.gtid_executed AS gtid',
  replicaStatusSql: (ch) => `SHOW REPLICA STATUS${channelClause('mysql', ch)}`,
  allReplicasStatusSql: 'SHOW REPLICA STATUS',
  startReplicaSql: (ch) => `START REPLICA${channelClause('mysql', ch)}`,
  stopReplicaSql: (ch) => `STOP REPLICA${channelClause('mysql', ch)}`,
  changeSourceByPositionSql: (ch) =>
    `CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE = ?, SOURCE_LOG_POS = ?, SOURCE_AUTO_POSITION = 0${channelClause('mysql', ch)}`,
  changeSourceSql: (ch) =>
    'CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_USER = ?, SOURCE_PASSWORD = ?, ' +
    `SOURCE_LOG_FILE = ?, SOURCE_LOG_POS = ?, SOURCE_AUTO_POSITION = 0${channelClause('mysql', ch)}`,
  skipErrorsSql: 'SELECT @@GLOBAL.replica_skip_errors AS v',
  lagColumn: 'Seconds_Behind_Source',
  // MySQL skips what the server already executed; the stop is the end offset of the stop transaction
  // in the last file (a numeric stop applies to the last file), so every server uuid in the window counts.
  replayWindowArgs: (state, stop) => [
    ...(state ? [`--exclude-gtids=${state}`] : []),
    ...(stop.endPos !== null ? [`--stop-position=${stop.endPos}`] : []),
  ],
};

export function dialectOf(name: Dialect): DialectInfo {
  return name === 'mysql' ? mysql : mariadb;
}
