// fetch-backup: a backup catalog's xbstream stream (plain, | zstd or | gzip; a directory or an S3
// prefix) made into a PREPARED backup directory on the restore host, inside the run's staging area,
// while production still serves. Phases, each with its checkpoint in the ledger beside the prepared
// directory (staging/base-backup/prepared.runbook-ledger), so a retry redoes only what is not done:
//   download   the object, streamed on into the next phases and kept on disk; resumed with a ranged
//              read after an interruption, never spliced onto another object (ETag/size checked)
//   decompress zstd CLI / node's gunzip, as a stream
//   extract    mbstream -x (xbstream -x for xtrabackup); a partial extraction is discarded, never trusted
//   prepare    mariadb-backup --prepare; an interrupted prepare is redone from a fresh extraction
// A damaged stream is a final failure naming the backup and the phase; nothing outside the staging
// area is touched by any of it.
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Archive } from '../../workflows/schemas';
import type { BackupCatalogLocation, BackupEntry } from '../../workflows/backup-catalog';
import type { StepOutcome } from '../../workflows/kit';
import { failure } from '../../workflows/failures';
import { stagingDirFor } from '../archive/archives';
import { runCommand, withHeartbeat } from '../runtime/command';
import { renameDurably } from '../runtime/durable-file';
import { Ledger } from '../runtime/ledger';
import { ensureStaging } from '../runtime/state-dir';
import { checkRoom, human } from '../percona/room';
import { inspectBackup } from './backup';
import { openBackupObject } from './backup-fetch-source';
import {
  StreamDamaged,
  streamIntoDirectory,
  type FetchPhase,
  type StreamCounters,
} from './backup-fetch-stream';

export interface FetchBackupRequest {
  recoveryId: string;
  /** The run's archive: its staging directory (from the catalog) is where the backup is prepared. */
  archive: Archive;
  location: BackupCatalogLocation;
  entry: BackupEntry;
}

export interface FetchedBackup extends StepOutcome {
  /** The prepared directory: what restore-backup copies back. */
  dir: string;
  backupId: string;
}

/** Heartbeat details: what a watcher of the step sees. */
export interface FetchProgress {
  phase: FetchPhase;
  backup: string;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second of this attempt, and the seconds left at that rate. */
  rate: number;
  etaSeconds: number | null;
}

const STEP = {
  download: 'fetch-backup-download',
  extracted: 'fetch-backup-extracted',
  prepareStarted: 'fetch-backup-prepare-started',
  prepared: 'fetch-backup-prepared',
} as const;

/** Room for an extraction whose size the compressed stream does not say: this many times its bytes. */
const EXPANSION_ESTIMATE = 5;

export const fetchPaths = (archive: Archive, recoveryId: string) => {
  const base = join(stagingDirFor(archive, recoveryId), 'base-backup');
  return {
    base,
    prepared: join(base, 'prepared'),
    extract: join(base, 'extract'),
    kept: join(base, 'stream'),
  };
};

