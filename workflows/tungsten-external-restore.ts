// Tungsten Cluster: restoring an external backup (manual section 7.8.2), step by step:
//   0. plan                  read only: trepctl knows the service; the backup is prepared, has its binlog
//                            position and the tungsten_<svc> schema; the Primary's THL has the seqno of
//                            that position (thl list -event <file:pos> -headers, or thl dsctl -event)
//   1. replicator-offline    trepctl -service <svc> offline
//   2. purge-thl ⚠           thl -service <svc> purge -y   (reset the Replica's THL)
//   3. stop-database ⚠       stop the Replica's server (the copy-back needs it stopped)
//      restore-backup ⚠      mariadb-backup/xtrabackup --copy-back into its datadir (checkpointed)
//      start-database        start the server again before moving on
//   4. reset-commit-seqno    compare tungsten_<svc>.trep_commit_seqno with the backup's binlog position;
//                            when they differ: dsctl -service <svc> set -reset -seqno N -epoch E
//                            -source-id S -event-id ID (from the plan's THL event)
//   5. replicator-online     trepctl -service <svc> online
//      await-online          it reports ONLINE and the applied seqno moves up to the Primary's newest
//      verify                row counts and checksums of the restored tables (vs expected, if given)
import type { BackupInfo } from '../activities/mysql/backup';
import type { CommitSeqnoRow } from '../activities/tungsten/tungsten';
import type { ThlEvent } from '../activities/tungsten/tungsten-output';
import { TUNGSTEN_RESTORE } from './runbooks';
import type { RunbookResult } from './kit';
import { openRunbook } from './request-input';
import { long, quickOn, sqlRunsOn } from './routing';
import type { Cluster, TableFingerprint } from './schemas';

export interface TungstenPlan {
  service: string;
  backup: BackupInfo;
  /** The THL event at the backup's binlog position (null for a backup of a Replica). */
  thlEvent: ThlEvent | null;
  /** The Primary's newest THL seqno at plan time: the replicator must catch up to it. */
  primaryNewestSeqno: number;
  replicatorState: string;
}

export interface TungstenResult extends RunbookResult<TungstenPlan> {
  commitSeqno?: { before: CommitSeqnoRow[]; after: CommitSeqnoRow[] };
  online?: { state: string; fromSeqno: number; appliedLastSeqno: number };
  tables?: Record<string, TableFingerprint>;
}

export async function tungstenExternalRestore(raw: unknown): Promise<TungstenResult> {
  const { input, rb } = await openRunbook(TUNGSTEN_RESTORE, raw);
  const recoveryId = rb.recoveryId;
  const svc = { service: input.service, bin: input.tungstenBin };
  const replica = input.replica;
  const replicaQuick = quickOn(replica.host);
  const replicaLong = long(replica.host, input.heartbeatTimeout);
  const primary = quickOn(input.primary.host);
  const cluster: Cluster = {
    adapter: 'process',
    name: replica.name,
    host: replica.host,
    pidFile: replica.pidFile,
    start: replica.start,
    connection: replica.connection,
  };
  const onReplica = { ...svc, recoveryId, datadir: replica.datadir };

  const plan = await rb.step('plan', async () => {
    const local = await replicaQuick.inspectTungstenReplica({
      ...svc,
      backupDir: input.backup.dir,
      tool: input.backup.tool,
      dialect: input.dialect,
      server: { connection: replica.connection, pidFile: replica.pidFile },
    });
    const thl = await primary.inspectPrimaryThl({
      ...svc,
      position:
        input.backup.takenOn === 'primary'
          ? { file: local.backup.file, position: local.backup.position }
          : null,
      lookup: input.thlLookup,
    });
    const p: TungstenPlan = {
      service: input.service,
      backup: local.backup,
      thlEvent: thl.event,
      primaryNewestSeqno: thl.newestSeqno,
      replicatorState: local.replicator.state,
    };
    return { ...p, evidence: [...local.evidence, ...thl.evidence] };
  });
  const result = () =>
    rb.result<TungstenPlan>({
      service: plan.service,
      backup: plan.backup,
      thlEvent: plan.thlEvent,
      primaryNewestSeqno: plan.primaryNewestSeqno,
      replicatorState: plan.replicatorState,
    });
  if (input.mode === 'plan') return result();

  // 1.
  await rb.step('replicator-offline', () => replicaQuick.replicatorOffline(onReplica));
  // 2.
  await rb.destructive('purge-thl', () => replicaQuick.purgeThl(onReplica));
  // 3.
  await rb.destructive('stop-database', () =>
    replicaLong.stopDatabaseForRestore({
      recoveryId,
      backupId: plan.backup.id,
      datadir: replica.datadir,
      cluster,
    }),
  );
  await rb.destructive('restore-backup', () =>
    replicaLong.restoreBackup({ recoveryId, backup: plan.backup, datadir: replica.datadir }),
  );
  await rb.step('start-database', () => replicaLong.unpauseCluster(cluster));
  // 4.
  const reset = await rb.step('reset-commit-seqno', () =>
    replicaQuick.resetCommitSeqno({
      ...onReplica,
      connection: replica.connection,
      backup: { id: plan.backup.id, file: plan.backup.file, position: plan.backup.position },
      event: plan.thlEvent,
    }),
  );
  // 5.
  await rb.step('replicator-online', () => replicaQuick.replicatorOnline(onReplica));
  const fromSeqno = reset.after[0]?.seqno ?? plan.thlEvent?.seqno ?? -1;
  const online = await rb.step('await-online', () =>
    replicaLong.awaitReplicatorOnline({
      ...svc,
      fromSeqno,
      untilSeqno: Math.max(plan.primaryNewestSeqno, fromSeqno),
      timeout: input.onlineTimeout,
    }),
  );
  const verification = await rb.step('verify', () =>
    long(sqlRunsOn(replica.host, replica.connection), input.heartbeatTimeout).verifyRestore(
      replica.connection,
      input.verify,
    ),
  );

  return {
    ...result(),
    commitSeqno: { before: reset.before, after: reset.after },
    online: { state: online.state, fromSeqno, appliedLastSeqno: online.appliedLastSeqno },
    tables: verification.tables,
  };
}
