// Base backups: reading what a prepared mariadb-backup/xtrabackup directory says about itself, and
// restoring it with --copy-back. The restore is check-then-act and writes its checkpoint last.
import { mkdir, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { renameDurably } from '../runtime/durable-file';
import { join } from 'node:path';
import type { Dialect } from '../../workflows/schemas';
import type { StepOutcome } from '../../workflows/kit';
import { runCommand } from '../runtime/command';
import { dialectOf } from './dialect';
import { checkDatadir } from '../trust/datadir-guard';
import { failpoint } from '../runtime/failpoints';
import { Ledger } from '../runtime/ledger';
import { failure } from '../../workflows/failures';

export interface BackupInfo {
  dir: string;
  /** Identifies this backup (directory + end LSN): a restore checkpoint names it. */
  id: string;
  file: string;
  position: number;
  gtid: string;
  tool: string;
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** Reads and checks a prepared backup directory. Throws a non-retryable error the operator can act on. */
export async function inspectBackup(dir: string, dialect: Dialect, tool?: string): Promise<BackupInfo> {
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw failure('BadBackup', `backup directory ${dir} does not exist`);
  const checkpoints = await readText(join(dir, 'xtrabackup_checkpoints'));
  if (checkpoints === null)
    throw failure(
      'BadBackup',
      `${dir} is not a mariadb-backup/xtrabackup backup (no xtrabackup_checkpoints)`,
    );
  const type = /backup_type\s*=\s*(\S+)/.exec(checkpoints)?.[1];
  if (type !== 'full-prepared' && type !== 'log-applied')
    throw failure(
      'BadBackup',
      `backup ${dir} is not prepared (backup_type = ${type ?? 'missing'}); run ${tool ?? dialectOf(dialect).backupTool} --prepare --target-dir=${dir} first`,
    );
  const toLsn = /to_lsn\s*=\s*(\d+)/.exec(checkpoints)?.[1] ?? '0';
  const binlogInfo = await readText(join(dir, 'xtrabackup_binlog_info'));
  const m = binlogInfo ? /^(\S+)\s+(\d+)\s*([\s\S]*)$/.exec(binlogInfo.trim()) : null;
  if (!m)
    throw failure(
      'BadBackup',
      `backup ${dir} has no binlog position (xtrabackup_binlog_info missing or empty): the source had binary logging off, so no point-in-time recovery can start from it`,
    );
  return {
    dir,
    id: `${dir}@${toLsn}`,
    file: m[1]!,
    position: Number(m[2]),
    gtid: (m[3] ?? '').replace(/\s+/g, ''),
    tool: tool ?? dialectOf(dialect).backupTool,
  };
}

/**
 * Any running process whose working directory is `datadir` (mysqld changes into its datadir),
 * compared by device and inode (`/./`, `//` and symlinks do not hide one). Fails closed: a host whose
 * /proc cannot be read cannot say the datadir is free.
 */
export async function processesUsingDatadir(datadir: string): Promise<number[]> {
  const dir = await stat(datadir).catch(() => null);
  if (!dir) return [];
  const entries = await readdir('/proc').catch(() => null);
  if (!entries)
    throw failure(
      'UnverifiedProcess',
      `cannot read /proc to check that no process uses ${datadir}: refusing to touch it`,
    );
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await stat(`/proc/${entry}/cwd`).catch(() => null);
    if (cwd && cwd.dev === dir.dev && cwd.ino === dir.ino) pids.push(Number(entry));
  }
  return pids;
}

async function isEmptyDir(dir: string): Promise<boolean | null> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export interface RestoreRequest {
  recoveryId: string;
  backup: BackupInfo;
  datadir: string;
}

/** What was there before a recovery first touched the datadir: what a rollback puts back. */
export interface BeforeRestore {
  /** Where the datadir that was there was moved (null: there was none, or it was empty). */
  previousDatadir: string | null;
  /** An empty datadir was there (a rollback leaves an empty one again). */
  emptyDatadir: boolean;
}

export const BEFORE_RESTORE = 'before-restore';
export const BEFORE_RUN = 'before-run';

/**
 * Recorded beside the datadir as soon as the cluster is paused, before anything else changes: the
 * cluster's GTID state at the pause, which a rollback must find again. Written once per recovery.
 */
export async function recordBeforeRun(req: {
  recoveryId: string;
  datadir: string;
  clusterGtidBefore: string | null;
  /** Where the run stages binlogs on this host (removed when it completes or is rolled back). */
  stagingDir?: string;
}): Promise<StepOutcome> {
  const ledger = Ledger.besideDatadir(req.datadir);
  const seen = await ledger.read(req.recoveryId, BEFORE_RUN);
  if (!seen)
    await ledger.write(req.recoveryId, BEFORE_RUN, {
      clusterGtidBefore: req.clusterGtidBefore,
      stagingDir: req.stagingDir ?? null,
    });
  failpoint('pause-cluster'); // paused and recorded: a failure from here leaves the cluster stopped
  return {
    evidence: [
      req.clusterGtidBefore === null
        ? 'the cluster GTID state at the pause is unknown (no connection, or it was not running): a rollback cannot prove it'
        : `recorded beside ${req.datadir}: cluster GTID state ${req.clusterGtidBefore || '(empty)'} at the pause`,
    ],
  };
}
export const ROLLED_BACK = 'rolled-back';
export const previousDatadirOf = (datadir: string, recoveryId: string) => `${datadir}.before-${recoveryId}`;

/**
 * What makes a directory this one and no other: device, inode and birth time. The inode alone is not
 * enough: ext4 hands a removed directory's inode to the next `mkdir` at once. Without a birth time
 * (a file system that keeps none) nothing is recognised as ours, so a stale copy is moved aside, never deleted.
 */
export async function directoryIdentity(dir: string): Promise<string | null> {
  const st = await stat(dir, { bigint: true }).catch(() => null);
  if (!st || st.birthtimeNs === 0n) return null;
  return `${st.dev}:${st.ino}:${st.birthtimeNs}`;
}

/** Is `dir` the directory a started copy recorded? */
async function sameDirectory(dir: string, started: Record<string, unknown>): Promise<boolean> {
  const identity = await directoryIdentity(dir);
  return identity !== null && started.identity === identity;
}

/** A recovery that was rolled back is spent: its recoveryId never restores again (checked by the plan too). */
export async function refuseRolledBack(recoveryId: string, datadir: string): Promise<void> {
  const rolledBack = await Ledger.besideDatadir(datadir).read(recoveryId, ROLLED_BACK);
  if (rolledBack)
    throw failure(
      'RolledBack',
      `recovery ${recoveryId} was rolled back at ${rolledBack.at}: its restored datadir is kept aside and production is back as it was. Start a new recovery with a new recoveryId; nothing was done`,
    );
}

/**
 * Copies the backup into `datadir`. Skipped when the ledger shows this backup already restored there.
 * An existing datadir is moved aside (never deleted); a half-copied one from an earlier attempt of the
 * same recovery is removed and copied again.
 */
export async function restoreBackup(
  req: RestoreRequest,
): Promise<StepOutcome & { previousDatadir?: string }> {
  const ledger = Ledger.besideDatadir(req.datadir);
  await refuseRolledBack(req.recoveryId, req.datadir);
  await checkDatadir(req.datadir, [{ what: 'the backup directory', path: req.backup.dir }]);
  const done = await ledger.read(req.recoveryId, 'restore-backup');
  if (done?.backupId === req.backup.id && (await isEmptyDir(req.datadir)) === false) {
    return {
      skipped: true,
      evidence: [`backup ${req.backup.id} was restored into ${req.datadir} at ${done.at}`],
    };
  }
  const users = await processesUsingDatadir(req.datadir);
  if (users.length)
    throw failure(
      'DatadirInUse',
      `refusing to restore into ${req.datadir}: process ${users.join(', ')} is using it (pause the cluster first)`,
    );

  const evidence: string[] = [];
  let previousDatadir: string | undefined;
  const started = await ledger.read(req.recoveryId, 'restore-backup-started');
  const empty = await isEmptyDir(req.datadir);
  // Before the first change, what a rollback will need: written once, before anything moves.
  if (!(await ledger.read(req.recoveryId, BEFORE_RESTORE))) {
    const before: BeforeRestore = {
      previousDatadir: empty === false ? previousDatadirOf(req.datadir, req.recoveryId) : null,
      emptyDatadir: empty === true,
    };
    await ledger.write(req.recoveryId, BEFORE_RESTORE, { ...before });
  }
  if (empty === false) {
    if (started && (await sameDirectory(req.datadir, started))) {
      // The very directory an earlier attempt created for its copy (same device and inode): ours.
      await rm(req.datadir, { recursive: true, force: true });
      evidence.push(`removed the partial copy left by an interrupted attempt (started ${started.at})`);
    } else {
      // Not ours (or the first attempt): kept, moved aside, never deleted.
      const aside = started
        ? `${req.datadir}.moved-${req.recoveryId}-${Date.now()}`
        : previousDatadirOf(req.datadir, req.recoveryId);
      if (await stat(aside).catch(() => null))
        throw failure('DatadirInUse', `cannot move ${req.datadir} aside: ${aside} already exists`);
      await renameDurably(req.datadir, aside);
      if (started)
        evidence.push(
          `${req.datadir} held a directory this recovery did not create (not its partial copy): moved aside to ${aside}, kept`,
        );
      else {
        previousDatadir = aside;
        evidence.push(`previous datadir kept at ${previousDatadir}`);
      }
    }
  } else if (empty === true) {
    await rmdir(req.datadir);
  }
  // The copy goes into a directory this attempt creates; its identity marks it as ours.
  await mkdir(req.datadir, { recursive: true });
  await ledger.write(req.recoveryId, 'restore-backup-started', {
    backupId: req.backup.id,
    identity: await directoryIdentity(req.datadir),
  });
  failpoint('restore-backup'); // the old datadir is aside, nothing copied yet

  const t0 = Date.now();
  await ledger.journal(req.recoveryId, `copy-back started ${req.backup.id}`);
  await runCommand([
    req.backup.tool,
    '--no-defaults',
    '--copy-back',
    `--target-dir=${req.backup.dir}`,
    `--datadir=${req.datadir}`,
  ]);
  await ledger.journal(req.recoveryId, `copy-back finished ${req.backup.id}`);
  // The fence goes in after the data: only a complete copy has this checkpoint.
  await ledger.write(req.recoveryId, 'restore-backup', { backupId: req.backup.id, gtid: req.backup.gtid });
  await ledger.remove(req.recoveryId, 'restore-backup-started');
  evidence.push(
    `copied back ${req.backup.dir} into ${req.datadir} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  return { evidence, previousDatadir };
}
