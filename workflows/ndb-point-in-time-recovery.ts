// NDB Cluster point-in-time recovery via NDB Cluster Replication, step by step:
//   1. backup-cluster              ndb_mgm "START BACKUP WAIT COMPLETED" (skipped when the input names a backup)
//   2. backup-binlog-index         dump mysql.ndb_binlog_index, copy the binary logs into the archive
//   3. failure-point               the failure point from the input (epoch, time or position), made exact
//   4. locate-backup               the last good backup before the failure point; every byte of the
//                                  replay window verified (checksums, index, gaps) before anything is cleared
//   5. stop-data-nodes             ndb_mgm "ALL STOP", then every data node seen stopped (no contact)
//      initial-restart-data-nodes  ndbd/ndbmtd --initial on every data node (clears their file systems)
//   6. truncate-binlog-index       TRUNCATE TABLE mysql.ndb_binlog_index
//   7. restore-backup              ndb_restore: metadata once, data per node, --restore-epoch (cut short:
//                                  the data nodes are cleared again, then restored from the start)
//   8. restore-binlog-index        ndb_binlog_index from the dump (binlog files stay in the archive)
//   9. find-latest-epoch           SELECT MAX(epoch) FROM mysql.ndb_apply_status
//  10. find-start-position         SELECT Position, File … WHERE epoch > @LATEST_EPOCH ORDER BY epoch LIMIT 1
//  11. replay-binlogs              mysqlbinlog from there to the failure point (the shared replay engine:
//                                  files verified again, SQL errors final), resumable exactly once by epoch
//  12. verify                      row counts and checksums (compared with the expected ones, if given)
import { patched } from '@temporalio/workflow';
import type { NdbBackup } from '../activities/ndb/ndb-backup';
import type { NdbStopPoint } from '../activities/ndb/ndb-replay-bounds';
import { NDB_PITR } from './runbooks';
import { type StepState } from './kit';
import { openRunbook } from './request-input';
import { long, sqlRunsOn } from './routing';
import type { TableFingerprint } from './schemas';
import { failure } from './failures';

/** Clearing rounds allowed to an ndb_restore that keeps being interrupted, before the run gives up. */
const MAX_RESTORE_ROUNDS = 3;

export interface NdbPitrResult {
  recoveryId: string;
  mode: 'run' | 'plan';
  backup: NdbBackup;
  stop: NdbStopPoint;
  latestEpoch?: string;
  steps: StepState[];
  tables?: Record<string, TableFingerprint>;
}

