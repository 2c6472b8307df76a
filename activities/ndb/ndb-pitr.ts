// Activities of NDB Cluster point-in-time recovery via NDB Cluster Replication. NDB's own tools
// (ndb_mgm, ndbd/ndbmtd, ndb_restore) are called by their real names; the SQL is the procedure's.
// This module binds them to the worker's SQL pools; the steps live in ndb-backup, ndb-binlog-index,
// ndb-replay-bounds, ndb-clear, ndb-restore and ndb-replay.
import { stat } from 'node:fs/promises';
import type { Endpoint } from '../../workflows/schemas';
import { keepAlive } from '../runtime/command';
import { checkReachable } from '../mysql/preflight';
import type { SqlPools } from '../mysql/sql';
import { refuse } from './ndb-pitr-common';
import { locateNdbBackup, takeNdbBackup } from './ndb-backup';
import { backupBinlogIndex, restoreBinlogIndex, truncateBinlogIndex } from './ndb-binlog-index';
import { findLatestEpoch, findStartPosition, resolveFailurePoint } from './ndb-replay-bounds';
import { initialRestartDataNode, stopDataNodes } from './ndb-clear';
import { restoreNdbBackup } from './ndb-restore';
import { replayNdbBinlogs, type NdbReplayRequest } from './ndb-replay';

/** Plan-time check that a file the run will need exists (before anything destructive). */
export async function checkFileExists(path: string, what: string): Promise<void> {
  if (!(await stat(path).catch(() => null))) throw refuse(`${what} ${path} does not exist`, 'MissingFile');
}

/** The NDB PITR activities, bound to the worker's SQL pools. Each heartbeats while it runs (the
 * workflow gives them a heartbeat timeout, so a dead worker is noticed fast). */
export function ndbPitrActivities(sql: SqlPools) {
  return {
    takeNdbBackup,
    backupBinlogIndex: (req: Parameters<typeof backupBinlogIndex>[1]) =>
      keepAlive({ doing: 'dumping ndb_binlog_index' }, () => backupBinlogIndex(sql, req)),
    // The first step that talks to the SQL node before anything is cleared: a refusal there is final.
    // (It runs on the SQL node's host; later SQL steps over TCP resolve the password on the controller.)
    resolveFailurePoint: (req: Parameters<typeof resolveFailurePoint>[1]) =>
      keepAlive({ doing: 'resolving the failure point' }, async () => {
        await checkReachable(sql, req.sqlNode, 'cluster.sqlNode');
        return resolveFailurePoint(sql, req);
      }),
    locateNdbBackup: (req: Parameters<typeof locateNdbBackup>[1]) =>
      keepAlive({ doing: 'locating the NDB backup' }, () => locateNdbBackup(sql, req)),
    checkFileExists,
    stopDataNodes: (req: Parameters<typeof stopDataNodes>[1]) => stopDataNodes(sql, req),
    initialRestartDataNode,
    truncateBinlogIndex: (req: Parameters<typeof truncateBinlogIndex>[1]) =>
      keepAlive({ doing: 'truncating ndb_binlog_index' }, () => truncateBinlogIndex(sql, req)),
    restoreNdbBackup: (req: Parameters<typeof restoreNdbBackup>[1]) => restoreNdbBackup(sql, req),
    restoreBinlogIndex: (req: Parameters<typeof restoreBinlogIndex>[1]) => restoreBinlogIndex(sql, req),
    findLatestEpoch: (sqlNode: Endpoint) =>
      keepAlive({ doing: 'reading the latest applied epoch' }, () => findLatestEpoch(sql, sqlNode)),
    findStartPosition: (req: Parameters<typeof findStartPosition>[1]) =>
      keepAlive({ doing: 'finding the replay start position' }, () => findStartPosition(sql, req)),
    replayNdbBinlogs: (req: NdbReplayRequest) => replayNdbBinlogs(sql, req),
  };
}
