// NDB PITR backups: taking one with ndb_mgm (step 1), and locating the last good one before the
// failure point with ndb_restore --print-meta (step 4), its replay window verified.
import { readdir, stat } from 'node:fs/promises';
import { checkEveryNodePart } from './ndb-backup-files';
import { join } from 'node:path';
import type { StepOutcome } from '../../workflows/kit';
import { formatEpoch } from '../../workflows/epoch';
import { FsArchive } from '../archive/archive-fs';
import { refreshIndex } from '../archive/archive-index';
import { archiveReader } from '../archive/archive-read';
import { runCommand } from '../runtime/command';
import { PlanError, verifyPositionWindow, type VerifiedFile } from '../replay/replay-window';
import type { SqlPools } from '../mysql/sql';
import { mgm, refuse, type Cluster } from './ndb-pitr-common';
import { startPositionAfter, type NdbStopPoint } from './ndb-replay-bounds';
import { failure } from '../../workflows/failures';

export interface NdbBackup {
  id: number;
  stopGcp: number;
  /**
   * The restore epoch the plan expects: (StopGCP printed by `ndb_restore --print-meta` << 32) | 0xffffffff,
   * as ndb_restore 8.0 writes it for server_id 0 (consumer_restore.cpp update_apply_status; the backup
   * holds every epoch of that GCI). Older ndb_restore wrote the next GCI: step 7 reads the epoch back
   * from ndb_apply_status and goes by what was written. (Runs recorded before: ((StopGCP - 1) << 32) | …)
   */
  restoreEpoch: string;
  path: string;
}

const restoreEpochOf = (stopGcp: number) => ((BigInt(stopGcp) << 32n) | 0xffffffffn).toString();

// Step 1: back up all NDB databases.
export async function takeNdbBackup(
  cluster: Cluster,
  backupDataDir: string,
): Promise<StepOutcome & { backup: NdbBackup }> {
  const { stdout } = await runCommand(mgm(cluster, 'START BACKUP WAIT COMPLETED'));
  const id = /Backup (\d+) started from node \d+ completed/.exec(stdout)?.[1];
  const stopGcp = /StopGCP:\s*(\d+)/.exec(stdout)?.[1];
  if (!id || !stopGcp)
    throw failure('BadToolOutput', `ndb_mgm did not report a completed backup:\n${stdout.trim()}`);
  const backup = {
    id: Number(id),
    stopGcp: Number(stopGcp),
    restoreEpoch: restoreEpochOf(Number(stopGcp)),
    path: join(backupDataDir, 'BACKUP', `BACKUP-${id}`),
  };
  return { backup, evidence: [`backup ${id} completed, StopGCP ${stopGcp}`] };
}

// Step 4: the last good backup before the failure point.
export async function locateNdbBackup(
  sql: SqlPools,
  req: { cluster: Cluster; backupDataDir: string; wantedId?: number; stop: NdbStopPoint; archiveDir: string },
): Promise<StepOutcome & { backup: NdbBackup; window: VerifiedFile[] }> {
  const root = join(req.backupDataDir, 'BACKUP');
  const ids = (await readdir(root).catch(() => [] as string[]))
    .map((d) => /^BACKUP-(\d+)$/.exec(d)?.[1])
    .filter((x): x is string => !!x)
    .map(Number)
    .sort((a, b) => a - b);
  const firstNode = req.cluster.dataNodes[0]!.id;
  const backups: NdbBackup[] = [];
  const unreadable: number[] = [];
  for (const id of ids) {
    const path = join(root, `BACKUP-${id}`);
    // A backup cut short (its ndb_mgm killed) has no readable metadata: it is not a candidate.
    const printed = await runCommand([
      'ndb_restore',
      `--ndb-connectstring=${req.cluster.connectstring}`,
      `--nodeid=${firstNode}`,
      `--backupid=${id}`,
      `--backup-path=${path}`,
      '--print-meta',
    ]).catch(() => null);
    const gcp = printed && /Stop GCP of Backup:\s*(\d+)/.exec(printed.stdout)?.[1];
    if (gcp) backups.push({ id, stopGcp: Number(gcp), restoreEpoch: restoreEpochOf(Number(gcp)), path });
    else unreadable.push(id);
  }
  const before = backups.filter((b) => BigInt(b.restoreEpoch) < BigInt(req.stop.lastEpoch));
  const listed =
    (backups.map((b) => `${b.id} (StopGCP ${b.stopGcp})`).join(', ') || 'none') +
    (unreadable.length ? `; unreadable (ndb_restore --print-meta failed): ${unreadable.join(', ')}` : '');
  const chosen = req.wantedId !== undefined ? before.find((b) => b.id === req.wantedId) : before.at(-1);
  if (chosen) await checkEveryNodePart(chosen, req.cluster);
  if (!chosen)
    throw refuse(
      req.wantedId !== undefined
        ? `backup ${req.wantedId} is not a usable backup before the failure point (epoch ${req.stop.lastEpoch}); backups in ${root}: ${listed}`
        : `no backup before the failure point (epoch ${req.stop.lastEpoch}, ${formatEpoch(req.stop.lastEpoch)}); backups in ${root}: ${listed}`,
    );
  // The replay will start at the first epoch after the backup: it must be indexed and archived.
  const start = await startPositionAfter(sql, req.cluster.sqlNode, chosen.restoreEpoch);
  if (start && !(await stat(join(req.archiveDir, start.file)).catch(() => null)))
    throw refuse(`the replay would start in ${start.file}, which is not in the archive ${req.archiveDir}`);
  // Every byte the replay will read is verified now, before anything is cleared (the shared engine's
  // window check: each event's CRC32, sha256 against the index, truncation, gaps).
  const window = start ? await verifyNdbWindow(req.archiveDir, start, req.stop) : null;
  return {
    backup: chosen,
    window: window?.verified ?? [],
    evidence: [
      `backup ${chosen.id} (StopGCP ${chosen.stopGcp}, epoch ${chosen.restoreEpoch}) is the last before the failure point`,
      ...(unreadable.length ? [`incomplete backup(s) left aside: ${unreadable.join(', ')}`] : []),
      ...(window
        ? [
            `replay window ${start!.file}:${start!.position} … ${req.stop.file}:${req.stop.position} verified: ${window.verified.length} file(s), ${window.transactions} transaction(s), every event's checksum`,
            ...window.warnings,
          ]
        : []),
    ],
  };
}

/** The window from the replay's start to the failure point, read and verified (refused when unfit). */
async function verifyNdbWindow(
  archiveDir: string,
  from: { file: string; position: number },
  stop: NdbStopPoint,
): Promise<{ verified: VerifiedFile[]; transactions: number; warnings: string[] }> {
  const archive = new FsArchive(archiveDir);
  const index = await refreshIndex(archive, archiveDir);
  return verifyPositionWindow({
    files: index.files,
    read: archiveReader(archive, archiveDir),
    from,
    to: { file: stop.file, position: stop.position },
  }).catch((err: unknown) => {
    if (err instanceof PlanError) throw refuse(err.message, err.kind);
    throw err;
  });
}
