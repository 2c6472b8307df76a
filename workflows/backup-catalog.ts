// A cluster's base backups as the plan sees them (issue 15): the catalog they live in, and one backup
// of it with the coordinates read from its own metadata. Shared by the plan (which chooses one), the
// fetch (which turns a stream into a prepared directory) and the restore. Pure code.
import type { z } from 'zod';
import { Archive } from './schemas';

/** Where a cluster keeps its base backups (fleet catalog): a directory or an S3 prefix, shaped as an archive. */
export const BackupCatalogLocation = Archive;
export type BackupCatalogLocation = z.infer<typeof BackupCatalogLocation>;

/** A prepared directory (restore copies it back), or an xbstream stream (fetched and prepared first). */
export type BackupForm = 'prepared-dir' | 'xbstream';
/** How a stream file is compressed as a whole (`mariadb-backup --stream=xbstream | zstd`, `| gzip`). */
export type BackupCompression = 'none' | 'zstd' | 'gzip';

/** One backup of a catalog. */
export interface BackupEntry {
  /** Its name in the catalog: a subdirectory or file of the directory, an object key under the prefix. */
  name: string;
  /** Stable identity: name plus size and modification time or ETag (a replaced object is another backup). */
  id: string;
  form: BackupForm;
  compression: BackupCompression;
  /** Size in the catalog (bytes of the directory, the file or the object). */
  bytes: number;
  /** When the backup finished (xtrabackup_info end_time, UTC ISO), when it says. */
  finishedAt: string | null;
  /** Where the backup's data ends in the source's binlog (xtrabackup_binlog_info). */
  binlog: { file: string; position: number; gtid: string };
  /** The tool that wrote it (xtrabackup_info tool_name), e.g. mariadb-backup. */
  tool: string;
}
