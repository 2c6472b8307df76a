// A replay restricted to chosen tables (the table-level restore aside, issue 17): the replica
// filter the applier sets on the restored server, and how the proof sorts the window's transactions
// against it. MariaDB's replica applies only the row events of the chosen tables
// (replicate_wild_do_table) and leaves out, unlogged, a transaction that touches none of them; its
// gtid_slave_pos still moves past it. So the proof expects in the restored binlog exactly the
// window's transactions that touch a chosen table, and names those the filter left out.
import type { BinlogTransaction } from '../archive/binlog-scan-types';

/** How a window transaction stands to the chosen tables. */
export type FilterClass =
  /** Touches chosen tables only: applied whole. */
  | 'concerns'
  /** Touches chosen and other tables: applied with the chosen tables' row events only. */
  | 'partly'
  /** Cannot be judged from the binlog (its table list is cut short): whatever the server's filter did. */
  | 'maybe'
  /** Touches none of them: left out by the filter, never applied. */
  | 'filtered';

/** The scan lists at most this many tables of a transaction (binlog-scan-types.ts). */
const LISTED_TABLES = 8;

const unquote = (t: string) => t.replace(/`/g, '').toLowerCase();

/** `shop.order_lines` as a replicate_wild_do_table pattern (its `_` and `%` are wildcards there). */
export function wildPattern(table: string): string {
  return table.replace(/[\\_%]/g, (c) => `\\${c}`);
}

/** The value of replicate_wild_do_table for these tables. */
export function replicaFilterValue(tables: readonly string[]): string {
  return tables.map(wildPattern).join(',');
}

/** Does a statement name one of the tables (by its table name, quoted or not)? Errs towards yes. */
function mentions(statement: string, tables: readonly string[]): boolean {
  const text = statement.toLowerCase();
  return tables.some((t) => {
    const name = t.split('.')[1]!.toLowerCase();
    const re = new RegExp(`(^|[^a-z0-9_$])\`?${name.replace(/\$/g, '\\$')}\`?($|[^a-z0-9_$])`);
    return re.test(text);
  });
}

/**
 * Sorts one transaction. Row events name their tables; a statement (DDL, or DML logged as a statement)
 * that names a chosen table is expected applied, so a lost one fails the proof (fail closed).
 */
export function classify(t: BinlogTransaction, tables: readonly string[]): FilterClass {
  const chosen = new Set(tables.map((x) => x.toLowerCase()));
  const touched = t.tables.map(unquote);
  const hit = touched.filter((x) => chosen.has(x)).length;
  if (hit && hit === touched.length && t.queries === 0) return 'concerns';
  if (hit) return 'partly';
  if (t.queries > 0 && mentions(t.statement, tables)) return 'concerns';
  if (touched.length >= LISTED_TABLES) return 'maybe';
  return 'filtered';
}