export async function ndbPointInTimeRecovery(raw: unknown): Promise<NdbPitrResult> {
  const { input, rb } = await openRunbook(NDB_PITR, raw);
  const { cluster } = input;
  const recoveryId = rb.recoveryId;
  // SQL from the controller, or on the SQL node's host when it is reached by its unix socket. These
  // heartbeat too: a worker that dies in one is noticed within the heartbeat timeout, not minutes.
  const onSqlNode = long(sqlRunsOn(cluster.sqlNodeHost, cluster.sqlNode), input.heartbeatTimeout);
  const mgmHost = long(cluster.mgmHost, input.heartbeatTimeout);
  const sqlHost = long(cluster.sqlNodeHost, input.heartbeatTimeout);
  const planning = input.mode === 'plan';

  // 1-2: the procedure's backups. Plan mode reads what exists and writes nothing.
  if (input.backup.id !== undefined || planning)
    rb.skip(
      'backup-cluster',
      input.backup.id !== undefined ? `using backup ${input.backup.id}` : 'plan mode',
    );
  else await rb.step('backup-cluster', () => mgmHost.takeNdbBackup(cluster, input.backup.dataDir));
  let dumpFile = input.indexDump;
  if (dumpFile || planning)
    rb.skip('backup-binlog-index', dumpFile ? `using the dump ${dumpFile}` : 'plan mode');
  else
    dumpFile = (
      await rb.step('backup-binlog-index', () =>
        sqlHost.backupBinlogIndex({
          recoveryId,
          sqlNode: cluster.sqlNode,
          archiveDir: input.archiveDir,
          dialect: input.dialect,
        }),
      )
    ).dumpFile;

  const { stop } = await rb.step('failure-point', () =>
    sqlHost.resolveFailurePoint({
      sqlNode: cluster.sqlNode,
      archiveDir: input.archiveDir,
      failurePoint: input.failurePoint,
    }),
  );
  const { backup, window } = await rb.step('locate-backup', async () => {
    const located = await mgmHost.locateNdbBackup({
      cluster,
      backupDataDir: input.backup.dataDir,
      wantedId: input.backup.id,
      stop,
      archiveDir: input.archiveDir,
    });
    if (dumpFile) await sqlHost.checkFileExists(dumpFile, 'the ndb_binlog_index dump');
    return located;
  });
  if (planning) return { recoveryId, mode: 'plan', backup, stop, steps: rb.progress().steps };

  // Step 5 is an initial system restart: every data node stopped first (a node id in use cannot be
  // allocated, and one node restarted alone copies its peers' data back), then each started with
  // --initial. Round 1 is step 5; a later round clears the nodes again after an interrupted ndb_restore.
  // Runs recorded before the stop existed replay without it (and start the nodes unchecked, as then).
  const stopFirst = patched('ndb-stop-data-nodes');
  const stopDataNodes = (round: number) =>
    mgmHost.stopDataNodes({ recoveryId, cluster, ...(round > 1 ? { round } : {}) });
  const startInitial = async (round: number) => {
    const outcomes = await Promise.all(
      cluster.dataNodes.map((node) =>
        long(node.host, input.heartbeatTimeout).initialRestartDataNode({
          recoveryId,
          cluster,
          node,
          ...(round > 1 ? { round } : {}),
          ...(stopFirst ? {} : { unchecked: true }),
        }),
      ),
    );
    return { skipped: outcomes.every((o) => o.skipped), evidence: outcomes.flatMap((o) => o.evidence ?? []) };
  };
  if (stopFirst) await rb.destructive('stop-data-nodes', () => stopDataNodes(1));
  else rb.skip('stop-data-nodes', 'run recorded before the data nodes were stopped first');
  await rb.destructive('initial-restart-data-nodes', () => startInitial(1));
  await rb.destructive('truncate-binlog-index', () =>
    onSqlNode.truncateBinlogIndex({ recoveryId, sqlNode: cluster.sqlNode }),
  );
  // Never restore on top of a restore cut short: clear the data nodes again and start over.
  await rb.step('restore-backup', async () => {
    const evidence: string[] = [];
    for (let round = 1; ; round++) {
      const r = await mgmHost.restoreNdbBackup({
        recoveryId,
        cluster,
        backup,
        round,
        failureEpoch: stop.lastEpoch,
      });
      evidence.push(...(r.evidence ?? []));
      if (!r.interrupted) return { ...r, evidence };
      if (round >= MAX_RESTORE_ROUNDS)
        throw failure(
          'PartialRestore',
          `ndb_restore of backup ${backup.id} was interrupted ${round} times; the data nodes hold part of it. Find out what kills it, then start a new recovery.`,
        );
      if (stopFirst) evidence.push(...((await stopDataNodes(round + 1)).evidence ?? []));
      evidence.push(...(await startInitial(round + 1)).evidence);
    }
  });
  await rb.step('restore-binlog-index', () =>
    sqlHost.restoreBinlogIndex({
      recoveryId,
      sqlNode: cluster.sqlNode,
      dumpFile: dumpFile!,
      dialect: input.dialect,
    }),
  );
  const { latest } = await rb.step('find-latest-epoch', () => onSqlNode.findLatestEpoch(cluster.sqlNode));
  await rb.step('find-start-position', () =>
    onSqlNode.findStartPosition({ sqlNode: cluster.sqlNode, latest }),
  );
  const replay = await rb.step('replay-binlogs', () =>
    sqlHost.replayNdbBinlogs({
      sqlNode: cluster.sqlNode,
      dialect: input.dialect,
      archiveDir: input.archiveDir,
      stop,
      window,
    }),
  );
  const verification = await rb.step('verify', () =>
    long(sqlRunsOn(cluster.sqlNodeHost, cluster.sqlNode), input.heartbeatTimeout).verifyRestore(
      cluster.sqlNode,
      input.verify,
    ),
  );

  return {
    recoveryId,
    mode: 'run',
    backup,
    stop,
    latestEpoch: replay.latestAfter,
    steps: rb.progress().steps,
    tables: verification.tables,
  };
}
