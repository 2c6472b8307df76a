// Groups the events of one binlog file into transactions (GTID to commit) and describes the file:
// the per-event state machine behind scanBinlogStream and binlogTransactions (binlog-scan.ts).
import { BinlogDamaged, EVENT, isRowsEvent, type BinlogEvent } from './binlog-events';
import {
  mysqlGtidSet,
  queryText,
  rowsEventShape,
  shorten,
  tableName,
  uuidFromBytes,
} from './binlog-event-fields';
import type { BinlogFileSummary, BinlogTransaction } from './binlog-scan-types';

const MARIADB_FL_STANDALONE = 0x01;
const MARIADB_FL_TRANSACTIONAL = 0x04;
const MARIADB_FL_DDL = 0x20;
const LOG_EVENT_THREAD_SPECIFIC_F = 0x4;
/** MariaDB and MySQL pack a statement's rows into events of at most binlog_row_event_max_size (8 KiB by default). */
const DEFAULT_ROW_EVENT_MAX = 8192;
const MAX_TABLES = 8;

/**
 * Groups the events of one file into transactions and describes the file. Fed by an EventWalker;
 * `onTransaction` returning false asks the reader to stop.
 */
export class TransactionGrouper {
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
