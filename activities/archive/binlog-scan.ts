// Reads binlog files directly (no mariadb-binlog process): every event is walked and, when the file
// carries checksums, CRC-verified (binlog-events.ts), and events are grouped into transactions with
// what the plan and the proof need: GTID, time, exact boundaries, row events and statements, the
// tables touched and the shapes a replay strategy may not handle. Indexes a 1 GiB file in seconds.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  BinlogDamaged,
  EVENT,
  EventWalker,
  isCompressedRowsEvent,
  isRowsEvent,
  NotABinlog,
  type BinlogEvent,
} from './binlog-events';

export { BinlogDamaged, NotABinlog } from './binlog-events';

const MARIADB_FL_STANDALONE = 0x01;
const MARIADB_FL_TRANSACTIONAL = 0x04;
const MARIADB_FL_DDL = 0x20;
const LOG_EVENT_THREAD_SPECIFIC_F = 0x4;
const ROWS_STMT_END_F = 0x0001;
/** MariaDB and MySQL pack a statement's rows into events of at most binlog_row_event_max_size (8 KiB by default). */
const DEFAULT_ROW_EVENT_MAX = 8192;
const MAX_TABLES = 8;
const STATEMENT_CHARS = 160;

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
}

function uuidFromBytes(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A MySQL packed (length-encoded) integer at `o`: its value and its width. */
function packedInt(b: Buffer, o: number): [number, number] | null {
  const first = b[o];
  if (first === undefined) return null;
  if (first < 251) return [first, 1];
  if (first === 252 && o + 3 <= b.length) return [b.readUInt16LE(o + 1), 3];
  if (first === 253 && o + 4 <= b.length) return [b.readUIntLE(o + 1, 3), 4];
  if (first === 254 && o + 9 <= b.length) return [Number(b.readBigUInt64LE(o + 1)), 9];
  return null;
}

/** Whether every one of `width` columns is present in the bitmap at `o`. */
function allColumns(b: Buffer, o: number, width: number): boolean {
  for (let i = 0; i < width; i++) {
    const byte = b[o + (i >> 3)];
    if (byte === undefined || !(byte & (1 << (i & 7)))) return false;
  }
  return true;
}

/** Rows event post-header: table id (6), flags (2), and for v2 events (30-32, 39) extra data. */
function rowsEventShape(e: BinlogEvent): { statementEnd: boolean; fullImage: boolean | null } {
  const b = e.body;
  if (b.length < 8) return { statementEnd: false, fullImage: null };
  const flags = b.readUInt16LE(6);
  const statementEnd = (flags & ROWS_STMT_END_F) !== 0;
  if (isCompressedRowsEvent(e.type)) return { statementEnd, fullImage: null };
  let o = 8;
  if (e.type >= 30 && e.type <= 32) o += b.length >= 10 ? b.readUInt16LE(8) : 2;
  else if (e.type === 39) o += b.length >= 10 ? b.readUInt16LE(8) : 2;
  const w = packedInt(b, o);
  if (!w) return { statementEnd, fullImage: null };
  const [width, len] = w;
  o += len;
  const before = allColumns(b, o, width);
  const isUpdate = e.type === 24 || e.type === 31 || e.type === 39 || e.type === 167 || e.type === 170;
  const after = !isUpdate || allColumns(b, o + Math.ceil(width / 8), width);
  return { statementEnd, fullImage: before && after };
}

function queryText(b: Buffer): string | null {
  if (b.length < 13) return null;
  const dbLen = b.readUInt8(8);
  const statusLen = b.readUInt16LE(11);
  const start = 13 + statusLen + dbLen + 1;
  if (start > b.length) return null;
  return b.subarray(start).toString('utf8').trim();
}

function tableName(b: Buffer): string | null {
  // table_id (6), flags (2), db length, db, NUL, table length, table, NUL
  if (b.length < 9) return null;
  const dbLen = b.readUInt8(8);
  const tLenAt = 9 + dbLen + 1;
  if (tLenAt >= b.length) return null;
  const tLen = b.readUInt8(tLenAt);
  const db = b.subarray(9, 9 + dbLen).toString('utf8');
  const table = b.subarray(tLenAt + 1, tLenAt + 1 + tLen).toString('utf8');
  return `\`${db}\`.\`${table}\``;
}

const shorten = (s: string) => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > STATEMENT_CHARS ? `${one.slice(0, STATEMENT_CHARS - 1)}…` : one;
};