export async function fetchBackup(req: FetchBackupRequest): Promise<FetchedBackup> {
  const { entry } = req;
  if (entry.form !== 'xbstream')
    throw failure(
      'RunbookBug',
      `fetch-backup: backup ${entry.name} is a prepared directory: nothing to fetch`,
    );
  const extractor =
    entry.tool === 'mariadb-backup' ? 'mbstream' : entry.tool === 'xtrabackup' ? 'xbstream' : null;
  if (!extractor)
    throw failure(
      'BadBackup',
      `backup ${entry.name} was written by ${JSON.stringify(entry.tool)}: only mariadb-backup and xtrabackup streams are prepared here; nothing was fetched`,
    );
  await ensureStaging(stagingDirFor(req.archive, req.recoveryId));
  const paths = fetchPaths(req.archive, req.recoveryId);
  await mkdir(paths.base, { recursive: true, mode: 0o700 });
  const ledger = Ledger.besideDatadir(paths.prepared);
  const id = req.recoveryId;

  const done = await ledger.read(id, STEP.prepared);
  if (done?.backupId === entry.id && (await isPrepared(paths.prepared)))
    return {
      skipped: true,
      dir: paths.prepared,
      backupId: entry.id,
      evidence: [`backup ${entry.name} was fetched and prepared in ${paths.prepared} at ${done.at}`],
    };

  const counters: StreamCounters = { done: 0, total: entry.bytes, fetched: 0 };
  let phase: FetchPhase = 'download';
  const t0 = Date.now();
  const progress = (): FetchProgress => {
    const rate = counters.fetched / Math.max(0.001, (Date.now() - t0) / 1000);
    return {
      phase,
      backup: entry.name,
      bytesDone: counters.done,
      bytesTotal: counters.total,
      rate: Math.round(rate),
      etaSeconds: rate > 0 ? Math.ceil((counters.total - counters.done) / rate) : null,
    };
  };
  const evidence: string[] = [];

  return withHeartbeat({ progress }, async (signal) => {
    // A prepare that started and did not finish is never trusted: the extraction is redone.
    const prepareStarted = await ledger.read(id, STEP.prepareStarted);
    if (prepareStarted?.backupId === entry.id) {
      await ledger.remove(id, STEP.extracted);
      await ledger.remove(id, STEP.prepareStarted);
      evidence.push(`a prepare interrupted at ${prepareStarted.at} is redone from a fresh extraction`);
    }
    const extracted = await ledger.read(id, STEP.extracted);
    if (!(extracted?.backupId === entry.id && (await exists(paths.extract)))) {
      await extract(req, paths, ledger, extractor, counters, signal, evidence, (p) => (phase = p));
      await ledger.write(id, STEP.extracted, { backupId: entry.id });
    } else evidence.push(`extracted earlier at ${extracted.at}`);

    phase = 'prepare';
    await ledger.write(id, STEP.prepareStarted, { backupId: entry.id });
    await ledger.journal(id, `prepare started ${entry.id}`);
    const tp = Date.now();
    try {
      await runCommand([entry.tool, '--no-defaults', '--prepare', `--target-dir=${paths.extract}`], {
        progress,
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw damaged(entry, 'prepare', err instanceof Error ? err.message : String(err));
    }
    const info = await inspectBackup(paths.extract, 'mariadb', entry.tool).catch((err: Error) => {
      throw damaged(entry, 'prepare', err.message);
    });
    if (info.file !== entry.binlog.file || info.position !== entry.binlog.position)
      throw damaged(
        entry,
        'prepare',
        `the prepared backup ends at ${info.file}:${info.position}, the catalog says ${entry.binlog.file}:${entry.binlog.position}: not the backup the plan chose`,
      );
    await ledger.journal(id, `prepare finished ${entry.id}`);
    await rm(paths.prepared, { recursive: true, force: true }); // a stale one of this run's own staging
    await renameDurably(paths.extract, paths.prepared);
    // The fence goes in after the data: only a complete, prepared directory has this checkpoint.
    await ledger.write(id, STEP.prepared, { backupId: entry.id, dir: paths.prepared });
    await ledger.remove(id, STEP.prepareStarted);
    await rm(paths.kept, { force: true }); // the stream copy has served its purpose
    evidence.push(
      `prepared in ${((Date.now() - tp) / 1000).toFixed(1)} s: ${paths.prepared} ends at ${info.file}:${info.position} (GTID ${info.gtid || 'none'}); the stream copy was removed`,
    );
    return { dir: paths.prepared, backupId: entry.id, evidence };
  });
}

/** Download (or re-read), decompress and extract into a fresh directory; then check it is whole. */
async function extract(
  req: FetchBackupRequest,
  paths: ReturnType<typeof fetchPaths>,
  ledger: Ledger,
  extractor: 'mbstream' | 'xbstream',
  counters: StreamCounters,
  signal: AbortSignal | undefined,
  evidence: string[],
  setPhase: (p: FetchPhase) => void,
): Promise<void> {
  const { entry, recoveryId: id } = req;
  const obj = await openBackupObject(req.location, entry);
  try {
    if (obj.size !== entry.bytes)
      throw failure(
        'BackupChanged',
        `backup ${entry.name}: ${obj.location} holds ${obj.size} bytes, the catalog entry the plan chose ${entry.bytes}; nothing was fetched, production was not touched`,
      );
    const seen = await ledger.read(id, STEP.download);
    if (seen && (seen.backupId !== entry.id || seen.etag !== obj.etag))
      throw failure(
        'BackupChanged',
        `backup ${entry.name}: ${obj.location} is not the object this run began to download (ETag ${obj.etag}, was ${String(seen.etag)}): not spliced; production was not touched`,
      );
    const downloaded = seen?.complete === true && (await exists(paths.kept));
    const onDisk = downloaded ? obj.size : await fileBytes(`${paths.kept}.part`);
    const room = await checkRoom([
      {
        path: paths.base,
        parts: [
          { what: 'the stream kept for resuming', bytes: obj.size - onDisk },
          {
            what:
              entry.compression === 'none'
                ? 'the backup extracted'
                : `the backup extracted (estimated ${EXPANSION_ESTIMATE}× the ${entry.compression} stream)`,
            bytes: entry.compression === 'none' ? obj.size : obj.size * EXPANSION_ESTIMATE,
          },
        ],
      },
    ]);
    if (room.refusal)
      throw failure(
        'PlanRefused',
        `fetch-backup of ${entry.name}: ${room.refusal.replace(/^not enough room: /, 'not enough room in the staging area: ')}`,
      );
    evidence.push(...room.evidence);
    if (!seen) await ledger.write(id, STEP.download, { backupId: entry.id, etag: obj.etag, size: obj.size });

    // Whatever an earlier attempt extracted is not trusted: this run's own directory, emptied.
    await rm(paths.extract, { recursive: true, force: true });
    await mkdir(paths.extract, { mode: 0o700 });
    await ledger.journal(
      id,
      downloaded
        ? `extract from the kept stream ${entry.id}`
        : `download ${onDisk ? `resumed at ${onDisk}` : 'started'} of ${obj.size} ${entry.id}`,
    );
    let downloadedNow: { resumedAt: number; fetched: number } | null = null;
    try {
      await streamIntoDirectory({
        obj,
        compression: entry.compression,
        extractor,
        kept: paths.kept,
        extractDir: paths.extract,
        counters,
        signal,
        onDownloaded: async (info) => {
          downloadedNow = info;
          await ledger.write(id, STEP.download, {
            backupId: entry.id,
            etag: obj.etag,
            size: obj.size,
            complete: true,
          });
          await ledger.journal(
            id,
            `download finished ${entry.id}: ${obj.size} bytes, ${info.fetched} fetched by this attempt, ${info.resumedAt} resumed from disk`,
          );
          setPhase('extract');
        },
      });
    } catch (err) {
      if (err instanceof StreamDamaged) throw damaged(entry, err.phase, err.message);
      throw err;
    }
    const dl = downloadedNow as { resumedAt: number; fetched: number } | null;
    evidence.push(
      dl
        ? `downloaded ${human(obj.size)} from ${obj.location} (${dl.resumedAt ? `resumed at byte ${dl.resumedAt}, ` : ''}${dl.fetched} bytes fetched by this attempt), ETag ${obj.etag}`
        : `the stream was downloaded earlier: extracted again from the copy on disk`,
      `extracted with ${extractor}${entry.compression === 'none' ? '' : ` after ${entry.compression} decompression`}`,
    );
    await checkWhole(entry, paths.extract);
  } finally {
    obj.close();
  }
}

/**
 * mbstream exits 0 on a stream cut between two chunks, so the extraction must show it is whole: the
 * files mariadb-backup streams last (its metadata) are there and name the backup the catalog listed.
 */
async function checkWhole(entry: BackupEntry, dir: string): Promise<void> {
  const missing = [];
  for (const f of ['xtrabackup_checkpoints', 'xtrabackup_info', 'backup-my.cnf', 'xtrabackup_binlog_info'])
    if (!(await exists(join(dir, f)))) missing.push(f);
  if (missing.length)
    throw damaged(
      entry,
      'extract',
      `the stream ends before its metadata (${missing.join(', ')} missing): it is truncated`,
    );
  const checkpoints = await readFile(join(dir, 'xtrabackup_checkpoints'), 'utf8');
  const type = /backup_type\s*=\s*(\S+)/.exec(checkpoints)?.[1];
  if (type !== 'full-backuped')
    throw damaged(entry, 'extract', `backup_type is ${type ?? 'missing'}: not a full backup to prepare`);
  const binlog = (await readFile(join(dir, 'xtrabackup_binlog_info'), 'utf8')).trim().split(/\s+/);
  if (binlog[0] !== entry.binlog.file || Number(binlog[1]) !== entry.binlog.position)
    throw damaged(
      entry,
      'extract',
      `the stream's xtrabackup_binlog_info says ${binlog[0]}:${binlog[1]}, the catalog ${entry.binlog.file}:${entry.binlog.position}: not the backup the plan chose`,
    );
}

const damaged = (entry: BackupEntry, phase: FetchPhase, why: string) =>
  failure(
    'BackupDamaged',
    `backup ${entry.name} (${entry.id}) refused at ${phase}: ${why}. Nothing outside this run's staging area was touched; production was not paused`,
  );

async function isPrepared(dir: string): Promise<boolean> {
  const text = await readFile(join(dir, 'xtrabackup_checkpoints'), 'utf8').catch(() => '');
  return /backup_type\s*=\s*(full-prepared|log-applied)/.test(text);
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );
const fileBytes = (p: string) =>
  stat(p).then(
    (s) => s.size,
    () => 0,
  );
