// Which transaction of a finder's listing is the likely accident, by one stated rule (docs/cli.md,
// "Find the accident"):
//   - a DROP or TRUNCATE of the table, a DROP DATABASE of its schema, a CREATE OR REPLACE of it;
//   - a DELETE or UPDATE logged in STATEMENT format with neither WHERE nor LIMIT (every row);
//   - a DELETE or UPDATE logged in ROW format touching at least MIN_ROWS rows and at least FACTOR
//     times the median rows of the table's other row transactions in the window (ALONE_ROWS when it
//     is the only one). The table's own size is not in the binlogs, so the rule compares with what
//     the window shows.
// The accident is the earliest flagged transaction: restoring to just before it undoes it and
// everything after it.
import type { ChangeKind } from './accident-sql';

export const FACTOR = 10;
export const MIN_ROWS = 100;
export const ALONE_ROWS = 1000;

export interface Change {
  kind: ChangeKind;
  /** Rows changed (row events); null for a statement, or when they could not be counted. */
  rows: number | null;
  /** exact: every row image walked; estimate: extrapolated from the first 64 KiB of a larger event. */
  how: 'exact' | 'estimate' | 'unknown' | 'statement';
  /** What makes it destructive by itself (DROP, every row, CREATE OR REPLACE…). */
  destroys?: string;
}

export interface FoundTransaction {
  gtid: string;
  /** Unix seconds (the GTID event's timestamp). */
  time: number;
  file: string;
  position: number;
  endPos: number;
  /** The server id in the GTID event's header: the server the session ran on. */
  serverId: number;
  changes: Change[];
  /** The statement (Annotate_rows or the Query event's text), at most STATEMENT_MAX characters. */
  statement: string;
  /** Why it is flagged as a likely accident (absent when it is not). */
  flag?: string;
}

const SEVERITY: ChangeKind[] = ['drop', 'truncate', 'delete', 'update', 'ddl', 'insert'];

/** The transaction's most destructive kind of change to the table. */
export function mainKind(t: FoundTransaction): ChangeKind {
  return SEVERITY.find((k) => t.changes.some((c) => c.kind === k)) ?? 'ddl';
}

/** Rows of the transaction's row changes of `kind` (null when some could not be counted). */
export function rowsOf(t: FoundTransaction, kinds: ChangeKind[]): number | null {
  let n = 0;
  for (const c of t.changes) {
    if (!kinds.includes(c.kind)) continue;
    if (c.rows === null) return null;
    n += c.rows;
  }
  return n;
}

/** Whether a transaction answers a `--kind` question (ddl: every DDL, DROP and TRUNCATE included). */
export function hasKind(t: FoundTransaction, kind: ChangeKind | undefined): boolean {
  if (!kind) return true;
  const want: ChangeKind[] = kind === 'ddl' ? ['ddl', 'drop', 'truncate'] : [kind];
  return t.changes.some((c) => want.includes(c.kind));
}

/** Sorted row counts of the table's row transactions, for the median without one of them. */
export class RowSizes {
  private readonly all: number[] = [];
  private sorted: number[] | null = null;

  add(rows: number): void {
    this.all.push(rows);
    this.sorted = null;
  }

  get count(): number {
    return this.all.length;
  }

  /** Median of the sizes with one occurrence of `own` left out (the transaction being judged). */
  medianWithout(own: number): number | null {
    this.sorted ??= [...this.all].sort((a, b) => a - b);
    const a = this.sorted;
    let k = a.indexOf(own);
    if (k < 0) k = a.length; // not among them: nothing to leave out
    const n = k < a.length ? a.length - 1 : a.length;
    if (n === 0) return null;
    const at = (j: number) => (j < k ? a[j]! : a[j + 1]!);
    return n % 2 ? at((n - 1) / 2) : (at(n / 2 - 1) + at(n / 2)) / 2;
  }
}

/** Whether the rule could flag `t` whatever the window's median (the finder keeps only these in full). */
export function couldFlag(t: FoundTransaction): boolean {
  if (t.changes.some((c) => c.destroys)) return true;
  return (['delete', 'update'] as const).some((kind) => {
    const rows = rowsOf(
      { ...t, changes: t.changes.filter((c) => c.kind === kind && c.how !== 'statement') },
      [kind],
    );
    return rows !== null && rows >= MIN_ROWS;
  });
}

/** Why `t` is a likely accident under the rule above, or null. */
export function flagOf(t: FoundTransaction, sizes: RowSizes): string | null {
  const destroys = t.changes.find((c) => c.destroys);
  if (destroys) return destroys.destroys!;
  for (const kind of ['delete', 'update'] as const) {
    const rowChanges = t.changes.filter((c) => c.kind === kind && c.how !== 'statement');
    if (!rowChanges.length) continue;
    const rows = rowsOf({ ...t, changes: rowChanges }, [kind]);
    if (rows === null || rows < MIN_ROWS) continue;
    const own = rowsOf(t, ['insert', 'update', 'delete']);
    const median = own === null ? null : sizes.medianWithout(own);
    if (median === null) {
      if (rows >= ALONE_ROWS)
        return `${kind.toUpperCase()} of ${rows} rows, the table's only row change in the window (≥ ${ALONE_ROWS})`;
    } else if (rows >= FACTOR * Math.max(median, 1))
      return `${kind.toUpperCase()} of ${rows} rows, ${Math.round(rows / Math.max(median, 1))}× the median of the table's other transactions in the window (${median}; flagged from ${FACTOR}× and ${MIN_ROWS} rows)`;
  }
  return null;
}
