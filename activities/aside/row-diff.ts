// The row-level diff of a restore aside: one table of the restored scratch server against the same
// table in production, read-only on production (one READ ONLY transaction with a consistent snapshot,
// so production's rows are compared as of one instant while it keeps serving). Rows are matched by
// primary key, chunk by chunk in the key order the servers sort in (the restored side leads, the
// production side is read for the same key range), and compared by a hash of all common columns:
// counts of rows only in the restored copy, only in production, and changed, with a bounded sample
// of keys for each. Memory is one chunk per side.
import type { PoolConnection } from 'mysql2/promise';
import type { Endpoint } from '../../workflows/schemas';
import type { SqlPools, Row } from '../mysql/sql';
import { quoteIdent } from '../mysql/verify';
import { failure } from '../../workflows/failures';
import type { TableRef } from '../../workflows/schemas-aside';
import { keyCompare, qualified, rowHashSql, tableShape } from './table-shape';
import { keepAlive } from '../runtime/command';

export interface TableDiff {
  table: string;
  restoredRows: number;
  /** Null when production has no such table (dropped): every restored row is then only in the restored copy. */
  productionRows: number | null;
  onlyInRestored: number;
  onlyInProduction: number;
  changed: number;
  same: number;
  /** Columns one side has and the other does not (the hash covers the common ones). */
  columnsOnlyInRestored: string[];
  columnsOnlyInProduction: string[];
  /** Up to `sampleSize` primary keys of each kind, as `col=value[, …]`. */
  sample: { onlyInRestored: string[]; onlyInProduction: string[]; changed: string[] };
}

export interface DiffRequest {
  restored: Endpoint;
  production: Endpoint;
  table: TableRef;
  /** The table compared with in production, when not the same name (a copy-back's new table). */
  productionTable?: TableRef;
  /** Rows per chunk (default 5000). */
  chunkRows?: number;
  /** Keys kept per kind (default 10). */
  sampleSize?: number;
}

interface KeyedRow {
  key: unknown[];
  hash: string;
}

/** A pinned connection in one read-only, consistent-snapshot transaction. */
async function snapshot(sql: SqlPools, e: Endpoint): Promise<PoolConnection> {
  const conn = await (await sql.get(e)).getConnection();
  try {
    await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
  } catch (err) {
    conn.release();
    throw err;
  }
  return conn;
}

async function done(conn: PoolConnection): Promise<void> {
  await conn.query('ROLLBACK').catch(() => {});
  conn.release();
}

