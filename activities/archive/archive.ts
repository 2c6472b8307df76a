// The binlog archive: where archived binary log files live, plus an index that describes each file
// (GTID range, event-time range, size, checksum) so planning never has to read or list every file.
import type { Readable } from 'node:stream';
import { failure } from '../../workflows/failures';

/** What the index knows about one archived binlog file. Times are Unix seconds (binlog time is UTC). */
export interface ArchivedFile {
  name: string; // e.g. mysql-bin.000042 (never a path)
  size: number;
  sha256: string;
  /** GTID state at the start of the file (MariaDB Gtid_list / MySQL Previous_gtids), '' when none. */
  gtidsBefore: string;
  firstGtid: string | null;
  lastGtid: string | null;
  firstEventTime: number | null;
  lastEventTime: number | null;
  transactions: number;
  /** false while the file may still grow (the source has not rotated past it). */
  complete: boolean;
}

export interface ArchiveIndex {
  version: 1;
  files: ArchivedFile[]; // sorted by name
}

/** Storage backend of an archive. Implementations: filesystem (embedded default) and S3. */
export interface BinlogArchive {
  /** Human-readable location, for messages (never contains a secret). */
  readonly location: string;
  /** Names and sizes of every binlog file stored (all pages; no 1,000-key limit). Excludes the index. */
  listFiles(): Promise<{ name: string; size: number }[]>;
  readIndex(): Promise<ArchiveIndex>;
  writeIndex(index: ArchiveIndex): Promise<void>;
  /** Stores a local file under `name` (overwrites). */
  putFile(name: string, localPath: string): Promise<void>;
  /** Copies the stored file to `destPath` (atomically: temp file + rename). */
  fetchFile(name: string, destPath: string): Promise<void>;
  openFile(name: string): Promise<Readable>;
  /** A local path for the file if the backend is local (no copy needed), else null. */
  localPath(name: string): string | null;
}

export const INDEX_NAME = 'binlog-index.json';

export function emptyIndex(): ArchiveIndex {
  return { version: 1, files: [] };
}

/** Binlog file names are `<basename>.<6+ digits>`; anything else in an archive is not a binlog. */
export const BINLOG_NAME = /^[A-Za-z0-9_.-]+\.\d{6,}$/;

export function binlogSequence(name: string): number {
  const m = /\.(\d+)$/.exec(name);
  if (!m?.[1]) throw failure('ArchiveDamaged', `not a binlog file name: ${JSON.stringify(name)}`);
  return Number(m[1]);
}
