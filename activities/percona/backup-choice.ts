// Step 3 of the Percona procedure, "identifies the closest base backup leading to that point": the
// newest usable backup of the catalog from which the archive reaches the target. Whether a backup
// reaches it is decided by the replay plan itself (replay-plan.ts: the same target resolution and the
// same bytes read as the run will replay), tried newest first; a backup that is already past the
// target is rejected and the next older one tried. The evidence says which was chosen and why, and
// which newer ones were rejected and why. Touches nothing.
import { join } from 'node:path';
import type { ArchiveIndex } from '../archive/archive';
import type { BackupCatalogLocation, BackupEntry } from '../../workflows/backup-catalog';
import type { Dialect, PerconaBackup, RecoveryTarget } from '../../workflows/schemas';
import { dialectOf } from '../mysql/dialect';
import { inspectBackup, type BackupInfo } from '../mysql/backup';
import { entryOf, listBackupCatalog, type ListedBackup } from '../mysql/backup-catalog';
import {
  PlanError,
  TargetBeforeBackup,
  type BackupCoordinates,
  type ReplayPlan,
} from '../replay/replay-plan';
import { iso } from '../replay/replay-target';

export interface BackupChoice {
  backup: BackupInfo;
  replay: ReplayPlan;
  /** The catalog and the chosen entry (absent for a backup given as one directory). */
  source?: { catalog: BackupCatalogLocation; entry: BackupEntry };
  /** Why this backup, and why not each newer one. */
  evidence: string[];
  /** Bytes the restore copies back (the directory, or the stream's data once extracted). */
  restoreBytes: number | null;
}

const at = (b: { binlog: BackupEntry['binlog'] | null }) =>
  b.binlog ? `${b.binlog.file}:${b.binlog.position} (GTID ${b.binlog.gtid || 'none'})` : 'no binlog position';
const finished = (b: { finishedAt: string | null }) =>
  b.finishedAt ? `finished ${b.finishedAt}` : 'finish time unknown';

/**
 * Plans the window from `coords`; a plan that succeeds is also checked to start before a time target
 * when the backup's own file shows no transaction (its last one is then in an earlier file).
 */
async function reach(
  coords: BackupCoordinates,
  target: RecoveryTarget,
  index: ArchiveIndex,
  planFor: (b: BackupCoordinates) => Promise<ReplayPlan>,
): Promise<ReplayPlan> {
  const replay = await planFor(coords);
  if (target.type === 'time' && replay.backupTime === null) {
    const i = index.files.findIndex((f) => f.name === coords.file);
    const earlier = index.files
      .slice(0, Math.max(0, i))
      .reverse()
      .find((f) => f.lastEventTime !== null);
    const T = Date.parse(target.time) / 1000;
    if (earlier?.lastEventTime != null && T <= earlier.lastEventTime)
      throw new TargetBeforeBackup(
        `target time ${target.time} is not after the backup's data: the binlog before it ends at ${iso(earlier.lastEventTime)} (${earlier.name})`,
      );
  }
  return replay;
}

export async function chooseBackup(
  opts: {
    backup: PerconaBackup;
    backupName?: string;
    dialect: Dialect;
    target: RecoveryTarget;
    index: ArchiveIndex;
  },
  planFor: (b: BackupCoordinates) => Promise<ReplayPlan>,
): Promise<BackupChoice> {
  const { backup: spec, target, index } = opts;
  if ('dir' in spec) {
    const backup = await inspectBackup(spec.dir, opts.dialect, spec.tool);
    return { backup, replay: await reach(backup, target, index, planFor), evidence: [], restoreBytes: null };
  }
  const listing = await listBackupCatalog(spec.catalog);
  const all = listing.backups;
  const where = `the backup catalog ${listing.location}`;
  const tryOne = async (b: ListedBackup, entry: BackupEntry) => {
    const backup = await infoOf(spec, b, entry, opts.dialect);
    const replay = await reach(backup, target, index, planFor);
    return { backup, replay, source: { catalog: spec.catalog, entry }, restoreBytes: b.dataBytes ?? null };
  };

  if (opts.backupName !== undefined) {
    const b = all.find((x) => x.name === opts.backupName);
    if (!b)
      throw new PlanError(
        `backupName: ${where} holds no backup named ${opts.backupName} (it holds: ${all.map((x) => x.name).join(', ') || 'nothing'}); nothing was touched`,
        'PlanRefused',
      );
    const entry = entryOf(b);
    if (!entry) throw new PlanError(`backup ${b.name} cannot be used: ${b.problem}; nothing was touched`);
    try {
      const chosen = await tryOne(b, entry);
      return { ...chosen, evidence: [`backup ${b.name}: named by the request; ${at(b)}, ${finished(b)}`] };
    } catch (err) {
      if (err instanceof PlanError)
        throw new PlanError(`the named backup ${b.name} cannot reach the target: ${err.message}`, err.kind);
      throw err;
    }
  }

  const rejected: string[] = [];
  for (const b of all) {
    const entry = entryOf(b);
    if (!entry) {
      rejected.push(`${b.name}: not usable (${b.problem})`);
      continue;
    }
    try {
      const chosen = await tryOne(b, entry);
      return {
        ...chosen,
        evidence: [
          `backup ${b.name} chosen from ${where}: the newest usable one from which the archive reaches the target; ${at(b)}, ${finished(b)}`,
          ...rejected.map((r) => `rejected newer backup ${r}`),
        ],
      };
    } catch (err) {
      if (err instanceof TargetBeforeBackup) {
        rejected.push(`${b.name}: past the target (${err.message})`);
        continue;
      }
      // Any older backup's window holds this one's: it cannot do better. Refused as is.
      if (err instanceof PlanError)
        throw new PlanError(
          `${err.message} (planning from backup ${b.name}, the newest usable one before the target${rejected.length ? `; rejected: ${rejected.join('; ')}` : ''})`,
          err.kind,
        );
      throw err;
    }
  }
  const usable = all.filter((b) => entryOf(b));
  const oldest = usable.at(-1);
  throw new PlanError(
    oldest
      ? `the target is older than every usable backup of ${where}: the oldest is ${oldest.name} at ${at(oldest)}, ${finished(oldest)}. Rejected: ${rejected.join('; ')}; nothing was touched`
      : `${where} holds no usable backup${rejected.length ? `: ${rejected.join('; ')}` : ''}; nothing was touched`,
    'NoUsableBackup',
  );
}

/** What the rest of the run uses: a prepared directory read as today, or a stream's coordinates. */
async function infoOf(
  spec: Extract<PerconaBackup, { catalog: unknown }>,
  b: ListedBackup,
  entry: BackupEntry,
  dialect: Dialect,
): Promise<BackupInfo> {
  if (b.form === 'prepared-dir' && spec.catalog.kind === 'fs')
    return inspectBackup(join(spec.catalog.dir, b.name), dialect, spec.tool);
  const location =
    spec.catalog.kind === 'fs'
      ? join(spec.catalog.dir, b.name)
      : `s3://${spec.catalog.bucket}/${spec.catalog.prefix.replace(/^\/+|\/+$/g, '')}/${b.name}`;
  const tool = spec.tool ?? (entry.tool === 'xtrabackup' ? 'xtrabackup' : dialectOf(dialect).backupTool);
  // A stream is not a directory: the fetch step turns it into one (dir is then the extracted copy).
  return { dir: location, id: entry.id, ...entry.binlog, tool };
}