/**
 * Groups the events of one file into transactions and describes the file. Fed by an EventWalker;
 * `onTransaction` returning false asks the reader to stop.
 */
class TransactionGrouper {
  readonly summary: BinlogFileSummary;
  private open: BinlogTransaction | null = null;
  /** The open transaction's last rows event: its size and whether it ended its statement. */
  private lastRowsSize = 0;
  private lastRowsEnded = true;
  stop = false;

  constructor(
    size: number,
    private readonly onTransaction?: (t: BinlogTransaction, file: BinlogFileSummary) => void | false,
  ) {
    this.summary = {
      flavor: 'unknown',
      serverVersion: '',
      checksums: 'unknown',
      size,
      validEnd: 4,
      gtidsBefore: '',
      transactions: 0,
      firstGtid: null,
      lastGtid: null,
      firstEventTime: null,
      lastEventTime: null,
      closed: false,
      events: 0,
    };
  }

  private begin(
    gtid: string,
    e: BinlogEvent,
    standalone: boolean,
    ddl: boolean,
    transactional: boolean | null,
  ): void {
    this.finish(e.pos); // a transaction never spans a GTID event; close a dangling one defensively
    this.open = {
      gtid,
      time: e.time,
      startPos: e.pos,
      endPos: e.pos + e.size,
      rowEvents: 0,
      rowStatements: 0,
      queries: 0,
      ddl,
      standalone,
      transactional,
      sessionSpecific: false,
      statement: '',
      tables: [],
      largestEvent: e.size,
      partialRowImage: false,
      widePacking: false,
    };
    this.lastRowsSize = 0;
    this.lastRowsEnded = true;
  }

  private finish(endPos: number): void {
    const t = this.open;
    if (!t) return;
    this.open = null;
    t.endPos = endPos;
    const s = this.summary;
    s.transactions++;
    s.firstGtid ??= t.gtid;
    s.lastGtid = t.gtid;
    if (this.onTransaction?.(t, s) === false) this.stop = true;
  }

