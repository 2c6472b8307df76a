// What a mariadb-backup/xtrabackup backup says about itself: the binlog coordinates of its data
// (xtrabackup_binlog_info: "file<TAB>position<TAB>GTID"), when and by what it was taken
// (xtrabackup_info: "key = value" lines, end_time and tool_name) and whether it is prepared
// (xtrabackup_checkpoints backup_type). Read from a directory, or from a stream's chunks.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupCompression } from '../../workflows/backup-catalog';
import { decompressed, readXbstream, XbstreamDamaged, ZstdFailed } from './xbstream-read';
import type { Readable } from 'node:stream';

export const METADATA_FILES = ['xtrabackup_binlog_info', 'xtrabackup_info', 'xtrabackup_checkpoints'];

/**
 * The metadata as `--compress` writes it: every file compressed on its own (mariadb-backup: QuickLZ,
 * `.qp`; xtrabackup 8: also `.zst`, `.lz4`), xtrabackup_checkpoints alone left plain. Such a backup
 * has its binlog position, but compressed: it must not pass for one taken with binary logging off.
 */
const PER_FILE_COMPRESSED = /^xtrabackup_(?:binlog_info|info)\.(?:qp|zst|lz4)$/;
export const isPerFileCompressedMetadata = (name: string) => PER_FILE_COMPRESSED.test(name);

function perFileCompression(names: string[]): string | null {
  const hit = names.find(isPerFileCompressedMetadata);
  return hit
    ? `compressed file by file (${hit}: taken with --compress): decompress a copy first (mariadb-backup --decompress, which needs qpress; or xtrabackup --decompress) and put the result in the catalog — the runbook restores prepared directories and plain, zstd- or gzip-compressed streams`
    : null;
}

/** A backup's own account of itself; `problem` says why it cannot start a point-in-time recovery. */
export interface BackupMetadata {
  binlog: { file: string; position: number; gtid: string } | null;
  finishedAt: string | null;
  tool: string;
  /** xtrabackup_checkpoints backup_type: full-backuped (not prepared), full-prepared, log-applied, incremental. */
  backupType: string | null;
  /** Bytes of data the backup holds (a stream's payload: what its extraction occupies). */
  dataBytes?: number;
  problem: string | null;
}

/** "mysql-bin.000002<TAB>841583<TAB>0-1-2500" (GTID absent when the source had none). */
export function parseBinlogInfo(text: string | null): BackupMetadata['binlog'] {
  const m = text ? /^(\S+)\s+(\d+)\s*([\s\S]*)$/.exec(text.trim()) : null;
  if (!m) return null;
  return { file: m[1]!, position: Number(m[2]), gtid: (m[3] ?? '').replace(/\s+/g, '') };
}

/** "key = value" lines of xtrabackup_info / xtrabackup_checkpoints. */
export function parseKeyValues(text: string | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (text ?? '').split('\n')) {
    const m = /^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/**
 * xtrabackup_info's end_time ("2026-12-07 20:07:14") is the local time of the host that took the
 * backup, without a zone: it is read in this worker's zone (hosts of one fleet share one, usually UTC).
 */
export function endTimeIso(v: string | undefined): string | null {
  const m = v ? /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(v) : null;
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return new Date(y, mo - 1, d, h, mi, s).toISOString().replace('.000Z', 'Z');
}

/** Judges the three files, whether from a directory or a stream. */
export function judge(
  files: Record<string, string | null>,
  form: 'prepared-dir' | 'xbstream',
  names: string[] = [],
): BackupMetadata {
  const checkpoints = parseKeyValues(files.xtrabackup_checkpoints ?? null);
  const info = parseKeyValues(files.xtrabackup_info ?? null);
  const binlog = parseBinlogInfo(files.xtrabackup_binlog_info ?? null);
  const backupType = checkpoints.get('backup_type') ?? null;
  const tool = info.get('tool_name') || 'unknown';
  // Compressed metadata first: read as plain, it would pass for a backup without a binlog position.
  let problem: string | null = perFileCompression(names);
  if (problem !== null) return { binlog: null, finishedAt: null, tool, backupType, problem };
  if (files.xtrabackup_checkpoints === null || files.xtrabackup_checkpoints === undefined)
    problem = 'not a mariadb-backup/xtrabackup backup (no xtrabackup_checkpoints)';
  else if (checkpoints.get('incremental') === 'Y' || backupType === 'incremental')
    problem = 'an incremental backup: this runbook restores full backups';
  else if (form === 'prepared-dir' && backupType !== 'full-prepared' && backupType !== 'log-applied')
    problem = `not prepared (backup_type = ${backupType ?? 'missing'}): run ${tool === 'xtrabackup' ? 'xtrabackup' : 'mariadb-backup'} --prepare on it first`;
  else if (!binlog)
    problem =
      'no binlog position (xtrabackup_binlog_info missing or empty): the source had binary logging off, so no point-in-time recovery can start from it';
  return { binlog, finishedAt: endTimeIso(info.get('end_time')), tool, backupType, problem };
}

async function readText(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch(() => null);
}

/** The metadata of a backup directory. */
export async function readDirMetadata(dir: string): Promise<BackupMetadata> {
  const files: Record<string, string | null> = {};
  for (const name of METADATA_FILES) files[name] = await readText(join(dir, name));
  return judge(files, 'prepared-dir', await readdir(dir).catch(() => []));
}

/**
 * The metadata of a stream, read through it once (the files come last in it); every chunk is checked
 * on the way, so a damaged stream is unusable with the offset of the damage.
 */
export async function readStreamMetadata(
  raw: Readable,
  compression: BackupCompression,
): Promise<BackupMetadata> {
  const where = compression === 'none' ? '' : ` of the ${compression}-decompressed stream`;
  try {
    const s = await readXbstream(
      decompressed(raw, compression),
      (p) => METADATA_FILES.includes(p) || isPerFileCompressedMetadata(p),
    );
    const files: Record<string, string | null> = {};
    for (const name of METADATA_FILES) files[name] = s.kept.get(name)?.toString('utf8') ?? null;
    if (s.files === 0) return { ...judge({}, 'xbstream'), problem: 'an empty stream (no chunks)' };
    return { ...judge(files, 'xbstream', [...s.kept.keys()]), dataBytes: s.dataBytes };
  } catch (err) {
    const problem =
      err instanceof XbstreamDamaged
        ? `damaged xbstream: ${err.message}${where}`
        : err instanceof ZstdFailed || (err as NodeJS.ErrnoException).code?.startsWith('Z_')
          ? `cannot decompress (${compression}): ${(err as Error).message}`
          : null;
    if (!problem) throw err;
    return { binlog: null, finishedAt: null, tool: 'unknown', backupType: null, problem };
  }
}
