// Finds the accident: reads the archived binlogs of a time window (the replay's own window reader,
// so every byte is verified by the same rules as a replay: CRC32, the index's sha256, truncation, the
// GTID chain) and lists the transactions that touch one table — GTID, time, file:pos, the server id
// of the session, what they did to it (DROP, TRUNCATE, DDL, DELETE/UPDATE/INSERT and how many rows),
// the statement. Only headers, table maps and query texts are read; rows are counted by stepping over
// row images (accident-rows.ts), never decoded. The likely accident (accident-rule.ts) comes with the
// exact recovery target that stops just before it.
import { z } from 'zod';
import { failure } from '../../workflows/failures';
import type { RecoveryTarget } from '../../workflows/schemas';
import type { BinlogArchive, ArchivedFile } from './archive';
import type { ReadArchived } from './archive-read';
import { EVENT, isRowsEvent, type BinlogEvent } from './binlog-events';
import { queryText } from './binlog-event-fields';
import { countRows, readTableMap, type TableMap } from './accident-rows';
import { effectOn, parseTableName, showTable, statementEffect, type TableName } from './accident-sql';
import {
  couldFlag,
  flagOf,
  hasKind,
  RowSizes,
  rowsOf,
  type Change,
  type FoundTransaction,
} from './accident-rule';
import { PlanError, WindowReader } from '../replay/replay-window';
import { indexGaps, iso } from '../replay/replay-target';

export type { FoundTransaction } from './accident-rule';

const STATEMENT_MAX = 300;
/** The latest transactions listed; flagged ones are listed before them, at most FLAGGED_LISTED. */
const LISTED = 200;
const FLAGGED_LISTED = 100;
/** Transactions that may be flagged, kept until the window's median is known (the rest: the latest only). */
const MAX_CANDIDATES = 20_000;