  onEvent(e: BinlogEvent): void {
    const s = this.summary;
    s.validEnd = e.pos + e.size;
    s.events++;
    if (e.type !== EVENT.FORMAT_DESCRIPTION && e.time > 0) {
      s.firstEventTime ??= e.time;
      s.lastEventTime = e.time;
    }
    const o = this.open;
    if (o) o.largestEvent = Math.max(o.largestEvent, e.size);
    const b = e.body;
    switch (e.type) {
      case EVENT.FORMAT_DESCRIPTION: {
        s.serverVersion = b.subarray(2, 52).toString('latin1').replace(/\0.*$/s, '');
        s.flavor = /mariadb/i.test(s.serverVersion) ? 'mariadb' : 'mysql';
        break;
      }
      case EVENT.MARIADB_GTID_LIST: {
        const count = b.length >= 4 ? b.readUInt32LE(0) & 0x0fffffff : 0;
        // One GTID per (domain, server_id) ever seen, each domain's most recent one last; keep that
        // one per domain, so gtidsBefore is a position (like gtid_binlog_pos).
        const gtids = new Map<number, string>();
        for (let i = 0; i < count && 4 + 16 * (i + 1) <= b.length; i++) {
          const at = 4 + 16 * i;
          const domain = b.readUInt32LE(at);
          gtids.set(domain, `${domain}-${b.readUInt32LE(at + 4)}-${b.readBigUInt64LE(at + 8)}`);
        }
        s.gtidsBefore = [...gtids.values()].join(',');
        break;
      }
      case EVENT.MYSQL_PREVIOUS_GTIDS: {
        s.gtidsBefore = mysqlGtidSet(b);
        break;
      }
      case EVENT.MARIADB_GTID: {
        if (b.length < 13) throw new BinlogDamaged(e.pos, 'GTID event too short');
        const seq = b.readBigUInt64LE(0);
        const domain = b.readUInt32LE(8);
        const flags = b.readUInt8(12);
        this.begin(
          `${domain}-${e.serverId}-${seq}`,
          e,
          (flags & MARIADB_FL_STANDALONE) !== 0,
          (flags & MARIADB_FL_DDL) !== 0,
          (flags & MARIADB_FL_TRANSACTIONAL) !== 0,
        );
        break;
      }
      case EVENT.MYSQL_GTID:
      case EVENT.MYSQL_ANONYMOUS_GTID: {
        if (b.length < 25) throw new BinlogDamaged(e.pos, 'GTID event too short');
        const gtid =
          e.type === EVENT.MYSQL_GTID
            ? `${uuidFromBytes(b.subarray(1, 17))}:${b.readBigUInt64LE(17)}`
            : 'ANONYMOUS';
        // MySQL DDL has no XID: its single Query event ends it, like MariaDB's standalone flag.
        this.begin(gtid, e, false, false, null);
        break;
      }
      case EVENT.XID:
      case EVENT.MYSQL_XA_PREPARE:
        this.finish(e.pos + e.size);
        break;
      case EVENT.MARIADB_ANNOTATE_ROWS:
        if (o && !o.statement) o.statement = shorten(b.toString('utf8'));
        break;
      case EVENT.TABLE_MAP: {
        const name = tableName(b);
        if (o && name && !o.tables.includes(name) && o.tables.length < MAX_TABLES) o.tables.push(name);
        break;
      }
      case EVENT.QUERY:
      case EVENT.MARIADB_QUERY_COMPRESSED:
        if (o) this.onQuery(o, e);
        break;
      case EVENT.ROTATE:
        // The source's rotate at the end closes the file; an artificial one at offset 4 does not.
        if (e.pos > 4) s.closed = true;
        break;
      case EVENT.STOP:
        s.closed = true;
        break;
      default:
        if (o && isRowsEvent(e.type)) {
          const shape = rowsEventShape(e);
          o.rowEvents++;
          if (shape.statementEnd) o.rowStatements++;
          if (shape.fullImage === false) o.partialRowImage = true;
          // A statement's events before its last one are full: larger than 8 KiB means other packing.
          if (!this.lastRowsEnded && this.lastRowsSize > DEFAULT_ROW_EVENT_MAX + 256) o.widePacking = true;
          this.lastRowsSize = e.size;
          this.lastRowsEnded = shape.statementEnd;
        }
    }
  }

  private onQuery(o: BinlogTransaction, e: BinlogEvent): void {
    if (e.flags & LOG_EVENT_THREAD_SPECIFIC_F) o.sessionSpecific = true;
    const text = e.type === EVENT.QUERY ? queryText(e.body) : null;
    const upper = (text ?? '').slice(0, 32).toUpperCase();
    if (upper === 'BEGIN' || upper === 'START TRANSACTION') return;
    // A group ends with COMMIT, or ROLLBACK (STATEMENT format keeps what a non-transactional table did).
    if (
      upper === 'COMMIT' ||
      upper === 'ROLLBACK' ||
      upper.startsWith('XA COMMIT') ||
      upper.startsWith('XA ROLLBACK')
    ) {
      if (upper.startsWith('XA ')) o.queries++;
      this.finish(e.pos + e.size);
      return;
    }
    o.queries++;
    if (!o.statement) o.statement = text === null ? '(compressed query)' : shorten(text);
    if (o.standalone || upper.startsWith('XA PREPARE')) {
      this.finish(e.pos + e.size);
      return;
    }
    // MySQL: a DDL is one query event; CREATE … SELECT (8.0.21+) ends "START TRANSACTION" and goes on.
    if (this.summary.flavor === 'mysql' && !/START TRANSACTION\s*$/i.test(text ?? ''))
      this.finish(e.pos + e.size);
  }
}

