// Vitess backup choice (procedure step 2): each shard's backup, read from the file backup storage's
// MANIFESTs and checked against the backup directory itself. Read only.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepOutcome } from '../../workflows/kit';
import type { Dialect } from '../../workflows/schemas';
import { inspectBackup, type BackupInfo } from '../mysql/backup';
import { failure } from '../../workflows/failures';
import { sameGtidSet } from '../../workflows/gtid';

// Backups: `<file_backup_storage_root>/<keyspace>/<shard>/<name>/` holding a prepared mariadb-backup
// plus the MANIFEST Vitess writes (BackupTime, FinishedTime, Position "MariaDB/0-1-123", …).

/** The fields of a Vitess backup MANIFEST the runbook reads. */
export interface VitessManifest {
  BackupMethod?: string;
  /** `<flavor>/<GTID position>`, e.g. `MariaDB/0-1-123` or `MySQL56/uuid:1-5`. */
  Position: string;
  /** When the backup started (RFC 3339). */
  BackupTime: string;
  /** When it finished: its data is consistent as of then. Older manifests lack it. */
  FinishedTime?: string;
  Keyspace: string;
  Shard: string;
  TabletAlias?: string;
}

export interface BackupCandidate {
  name: string;
  dir: string;
  /** null when there is no readable MANIFEST. */
  manifest: VitessManifest | null;
  /** What the backup directory itself says (prepared, binlog position), or why it is unusable. */
  inspected: { ok: true; info: BackupInfo } | { ok: false; problem: string };
}

export interface ChosenBackup {
  name: string;
  dir: string;
  manifest: VitessManifest;
  info: BackupInfo;
  dialect: Dialect;
  /** The instant the backup's data is consistent as of (FinishedTime, else BackupTime), ISO. */
  consistentAt: string;
}

export interface BackupChoice {
  chosen: ChosenBackup | null;
  /** Every other candidate and why it was not taken. */
  passedOver: { name: string; reason: string }[];
}

export function parseManifest(text: string): VitessManifest | null {
  try {
    const m = JSON.parse(text) as Partial<VitessManifest>;
    if (typeof m !== 'object' || m === null) return null;
    if (typeof m.Position !== 'string' || typeof m.BackupTime !== 'string') return null;
    if (typeof m.Keyspace !== 'string' || typeof m.Shard !== 'string') return null;
    return m as VitessManifest;
  } catch {
    return null;
  }
}

/** `MariaDB/0-1-5` → { dialect, gtid }; null for flavors this runbook cannot restore. */
export function parsePosition(position: string): { dialect: Dialect; gtid: string } | null {
  const m = /^(MariaDB|MySQL56)\/(.*)$/.exec(position.trim());
  if (!m) return null;
  return { dialect: m[1] === 'MariaDB' ? 'mariadb' : 'mysql', gtid: m[2]!.replace(/\s+/g, '') };
}

/**
 * The most recent usable backup of `keyspace/shard` whose data is consistent before the snapshot time.
 * A backup is consistent as of when it *finished* (mariadb-backup takes its binlog position at the
 * end), so one that was still running at the snapshot time is passed over: it may hold later
 * transactions. Usable: a MANIFEST for this keyspace and shard, a prepared directory, and a MANIFEST
 * Position that agrees with the directory's own binlog coordinates.
 */