export async function diffTable(sql: SqlPools, req: DiffRequest): Promise<TableDiff> {
  const name = `${req.table.schema}.${req.table.table}`;
  const restoredShape = await tableShape(sql, req.restored, req.table);
  if (!restoredShape)
    throw failure('TableNotRestorable', `${name} is not on the restored server: it was not in the backup`);
  if (!restoredShape.primaryKey.length)
    throw failure(
      'TableNotRestorable',
      `${name} has no primary key: its rows cannot be matched with production's; copy it as a dump and compare by hand`,
    );
  const theirTable = req.productionTable ?? req.table;
  const prodShape = await tableShape(sql, req.production, theirTable);
  const pk = restoredShape.primaryKey;
  const diff: TableDiff = {
    table: name,
    restoredRows: 0,
    productionRows: prodShape ? 0 : null,
    onlyInRestored: 0,
    onlyInProduction: 0,
    changed: 0,
    same: 0,
    columnsOnlyInRestored: restoredShape.columns.filter((c) => !prodShape?.columns.includes(c)),
    columnsOnlyInProduction: prodShape?.columns.filter((c) => !restoredShape.columns.includes(c)) ?? [],
    sample: { onlyInRestored: [], onlyInProduction: [], changed: [] },
  };
  if (prodShape && pk.join(',') !== prodShape.primaryKey.join(','))
    throw failure(
      'TableNotRestorable',
      `${name}: production's primary key (${prodShape.primaryKey.join(', ') || 'none'}) is not the restored one (${pk.join(', ')}): rows cannot be matched`,
    );
  const common = prodShape ? restoredShape.columns.filter((c) => prodShape.columns.includes(c)) : pk;
  const select = (t: TableRef) =>
    `SELECT ${pk.map(quoteIdent).join(', ')}, ${rowHashSql(common)} AS __h FROM ${qualified(t)}`;
  const order = `ORDER BY ${pk.map(quoteIdent).join(', ')}`;
  const n = req.chunkRows ?? 5000;
  const keep = req.sampleSize ?? 10;
  const show = (key: unknown[]) => pk.map((c, i) => `${c}=${String(key[i])}`).join(', ');
  const note = (kind: keyof TableDiff['sample'], key: unknown[]) => {
    if (diff.sample[kind].length < keep) diff.sample[kind].push(show(key));
  };

  const r = await snapshot(sql, req.restored);
  const p = prodShape ? await snapshot(sql, req.production) : null;
  const read = async (conn: PoolConnection, t: TableRef, after: unknown[] | null, upTo: unknown[] | null) => {
    const where = [after ? keyCompare(pk, '>') : null, upTo ? keyCompare(pk, '<=') : null].filter(Boolean);
    const [rows] = await conn.query<Row[]>(
      `${select(t)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ${order} LIMIT ${n}`,
      [...(after ?? []), ...(upTo ?? [])],
    );
    return rows.map((row): KeyedRow => ({ key: pk.map((c) => row[c]), hash: String(row.__h) }));
  };
  try {
    await keepAlive({ doing: `comparing ${name} with production` }, async () => {
      let after: unknown[] | null = null;
      for (;;) {
        const chunk = await read(r, req.table, after, null);
        diff.restoredRows += chunk.length;
        // The last chunk's upper bound is open: production's rows after the restored ones count too.
        const upTo = chunk.length === n ? chunk.at(-1)!.key : null;
        const theirs = new Map<string, string>();
        for (let pAfter = after; p;) {
          const rows = await read(p, theirTable, pAfter, upTo);
          for (const x of rows) theirs.set(JSON.stringify(x.key), x.hash);
          if (rows.length < n) break;
          pAfter = rows.at(-1)!.key;
        }
        if (diff.productionRows !== null) diff.productionRows += theirs.size;
        for (const x of chunk) {
          const k = JSON.stringify(x.key);
          const h = theirs.get(k);
          const kind = h === undefined ? 'onlyInRestored' : h !== x.hash ? 'changed' : null;
          if (kind) {
            diff[kind]++;
            note(kind, x.key);
          } else diff.same++;
          theirs.delete(k);
        }
        for (const k of theirs.keys()) {
          diff.onlyInProduction++;
          note('onlyInProduction', JSON.parse(k) as unknown[]);
        }
        if (!upTo) return;
        after = upTo;
      }
    });
  } finally {
    await done(r);
    if (p) await done(p);
  }
  return diff;
}

/** One line of evidence per table diff. */
export function describeDiff(d: TableDiff): string[] {
  const lines = [
    d.productionRows === null
      ? `${d.table}: not in production (dropped?): all ${d.restoredRows} restored row(s) are only in the restored copy`
      : `${d.table}: ${d.restoredRows} restored row(s), ${d.productionRows} in production: ${d.onlyInRestored} only in the restored copy, ${d.onlyInProduction} only in production, ${d.changed} changed, ${d.same} the same`,
  ];
  const s = d.sample;
  if (s.onlyInRestored.length)
    lines.push(`${d.table}: only in the restored copy, e.g. ${s.onlyInRestored.join('; ')}`);
  if (s.onlyInProduction.length)
    lines.push(`${d.table}: only in production, e.g. ${s.onlyInProduction.join('; ')}`);
  if (s.changed.length) lines.push(`${d.table}: changed, e.g. ${s.changed.join('; ')}`);
  if (d.columnsOnlyInRestored.length || d.columnsOnlyInProduction.length)
    lines.push(
      `${d.table}: columns differ (only restored: ${d.columnsOnlyInRestored.join(', ') || 'none'}; only production: ${d.columnsOnlyInProduction.join(', ') || 'none'}); rows compared on the common columns`,
    );
  return lines;
}
