// What a restore aside needs to know of a table on a server: whether it exists, its columns in
// order and its primary key (rows are matched by it), read from information_schema, never parsed
// out of DDL. Also the expression that hashes a row's columns the same way on both servers.
import type { Endpoint } from '../../workflows/schemas';
import type { SqlPools } from '../mysql/sql';
import { quoteIdent } from '../mysql/verify';
import type { TableRef } from '../../workflows/schemas-aside';

export interface TableShape {
  columns: string[];
  primaryKey: string[];
}

export const qualified = (t: TableRef) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;

/** The table's columns and primary key on that server, or null when it has no such table. */
export async function tableShape(sql: SqlPools, e: Endpoint, t: TableRef): Promise<TableShape | null> {
  const cols = await sql.query(
    e,
    `SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [t.schema, t.table],
  );
  if (!cols.length) return null;
  const pk = await sql.query(
    e,
    `SELECT COLUMN_NAME AS c FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`,
    [t.schema, t.table],
  );
  return { columns: cols.map((r) => String(r.c)), primaryKey: pk.map((r) => String(r.c)) };
}

/**
 * MD5 over the row's columns, each as its bytes prefixed by their length (NULL as `N`), so no two
 * different rows can give the same text, whatever the columns' character sets.
 */
export function rowHashSql(columns: string[]): string {
  const part = (c: string) => {
    const b = `CAST(${quoteIdent(c)} AS BINARY)`;
    return `IFNULL(CONCAT(LENGTH(${b}), ':', ${b}), 'N')`;
  };
  return `MD5(CONCAT_WS(',', ${columns.map(part).join(', ')}))`;
}

/** `(a, b) > (?, ?)`: a row-constructor comparison on the primary key. */
export function keyCompare(pk: string[], op: '>' | '<='): string {
  return `(${pk.map(quoteIdent).join(', ')}) ${op} (${pk.map(() => '?').join(', ')})`;
}