function mysqlGtidSet(b: Buffer): string {
  const parts: string[] = [];
  let o = 0;
  if (b.length < 8) return '';
  const nSids = Number(b.readBigUInt64LE(o));
  o += 8;
  for (let i = 0; i < nSids && o + 24 <= b.length; i++) {
    const uuid = uuidFromBytes(b.subarray(o, o + 16));
    const n = Number(b.readBigUInt64LE(o + 16));
    o += 24;
    const ranges: string[] = [];
    for (let j = 0; j < n && o + 16 <= b.length; j++) {
      const start = b.readBigUInt64LE(o);
      const endEx = b.readBigUInt64LE(o + 8);
      o += 16;
      ranges.push(endEx - start === 1n ? `${start}` : `${start}-${endEx - 1n}`);
    }
    parts.push(`${uuid}:${ranges.join(':')}`);
  }
  return parts.join(',');
}

/** A reading error that names the file it is about. */
function naming(err: unknown, file: string | undefined): unknown {
  if (err instanceof BinlogDamaged && file) return err.in(file);
  if (err instanceof NotABinlog) return new NotABinlog(`${file ?? 'the file'}: ${err.message}`);
  return err;
}

/**
 * Walks a binlog given as a stream of chunks, calling `onTransaction` for each complete transaction.
 * Tolerates a file that ends mid-event (the active file of a live archiver): it stops at the last
 * complete event (`validEnd` < `size`). Throws NotABinlog on a file that is not a binlog, and
 * BinlogDamaged on a damaged event (bad CRC32, impossible size) unless `verify` is false.
 */
export async function scanBinlogStream(
  chunks: AsyncIterable<Buffer>,
  size: number,
  onTransaction?: (t: BinlogTransaction, file: BinlogFileSummary) => void | false,
  opts: ScanOptions = {},
): Promise<BinlogFileSummary> {
  const grouper = new TransactionGrouper(size, onTransaction);
  const onEventEnd = opts.onEventEnd;
  const walker = new EventWalker((e) => {
    if (grouper.stop) return;
    grouper.onEvent(e);
    onEventEnd?.(e.pos + e.size);
  }, opts.verify ?? true);
  const hash: Hash | null = opts.sha256 ? createHash('sha256') : null;
  let read = 0;
  try {
    for await (const chunk of chunks) {
      hash?.update(chunk);
      read += chunk.length;
      walker.push(chunk);
      if (grouper.stop) break;
    }
    if (!grouper.stop) walker.end();
  } catch (err) {
    throw naming(err, opts.name);
  }
  const s = grouper.summary;
  s.checksums = walker.checksums;
  s.validEnd = walker.validEnd;
  // The bytes there really were (a file read to its end), else what the caller said it holds.
  s.size = grouper.stop ? Math.max(s.size, read) : read;
  if (hash && !grouper.stop) s.sha256 = hash.digest('hex');
  return s;
}

/** scanBinlogStream over a local file. */
export async function scanBinlog(
  path: string,
  onTransaction?: (t: BinlogTransaction, file: BinlogFileSummary) => void | false,
  opts: ScanOptions = {},
): Promise<BinlogFileSummary> {
  const { size } = await stat(path);
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    return await scanBinlogStream(stream, size, onTransaction, { name: path, ...opts });
  } finally {
    stream.destroy();
  }
}

/** Every event start offset in the file plus its end: the positions a `position` target may name. */
export async function eventBoundaries(path: string): Promise<Set<number>> {
  const out = new Set<number>([4]);
  const walker = new EventWalker((e) => void out.add(e.pos + e.size), true);
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) walker.push(chunk as Buffer);
  } catch (err) {
    throw naming(err, path);
  } finally {
    stream.destroy();
  }
  return out;
}

/**
 * The transactions of a binlog as an async stream (for comparing two binlogs side by side without
 * holding either): the same reading and verification as scanBinlogStream, yielded chunk by chunk.
 */
export async function* binlogTransactions(
  path: string,
  opts: Pick<ScanOptions, 'verify'> = {},
): AsyncGenerator<BinlogTransaction> {
  let ready: BinlogTransaction[] = [];
  const grouper = new TransactionGrouper(0, (t) => void ready.push(t));
  const walker = new EventWalker((e) => grouper.onEvent(e), opts.verify ?? true);
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) {
      walker.push(chunk as Buffer);
      const batch = ready;
      ready = [];
      yield* batch;
    }
    walker.end();
  } catch (err) {
    throw naming(err, path);
  } finally {
    stream.destroy();
  }
}