export function chooseBackup(
  candidates: BackupCandidate[],
  keyspace: string,
  shard: string,
  snapshotTime: string,
): BackupChoice {
  const t = Date.parse(snapshotTime);
  const passedOver: BackupChoice['passedOver'] = [];
  const usable: ChosenBackup[] = [];
  for (const c of candidates) {
    const m = c.manifest;
    const reject = (reason: string) => passedOver.push({ name: c.name, reason });
    if (!m) {
      reject('no readable MANIFEST');
      continue;
    }
    if (m.Keyspace !== keyspace || m.Shard !== shard) {
      reject(`its MANIFEST is for ${m.Keyspace}/${m.Shard}`);
      continue;
    }
    const consistentText = m.FinishedTime ?? m.BackupTime;
    const consistent = Date.parse(consistentText);
    if (!Number.isFinite(consistent)) {
      reject(`MANIFEST time ${JSON.stringify(consistentText)} is not an RFC 3339 time`);
      continue;
    }
    const consistentAt = new Date(consistent).toISOString();
    if (consistent >= t) {
      reject(`${m.FinishedTime ? 'finished' : 'taken'} at ${consistentAt}, not before the snapshot time`);
      continue;
    }
    const pos = parsePosition(m.Position);
    if (!pos) {
      reject(`MANIFEST Position ${JSON.stringify(m.Position)} is neither MariaDB/… nor MySQL56/…`);
      continue;
    }
    if (!c.inspected.ok) {
      reject(c.inspected.problem);
      continue;
    }
    if (!sameGtidSet(pos.gtid, c.inspected.info.gtid)) {
      reject(
        `MANIFEST Position ${m.Position} disagrees with the backup's own binlog position (GTID ${c.inspected.info.gtid || 'none'})`,
      );
      continue;
    }
    usable.push({
      name: c.name,
      dir: c.dir,
      manifest: m,
      info: c.inspected.info,
      dialect: pos.dialect,
      consistentAt,
    });
  }
  usable.sort((a, b) => b.consistentAt.localeCompare(a.consistentAt) || b.name.localeCompare(a.name));
  const [chosen, ...older] = usable;
  for (const o of older) passedOver.push({ name: o.name, reason: `older than ${chosen!.name}` });
  return { chosen: chosen ?? null, passedOver };
}

/** Reads every backup of `keyspace/shard` in the file backup storage (read only). */
export async function listBackupCandidates(
  root: string,
  keyspace: string,
  shard: string,
): Promise<BackupCandidate[]> {
  const shardDir = join(root, keyspace, shard);
  const names = await readdir(shardDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const out: BackupCandidate[] = [];
  for (const name of names.sort()) {
    const dir = join(shardDir, name);
    if (!(await stat(dir).catch(() => null))?.isDirectory()) continue;
    const manifest = parseManifest(await readFile(join(dir, 'MANIFEST'), 'utf8').catch(() => ''));
    const dialect = (manifest && parsePosition(manifest.Position)?.dialect) ?? 'mariadb';
    const inspected = await inspectBackup(dir, dialect).then(
      (info) => ({ ok: true as const, info }),
      (err: Error) => ({ ok: false as const, problem: err.message }),
    );
    out.push({ name, dir, manifest, inspected });
  }
  return out;
}

export interface ChooseBackupsRequest {
  fileBackupStorageRoot: string;
  baseKeyspace: string;
  shards: string[];
  snapshotTime: string;
}

export interface ChooseBackupsResult extends StepOutcome {
  backups: Record<string, ChosenBackup>;
}

/** Procedure step 2, for every shard; refuses (non-retryable) when a shard has no usable backup. */
export async function chooseVitessBackups(req: ChooseBackupsRequest): Promise<ChooseBackupsResult> {
  const backups: Record<string, ChosenBackup> = {};
  const evidence: string[] = [];
  const refusals: string[] = [];
  for (const shard of req.shards) {
    const where = join(req.fileBackupStorageRoot, req.baseKeyspace, shard);
    const candidates = await listBackupCandidates(req.fileBackupStorageRoot, req.baseKeyspace, shard);
    const { chosen, passedOver } = chooseBackup(candidates, req.baseKeyspace, shard, req.snapshotTime);
    const why = passedOver.map((p) => `${p.name}: ${p.reason}`).join('; ');
    if (!chosen) {
      refusals.push(
        candidates.length
          ? `no usable backup of ${req.baseKeyspace}/${shard} earlier than ${req.snapshotTime} in ${where} (${why})`
          : `no backup of ${req.baseKeyspace}/${shard} in ${where}`,
      );
      continue;
    }
    backups[shard] = chosen;
    evidence.push(
      `${req.baseKeyspace}/${shard}: backup ${chosen.name} (consistent at ${chosen.consistentAt}, ${chosen.manifest.Position}, ${chosen.info.file}:${chosen.info.position})` +
        (passedOver.length ? `; passed over ${why}` : ''),
    );
  }
  if (refusals.length)
    throw failure(
      'NoUsableBackup',
      `${refusals.join('; ')}. Choose a later snapshot time, or restore an older backup into the storage first`,
    );
  // Shards in the storage that the input does not restore (e.g. from before a resharding).
  const stored = await readdir(join(req.fileBackupStorageRoot, req.baseKeyspace)).catch(() => [] as string[]);
  const others = stored.filter((s) => !req.shards.includes(s));
  if (others.length)
    evidence.push(
      `the backup storage also holds shard(s) ${others.join(', ')} of ${req.baseKeyspace}, not restored`,
    );
  return { backups, evidence };
}
