// Activities of the Percona point-in-time recovery that are more than one call: the plan.
import { replayStrategyOf, type PerconaPitrInput } from '../../workflows/schemas';
import { refreshIndex } from '../archive/archive-index';
import { archiveReader } from '../archive/archive-read';
import { openArchive, stagingDirFor } from '../archive/archives';
import { inspectBackup, refuseRolledBack, type BackupInfo } from '../mysql/backup';
import { checkCluster } from './cluster';
import { checkSecretsResolve } from '../mysql/preflight';
import { checkRoom, dirBytes } from './room';
import { checkDatadir } from '../trust/datadir-guard';
import { stateRoot } from '../runtime/state-dir';
import { PlanError, planReplay, refuseUnsafeStrategy, type ReplayPlan } from '../replay/replay-plan';
import type { SqlPools } from '../mysql/sql';
import { failure } from '../../workflows/failures';

export interface PerconaPlan {
  backup: BackupInfo;
  /** Time of the last transaction the backup contains (Unix seconds), when the archive shows it. */
  backupTime: number | null;
  replay: ReplayPlan;
  cluster: string;
  archive: string;
  stagingDir: string;
  /** The room the restore needs and has, per filesystem. */
  room?: string[];
}

/** Step 1 of the procedure: find the binlogs for the target and check them for gaps, touching nothing. */
export async function planPerconaRecovery(
  sql: SqlPools,
  input: PerconaPitrInput & { recoveryId: string },
): Promise<PerconaPlan> {
  // Every secret the run reads on this (the restore) host: the archive keys (here and in the replay),
  // restore.password (the temporary mysqld). The cluster's is read on the cluster's host: when that
  // is another host, checkCluster resolves it there (only while the cluster's server is running).
  await checkSecretsResolve(input, {
    readElsewhere: (path) => path.startsWith('cluster.') && input.cluster.host !== input.restore.host,
  });
  await refuseRolledBack(input.recoveryId, input.restore.datadir);
  await checkDatadir(input.restore.datadir, [
    { what: 'the backup directory', path: input.backup.dir },
    { what: 'the binlog archive', path: input.archive.kind === 'fs' ? input.archive.dir : undefined },
    { what: 'the staging directory', path: stagingDirFor(input.archive, input.recoveryId) },
    { what: "the workers' state directory", path: stateRoot() },
  ]);
  const backup = await inspectBackup(input.backup.dir, input.dialect, input.backup.tool);
  // A cluster on another host is checked there (the workflow asks that host's agent).
  const cluster =
    input.cluster.host === input.restore.host
      ? await checkCluster(sql, input.cluster)
      : `${input.cluster.name}: on host ${input.cluster.host ?? '(the controller)'}`;
  const archive = await openArchive(input.archive);
  const stagingDir = stagingDirFor(input.archive, input.recoveryId);
  const index = await refreshIndex(archive, stagingDir);

  try {
    const replay = await planReplay({
      index,
      backup: { file: backup.file, position: backup.position, gtid: backup.gtid },
      target: input.target,
      allowGaps: input.allowGaps,
      nowSeconds: Date.now() / 1000,
      read: archiveReader(archive, stagingDir),
      dialect: input.dialect,
    });
    refuseUnsafeStrategy(replay, replayStrategyOf(input), input.force);
    // The old datadir stays (moved aside on its filesystem): the restore needs room beside it.
    const room = await checkRoom([
      {
        path: input.restore.datadir,
        parts: [
          { what: 'the backup copied back', bytes: await dirBytes(input.backup.dir) },
          { what: "the restored server's binlog", bytes: replay.bytes },
          { what: 'data growth, estimated as the replayed bytes', bytes: replay.bytes },
        ],
      },
    ]);
    if (room.refusal) throw new PlanError(room.refusal);
    return {
      backup,
      backupTime: replay.backupTime,
      replay,
      cluster,
      archive: archive.location,
      stagingDir,
      room: room.evidence,
    };
  } catch (err) {
    if (err instanceof PlanError) throw failure(err.kind, err.message);
    throw err;
  }
}