export const FindKind = z.enum(['drop', 'truncate', 'delete', 'update', 'insert', 'ddl']);
export const FindQuery = z
  .object({
    table: z.string().min(1).max(200),
    kind: FindKind.optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();
export type FindQuery = z.infer<typeof FindQuery>;

export interface FindResult {
  table: string;
  kind: string;
  archive: string;
  window: { from: string; to: string; files: string[]; bytes: number; seconds: number };
  /** Transactions of the window read (all tables). */
  scanned: number;
  /** Transactions touching the table (of the kind asked), and those listed (flagged ones always). */
  matching: number;
  listed: FoundTransaction[];
  accident: FoundTransaction | null;
  /** The targets that stop just before the accident: GTID (exclusive) and position. */
  target: RecoveryTarget | null;
  positionTarget: RecoveryTarget | null;
  warnings: string[];
}

const ROW_KIND: Record<number, Change['kind']> = {
  23: 'insert', 30: 'insert', 166: 'insert', 169: 'insert',
  24: 'update', 31: 'update', 39: 'update', 167: 'update', 170: 'update',
  25: 'delete', 32: 'delete', 168: 'delete', 171: 'delete',
}; // prettier-ignore

const bounded = (s: string) => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > STATEMENT_MAX ? `${one.slice(0, STATEMENT_MAX - 1)}…` : one;
};

/** The default database of a Query event (its `db` field). */
function queryDb(b: Buffer): string | null {
  if (b.length < 13) return null;
  const dbLen = b[8]!;
  const at = 13 + b.readUInt16LE(11);
  return dbLen && at + dbLen <= b.length ? b.subarray(at, at + dbLen).toString('utf8') : null;
}

/** Per-event reading of one window: what each transaction did to the table. */
class TableWatch {
  private maps = new Map<number, TableMap>();
  private open: (Omit<FoundTransaction, 'gtid' | 'time' | 'file' | 'endPos'> & { touched: boolean }) | null =
    null;
  private annotate = '';
  readonly pending = new Map<number, NonNullable<TableWatch['open']>>();

  constructor(private readonly table: TableName) {}

  onEvent = (e: BinlogEvent): void => {
    const t = e.type;
    if (t === EVENT.FORMAT_DESCRIPTION) this.maps.clear();
    else if (t === EVENT.MARIADB_GTID || t === EVENT.MYSQL_GTID || t === EVENT.MYSQL_ANONYMOUS_GTID) {
      this.open = { position: e.pos, serverId: e.serverId, changes: [], statement: '', touched: false };
      this.annotate = '';
    } else if (t === EVENT.MARIADB_ANNOTATE_ROWS) this.annotate = e.body.toString('utf8', 0, 4096);
    else if (t === EVENT.TABLE_MAP) {
      const m = readTableMap(e.body);
      if (m && m.schema === this.table.schema && m.table === this.table.table) this.maps.set(m.tableId, m);
      else if (m) this.maps.delete(m.tableId);
    } else if (t === EVENT.QUERY) this.onQuery(e);
    else if (isRowsEvent(t) && e.body.length >= 6) {
      const map = this.maps.get(e.body.readUIntLE(0, 6));
      if (map) this.onRows(e, map);
    }
  };

  private touch(change: Change, statement: string): void {
    const o = this.open;
    if (!o) return;
    const same = o.changes.find((c) => c.kind === change.kind && c.how === change.how && !c.destroys);
    if (same && !change.destroys)
      same.rows = same.rows === null || change.rows === null ? null : same.rows + change.rows;
    else o.changes.push(change);
    if (!o.statement && statement) o.statement = bounded(statement);
    if (!o.touched) this.pending.set(o.position, o);
    o.touched = true;
  }

  private onQuery(e: BinlogEvent): void {
    const text = queryText(e.body);
    if (!text || text.length < 6) return; // BEGIN, COMMIT
    const effect = statementEffect(text, queryDb(e.body));
    if (!effect || !effectOn(effect, this.table)) return;
    const name = showTable(this.table);
    const destroys =
      effect.schema !== undefined
        ? `DROP DATABASE ${effect.schema}: drops ${name}`
        : effect.kind === 'drop'
          ? `DROP TABLE of ${name}`
          : effect.kind === 'truncate'
            ? `TRUNCATE of ${name}`
            : effect.replaces
              ? `CREATE OR REPLACE of ${name}: the table was dropped first`
              : effect.everyRow
                ? `${effect.kind.toUpperCase()} without WHERE or LIMIT (STATEMENT format): every row of ${name}`
                : undefined;
    this.touch({ kind: effect.kind, rows: null, how: 'statement', ...(destroys ? { destroys } : {}) }, text);
  }

  private onRows(e: BinlogEvent, map: TableMap): void {
    const kind = ROW_KIND[e.type];
    if (!kind) return;
    const n = countRows(e.type, e.body, e.bodyLength, map);
    this.touch({ kind, rows: n.rows, how: n.how }, this.annotate);
  }
}

/** The files of the window, from the index: refused when the archive does not cover it at all. */
function windowFiles(files: ArchivedFile[], from: number | null, to: number | null, location: string) {
  if (!files.length)
    throw failure('PlanRefused', `the archive ${location} holds no binlog files; nothing was read`);
  const first = files.find((f) => f.firstEventTime !== null)?.firstEventTime ?? null;
  const last = [...files].reverse().find((f) => f.lastEventTime !== null)?.lastEventTime ?? null;
  const range = `the archive ${location} covers ${iso(first)} … ${iso(last)} (${files[0]!.name} … ${files.at(-1)!.name})`;
  if (first === null || last === null || (from !== null && from > last) || (to !== null && to < first))
    throw failure(
      'PlanRefused',
      `no archived binlog covers the window ${iso(from)} … ${iso(to)}: ${range}; nothing was read`,
    );
  let s = 0;
  if (from !== null) while (s + 1 < files.length && (files[s + 1]!.firstEventTime ?? Infinity) < from) s++;
  let e = files.length - 1;
  if (to !== null) while (e > s && (files[e]!.firstEventTime ?? -Infinity) > to) e--;
  const warnings =
    from !== null && from < first ? [`the window starts before the archive does: ${range}`] : [];
  return { s, e, warnings, first, last };
}

export interface FindDeps {
  archive: BinlogArchive;
  read: ReadArchived;
  /** Called as each file is read (heartbeats, progress). */
  onFile?: (name: string) => void;
}

export async function findAccident(raw: FindQuery, deps: FindDeps): Promise<FindResult> {
  const parsed = FindQuery.safeParse(raw);
  if (!parsed.success)
    throw failure(
      'InvalidInput',
      `find: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ')}`,
    );
  const q = parsed.data;
  const table = parseTableName(q.table);
  if (!table)
    throw failure(
      'InvalidInput',
      `find: table ${JSON.stringify(q.table)} is not schema.table (backquote a part that needs it: \`my-db\`.\`order items\`)`,
    );
  const from = q.from ? Date.parse(q.from) / 1000 : null;
  const to = q.to ? Date.parse(q.to) / 1000 : null;
  if (from !== null && to !== null && from > to)
    throw failure('InvalidInput', `find: --from ${q.from} is after --to ${q.to}`);
  const { archive } = deps;
  const [index, stored] = await Promise.all([archive.readIndex(), archive.listFiles()]);
  const w = windowFiles(index.files, from, to, archive.location);
  const warnings = [...w.warnings];
  const indexed = new Set(index.files.map((f) => f.name));
  const unindexed = stored.filter((f) => !indexed.has(f.name)).map((f) => f.name);
  if (unindexed.length)
    warnings.push(
      `${unindexed.length} archived file(s) are not in the archive's index yet and were not read (${unindexed.slice(0, 3).join(', ')}${unindexed.length > 3 ? ', …' : ''}): the archiver indexes them as it syncs`,
    );
  const gaps = indexGaps(index.files, w.s, w.e);
  if (gaps.length)
    throw failure(
      'ArchiveGap',
      `the archive has gaps inside the window: ${gaps.join('; ')}. Narrow --from/--to to a window without them; nothing was touched`,
    );

  const started = Date.now();
  const watch = new TableWatch(table);
  const reader = new WindowReader({ file: index.files[w.s]!.name, position: 4, gtid: '' });
  const sizes = new RowSizes();
  // Memory stays bounded on a busy table: the transactions the rule may flag, and the latest others.
  const candidates: FoundTransaction[] = [];
  let latest: FoundTransaction[] = [];
  const order = new Map<FoundTransaction, number>();
  let scanned = 0;
  let tooMany = 0;
  let matching = 0;
  const files = index.files.slice(w.s, w.e + 1);
  try {
    for (const entry of files) {
      deps.onFile?.(entry.name);
      await reader.read(
        entry,
        await deps.read(entry),
        (t) => {
          const acc = watch.pending.get(t.startPos);
          watch.pending.clear();
          if ((from !== null && t.time < from) || (to !== null && t.time > to)) return;
          scanned++;
          if (!acc) return;
          const found: FoundTransaction = {
            gtid: t.gtid,
            time: t.time,
            file: t.file,
            position: t.startPos,
            endPos: t.endPos,
            serverId: acc.serverId,
            changes: acc.changes,
            statement: acc.statement || t.statement,
          };
          const rows = rowsOf(found, ['insert', 'update', 'delete']);
          if (rows !== null && found.changes.some((c) => c.how === 'exact' || c.how === 'estimate'))
            sizes.add(rows);
          if (!hasKind(found, q.kind)) return;
          order.set(found, matching++);
          if (couldFlag(found) && candidates.length < MAX_CANDIDATES) candidates.push(found);
          else {
            if (couldFlag(found)) tooMany++;
            latest.push(found);
            if (latest.length > 2 * LISTED) latest = latest.slice(-LISTED);
          }
        },
        undefined,
        watch.onEvent,
      );
    }
  } catch (err) {
    if (err instanceof PlanError) throw failure(err.kind, err.message);
    throw err;
  }
  if (reader.gaps.length)
    throw failure(
      'ArchiveGap',
      `the archive has gaps inside the window: ${reader.gaps.join('; ')}. Narrow --from/--to to a window without them; nothing was touched`,
    );
  warnings.push(...reader.warnings);
  if (tooMany)
    warnings.push(
      `${tooMany} more large DELETE/UPDATE transaction(s) after the first ${MAX_CANDIDATES} were not judged: narrow the window`,
    );
  for (const t of candidates) {
    const flag = flagOf(t, sizes);
    if (flag) t.flag = flag;
  }
  const accident = candidates.find((t) => t.flag) ?? null;
  const byOrder = (a: FoundTransaction, b: FoundTransaction) => order.get(a)! - order.get(b)!;
  const flagged = candidates.filter((t) => t.flag).slice(0, FLAGGED_LISTED);
  const last = [...candidates.filter((t) => !t.flag), ...latest].sort(byOrder).slice(-LISTED);
  const listed = [...new Set([...flagged, ...last])].sort(byOrder);
  const hasGtid = accident && accident.gtid !== 'ANONYMOUS';
  return {
    table: showTable(table),
    kind: q.kind ?? 'any',
    archive: archive.location,
    window: {
      from: iso(from ?? w.first),
      to: iso(to ?? w.last),
      files: files.map((f) => f.name),
      bytes: files.reduce((n, f) => n + f.size, 0),
      seconds: (Date.now() - started) / 1000,
    },
    scanned,
    matching,
    listed,
    accident,
    target: accident
      ? hasGtid
        ? { type: 'gtid', gtid: accident.gtid, exclusive: true }
        : positionTarget(accident)
      : null,
    positionTarget: accident ? positionTarget(accident) : null,
    warnings,
  };
}

const positionTarget = (t: FoundTransaction): RecoveryTarget => ({
  type: 'position',
  file: t.file,
  position: t.position,
});
