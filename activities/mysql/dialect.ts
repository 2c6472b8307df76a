// The differences between MySQL and MariaDB that the runbooks touch, in one place.
import type { Dialect } from '../../workflows/schemas';

export interface DialectInfo {
  name: Dialect;
  server: string;
  client: string;
  binlogTool: string;
  backupTool: string;
  /** The server's executed-GTID state: where a replay resumes. */
  gtidStateSql: string;
  replicaStatusSql: string;
  startReplicaSql: string;
  stopReplicaSql: string;
  /** CHANGE MASTER / CHANGE REPLICATION SOURCE by file and position (values bound as ?). */
  changeSourceByPositionSql(channel?: string): string;
  /** mysqlbinlog arguments that resume after `state` and stop after the stop transaction (inclusive). */
  replayWindowArgs(
    state: string,
    stop: { gtid: string; endPos: number | null },
    backupPos: { file: string; position: number } | null,
  ): string[];
}

function quoteChannel(channel: string | undefined, mysql: boolean): string {
  if (!channel) return '';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(channel))
    throw new Error(`invalid replication channel name ${JSON.stringify(channel)}`);
  return mysql ? ` FOR CHANNEL '${channel}'` : ` '${channel}'`;
}

export const mariadb: DialectInfo = {
  name: 'mariadb',
  server: 'mariadbd',
  client: 'mariadb',
  binlogTool: 'mariadb-binlog',
  backupTool: 'mariadb-backup',
  gtidStateSql: 'SELECT @@GLOBAL.gtid_binlog_pos AS gtid',
  replicaStatusSql: 'SHOW SLAVE STATUS',
  startReplicaSql: 'START SLAVE',
  stopReplicaSql: 'STOP SLAVE',
  changeSourceByPositionSql: (channel) =>
    `CHANGE MASTER${quoteChannel(channel, false)} TO MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no`,
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
  gtidStateSql: 'SELECT @@GLOBAL.gtid_executed AS gtid',
  replicaStatusSql: 'SHOW REPLICA STATUS',
  startReplicaSql: 'START REPLICA',
  stopReplicaSql: 'STOP REPLICA',
  changeSourceByPositionSql: (channel) =>
    `CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE = ?, SOURCE_LOG_POS = ?, SOURCE_AUTO_POSITION = 0${quoteChannel(channel, true)}`,
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
