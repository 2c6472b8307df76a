// An archive of real MariaDB binlog bytes (with CRC32 trailers) held in memory, for planner tests:
// each file is built from a spec by the test binlog writer, and its index entry is derived from the
// spec, not by the scanner under test. Files can then be damaged, removed or swapped in any way.
import { createHash } from 'node:crypto';
import type { ArchiveIndex, ArchivedFile } from '../../activities/archive/archive';
import type { ReadArchived } from '../../activities/archive/archive-read';
import {
  buildBinlog,
  fde,
  mariadbGtid,
  mariadbGtidList,
  query,
  rotate,
  rowsEvent,
  T,
  tableMap,
  xid,
  type Ev,
} from './binlog-writer';

export type Gtid = [domain: number, server: number, seq: number];

export interface TxSpec {
  gtid: Gtid;
  time: number;
  /** A standalone DDL statement instead of a row change. */
  ddl?: string;
  /** CREATE … SELECT in ROW format: a DDL group with row events. */
  ctas?: boolean;
  /** STATEMENT format writing a transactional and a non-transactional table (not flagged transactional). */
  mixedEngines?: boolean;
  /** A statement-format change (a query, no row events), as STATEMENT/MIXED binlogs hold. */
  statement?: string;
  /** Row events the change is spread over (default 1). */
  rowEvents?: number;
  /** Size of the row event's payload (default a few bytes). */
  rowBytes?: number;
}

export interface FileSpec {
  name: string;
  gtidsBefore: Gtid[];
  txs: TxSpec[];
  /** Ends with a rotate event (the server moved on to the next file). */
  closed: boolean;
}

export const binlogName = (n: number) => `mysql-bin.${String(n).padStart(6, '0')}`;
const text = (g: Gtid) => g.join('-');

/** The events of one transaction, from its GTID event to its end. */
export function txEvents(t: TxSpec): Ev[] {
  const [domain, server, seq] = t.gtid;
  const at = (e: Ev): Ev => ({ ...e, time: t.time, serverId: server });
  if (t.ddl) return [mariadbGtid(domain, server, seq, 0x21, t.time), at(query(t.ddl))];
  if (t.statement)
    return [
      mariadbGtid(domain, server, seq, 0x0c, t.time),
      at(query('BEGIN')),
      at(query(t.statement)),
      at(xid(seq)),
    ];
  if (t.mixedEngines)
    return [
      mariadbGtid(domain, server, seq, 0x08, t.time),
      at(query('BEGIN')),
      at(query(`INSERT INTO shop.t VALUES (${seq})`)),
      at(query('UPDATE shop.myisam_counter SET n = n + 1')),
      at(xid(seq)),
    ];
  if (t.ctas)
    return [
      mariadbGtid(domain, server, seq, 0x28, t.time),
      at(query('CREATE TABLE `shop`.`copy` (`id` int(11) NOT NULL)')),
      at({ type: T.MARIADB_ANNOTATE_ROWS, body: Buffer.from('CREATE TABLE shop.copy SELECT * FROM shop.t') }),
      at(tableMap()),
      at(rowsEvent(30)),
      at(xid(seq)),
    ];
  const count = t.rowEvents ?? 1;
  const rows = Array.from({ length: count }, (_, i) =>
    at(
      rowsEvent(30, {
        statementEnd: i === count - 1,
        ...(t.rowBytes ? { payload: Buffer.alloc(t.rowBytes, 7) } : {}),
      }),
    ),
  );
  return [
    mariadbGtid(domain, server, seq, 0x0c, t.time),
    at({ type: T.MARIADB_ANNOTATE_ROWS, body: Buffer.from(`INSERT INTO shop.t VALUES (${seq})`) }),
    at(tableMap()),
    ...rows,
    at(xid(seq)),
  ];
}

export interface BuiltFile {
  spec: FileSpec;
  bytes: Buffer;
  /** Start and end offset of each transaction, in order. */
  txs: { gtid: string; startPos: number; endPos: number }[];
}

export function buildFile(spec: FileSpec): BuiltFile {
  const events: Ev[] = [fde('10.11.19-MariaDB-log', 1), mariadbGtidList(spec.gtidsBefore)];
  const groups: { gtid: string; first: number; last: number }[] = [];
  for (const t of spec.txs) {
    const evs = txEvents(t);
    groups.push({ gtid: text(t.gtid), first: events.length, last: events.length + evs.length - 1 });
    events.push(...evs);
  }
  if (spec.closed)
    events.push(rotate(spec.name.replace(/\d+$/, (d) => String(Number(d) + 1).padStart(d.length, '0'))));
  const b = buildBinlog(events, true);
  return {
    spec,
    bytes: b.bytes,
    txs: groups.map((g) => ({ gtid: g.gtid, startPos: b.starts[g.first]!, endPos: b.ends[g.last]! })),
  };
}

/** The index entry the archiver would write for a file, from its spec and bytes. */
export function entryOf(f: BuiltFile): ArchivedFile {
  const { spec } = f;
  const times = spec.txs.map((t) => t.time);
  const domains = new Map<number, Gtid>();
  for (const g of spec.gtidsBefore) domains.set(g[0], g);
  return {
    name: spec.name,
    size: f.bytes.length,
    sha256: createHash('sha256').update(f.bytes).digest('hex'),
    gtidsBefore: [...domains.values()].map(text).join(','),
    firstGtid: spec.txs[0] ? text(spec.txs[0].gtid) : null,
    lastGtid: spec.txs.at(-1) ? text(spec.txs.at(-1)!.gtid) : null,
    firstEventTime: times.length ? Math.min(...times) : null,
    lastEventTime: times.length ? Math.max(...times) : null,
    transactions: spec.txs.length,
    complete: spec.closed,
  };
}

export const T0 = 1_780_000_000;

/** File n (1-based) of a chain: GTIDs 0-1-(10(n-1)+1) … 0-1-10n, stamped T0+1000(n-1)+100k. */
export function chainFile(n: number, count: number, over: Partial<FileSpec> = {}): FileSpec {
  const txs: TxSpec[] = [];
  for (let k = 0; k < 10; k++)
    txs.push({ gtid: [0, 1, 10 * (n - 1) + k + 1], time: T0 + 1000 * (n - 1) + 100 * k });
  return {
    name: binlogName(n),
    gtidsBefore: n === 1 ? [] : [[0, 1, 10 * (n - 1)]],
    txs,
    closed: n < count,
    ...over,
  };
}

/** An archive held in memory; `reads` records every file read. */
export class MemoryArchive {
  readonly files = new Map<string, BuiltFile>();
  reads: string[] = [];

  constructor(specs: FileSpec[]) {
    for (const s of specs) this.files.set(s.name, buildFile(s));
  }

  index(): ArchiveIndex {
    return {
      version: 1,
      files: [...this.files.values()].map(entryOf).sort((a, b) => a.name.localeCompare(b.name)),
    };
  }

  file(name: string): BuiltFile {
    const f = this.files.get(name);
    if (!f) throw new Error(`no file ${name}`);
    return f;
  }

  /** Replaces a file's bytes after indexing (damage, truncation, another server's file). */
  setBytes(name: string, bytes: Buffer): void {
    this.files.set(name, { ...this.file(name), bytes });
  }

  reader(chunk = 4096): ReadArchived {
    return async (f) => {
      this.reads.push(f.name);
      const bytes = this.file(f.name).bytes;
      return {
        chunks: (async function* () {
          for (let o = 0; o < bytes.length; o += chunk) yield bytes.subarray(o, o + chunk);
        })(),
        path: () => `/memory/${f.name}`,
      };
    };
  }
}
