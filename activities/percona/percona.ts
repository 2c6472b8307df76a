// Activities of the Percona point-in-time recovery that are more than one call: the plan.
import { replayStrategyOf, type PerconaPitrInput } from '../../workflows/schemas';
import { refreshIndex } from '../archive/archive-index';
import { archiveReader } from '../archive/archive-read';
import { openArchive, stagingDirFor } from '../archive/archives';
import { refuseRolledBack, type BackupInfo } from '../mysql/backup';
import type { BackupCatalogLocation, BackupEntry } from '../../workflows/backup-catalog';
import { chooseBackup } from './backup-choice';
import { checkCluster } from './cluster';
import { checkSecretsResolve } from '../mysql/preflight';
import { checkRoom, dirBytes } from './room';
import { checkDatadir } from '../trust/datadir-guard';
import { stateRoot } from '../runtime/state-dir';
import { PlanError, planReplay, refuseUnsafeStrategy, type ReplayPlan } from '../replay/replay-plan';
import type { SqlPools } from '../mysql/sql';
import { failure } from '../../workflows/failures';
import type { HostRates } from '../../workflows/rto-estimate';
import { readRates } from '../runtime/rates';

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
  /** The catalog and its chosen backup, when the backup comes from a catalog (a stream is fetched first). */
  source?: { catalog: BackupCatalogLocation; entry: BackupEntry };
  /** Why this backup: chosen from the catalog (and the newer ones rejected), or named. */
  choice?: string[];
  /** What the RTO estimate needs: bytes copied back, bytes downloaded first (a stream), null if none. */
  sizes?: { restoreBytes: number; fetchBytes: number | null };
  /** The rates this (the restore) host measured on its earlier runs (activities/runtime/rates.ts). */
  rates?: HostRates;
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
    'dir' in input.backup
      ? { what: 'the backup directory', path: input.backup.dir }
      : {
          what: 'the backup catalog',
          path: input.backup.catalog.kind === 'fs' ? input.backup.catalog.dir : undefined,
        },
    { what: 'the binlog archive', path: input.archive.kind === 'fs' ? input.archive.dir : undefined },
    { what: 'the staging directory', path: stagingDirFor(input.archive, input.recoveryId) },
    { what: "the workers' state directory", path: stateRoot() },
  ]);
  // A cluster on another host is checked there (the workflow asks that host's agent).
  const cluster =
    input.cluster.host === input.restore.host
      ? await checkCluster(sql, input.cluster)
      : `${input.cluster.name}: on host ${input.cluster.host ?? '(the controller)'}`;
  const archive = await openArchive(input.archive);
  const stagingDir = stagingDirFor(input.archive, input.recoveryId);
  const index = await refreshIndex(archive, stagingDir);

  try {
    // The backup: the one directory given, or the closest of the catalog (each tried by the same plan).
    const { backup, replay, source, evidence, restoreBytes } = await chooseBackup({ ...input, index }, (b) =>
      planReplay({
        index,
        backup: { file: b.file, position: b.position, gtid: b.gtid },
        target: input.target,
        allowGaps: input.allowGaps,
        nowSeconds: Date.now() / 1000,
        read: archiveReader(archive, stagingDir),
        dialect: input.dialect,
      }),
    );
    refuseUnsafeStrategy(replay, replayStrategyOf(input), input.force);
    const copied = restoreBytes ?? (await dirBytes(backup.dir));
    // The old datadir stays (moved aside on its filesystem): the restore needs room beside it.
    const room = await checkRoom([
      {
        path: input.restore.datadir,
        parts: [
          { what: 'the backup copied back', bytes: copied },
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
      ...(source ? { source, choice: evidence } : {}),
      sizes: {
        restoreBytes: copied,
        fetchBytes: source?.entry.form === 'xbstream' ? source.entry.bytes : null,
      },
      rates: await readRates(input.restore.host ?? 'local'),
    };
  } catch (err) {
    if (err instanceof PlanError) throw failure(err.kind, err.message);
    throw err;
  }
}
