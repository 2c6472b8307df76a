// Activities of the NDB replication channel failover: the procedure's SQL on the replica SQL node
// (S'), on the secondary channel's source (M'), and on the primary channel's SQL node (S). Values are
// bound, never spliced; channel names are checked strictly before they are quoted into a statement;
// a file name that comes back from mysql.ndb_binlog_index is checked to be a plain binlog file name.
// This module binds them to the worker's SQL pools; the code lives in channel-status, replica-inspect,
// failover-start and channel-ops.
import type { Endpoint } from '../../workflows/schemas';
import type { SqlPools } from '../mysql/sql';
import { inspectReplicaNode } from './replica-inspect';
import { locateFailoverStart, readLatestAppliedEpoch } from './failover-start';
import {
  awaitSecondaryCaughtUp,
  readSourceBinlogPosition,
  repointSecondaryChannel,
  startSecondaryChannel,
  stopReplicationChannel,
  type RepointRequest,
} from './channel-ops';

export function ndbFailoverActivities(sql: SqlPools) {
  return {
    inspectReplicaNode: (req: Parameters<typeof inspectReplicaNode>[1]) => inspectReplicaNode(sql, req),
    readLatestAppliedEpoch: (replica: Endpoint) => readLatestAppliedEpoch(sql, replica),
    locateFailoverStart: (req: Parameters<typeof locateFailoverStart>[1]) => locateFailoverStart(sql, req),
    stopReplicationChannel: (req: Parameters<typeof stopReplicationChannel>[1]) =>
      stopReplicationChannel(sql, req),
    repointSecondaryChannel: (req: RepointRequest) => repointSecondaryChannel(sql, req),
    startSecondaryChannel: (req: Parameters<typeof startSecondaryChannel>[1]) =>
      startSecondaryChannel(sql, req),
    readSourceBinlogPosition: (req: Parameters<typeof readSourceBinlogPosition>[1]) =>
      readSourceBinlogPosition(sql, req),
    awaitSecondaryCaughtUp: (req: Parameters<typeof awaitSecondaryCaughtUp>[1]) =>
      awaitSecondaryCaughtUp(sql, req),
  };
}
