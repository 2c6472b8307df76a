// The binlog scan's result types: one transaction as the binlog holds it, the summary of a file, and
// the scan's options (binlog-scan.ts reads, binlog-grouper.ts fills them in).
import type { BinlogEvent } from './binlog-events';

/** One transaction as the binlog holds it: from its GTID event to the end of its commit event. */
export interface BinlogTransaction {
  gtid: string;
  /** Unix seconds of the GTID event (when the transaction started executing on the source). */
  time: number;
  startPos: number;
  endPos: number;
  /** Write/update/delete rows events, and how many statements they close (STMT_END_F). */
  rowEvents: number;
  rowStatements: number;
  /** Query events other than BEGIN / COMMIT: DDL and statement-format changes. */
  queries: number;
  /** MariaDB flags this group as DDL (CREATE … SELECT is DDL *with* row events). */
  ddl: boolean;
  standalone: boolean;
  /** MariaDB: every change of the group is to transactional tables (null where the binlog does not say). */
  transactional: boolean | null;
  /** Some statement depends on session state (temporary tables, under STATEMENT/MIXED). */
  sessionSpecific: boolean;
  /** The first statement (Annotate_rows or the first query), shortened. */
  statement: string;
  /** `db`.`table` of its table maps (at most 8). */
  tables: string[];
  largestEvent: number;
  /** A row image without every column (binlog_row_image MINIMAL or NOBLOB). */
  partialRowImage: boolean;
  /** A statement's rows packed in events larger than the default 8 KiB (another binlog_row_event_max_size). */
  widePacking: boolean;
}

export interface BinlogFileSummary {
  flavor: 'mariadb' | 'mysql' | 'unknown';
  /** Server version from the format description event. */
  serverVersion: string;
  checksums: 'crc32' | 'none' | 'unknown';
  size: number;
  /** Offset just past the last complete event; less than size when the file ends mid-event. */
  validEnd: number;
  gtidsBefore: string;
  transactions: number;
  firstGtid: string | null;
  lastGtid: string | null;
  firstEventTime: number | null;
  lastEventTime: number | null;
  /** A rotate or stop event closes the file: nothing more will be written to it. */
  closed: boolean;
  events: number;
  /** sha256 of the bytes read, when asked for and the whole file was read. */
  sha256?: string;
}

export interface ScanOptions {
  /** Verify every event's CRC32 and header (default true): damage throws BinlogDamaged. */
  verify?: boolean;
  /** Also hash the bytes read (sha256). */
  sha256?: boolean;
  /** Name used in error messages (default: the path). */
  name?: string;
  /** Called with the end offset of every complete event. */
  onEventEnd?: (end: number) => void;
  /** Called with every complete event, before the transaction it belongs to is handed out. */
  onEvent?: (e: BinlogEvent) => void;
}
