// Table-level restore aside (issue 17): the names a request may choose and the names a copy-back
// creates. A table is `schema.table` in plain identifier characters (never a quote, a dot inside a
// name, or a system schema); the copy in production is `<table>__restored_<recoveryId>`, which must
// fit MySQL's 64-character limit. Pure code: the schema, the activities and the CLI share it.
import { z } from 'zod';

/** Identifier characters MySQL accepts unquoted (and never needs to escape inside backticks). */
const IDENT = /^[A-Za-z0-9_$]{1,64}$/;
const SYSTEM_SCHEMAS = new Set(['mysql', 'information_schema', 'performance_schema', 'sys']);
/** MySQL's and MariaDB's limit on a table name. */
export const MAX_TABLE_NAME = 64;

export interface TableRef {
  schema: string;
  table: string;
}

/** Why `text` is not a table a restore aside may choose, or null when it is one. */
export function tableNameProblem(text: string): string | null {
  const parts = text.split('.');
  if (parts.length !== 2)
    return `${JSON.stringify(text.slice(0, 140))} is not schema.table (exactly one dot, e.g. shop.orders)`;
  const [schema, table] = parts as [string, string];
  for (const [what, name] of [
    ['schema', schema],
    ['table', table],
  ] as const)
    if (!IDENT.test(name))
      return `${JSON.stringify(text.slice(0, 140))}: the ${what} name must be 1 to 64 letters, digits, "_" or "$"`;
  if (SYSTEM_SCHEMAS.has(schema.toLowerCase()))
    return `${text}: ${schema} is a system schema; only application tables are restored aside`;
  return null;
}

export function parseTable(text: string): TableRef {
  const [schema, table] = text.split('.') as [string, string];
  return { schema, table };
}

export const QualifiedTable = z.string().superRefine((text, ctx) => {
  const problem = tableNameProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** The tables a restore aside recovers: at least one, at most 100, none twice. */
export const AsideTables = z
  .array(QualifiedTable)
  .min(1, 'name at least one table, e.g. ["shop.orders"]')
  .max(100)
  .refine((ts) => new Set(ts.map((t) => t.toLowerCase())).size === ts.length, 'a table is named twice');

/** What the approval-gated copy-back does with the restored tables. */
export const AsideCopyMode = z.enum(['table', 'dump', 'none'], {
  error: 'copy must be "table" (a new table beside the original in production), "dump" (a file) or "none"',
});
export type AsideCopyMode = z.infer<typeof AsideCopyMode>;

/** The name the restored copy of `table` gets beside the original: never the original's. */
export function restoredTableName(table: string, recoveryId: string): string {
  const tag = recoveryId.replace(/[^A-Za-z0-9_$]/g, '_');
  return `${table}__restored_${tag}`;
}

/** Why the restored copy's name cannot be used (too long), or null. */
export function restoredNameProblem(table: string, recoveryId: string): string | null {
  const name = restoredTableName(table, recoveryId);
  if (name.length <= MAX_TABLE_NAME) return null;
  return `the restored copy of ${table} would be named ${name} (${name.length} characters, more than ${MAX_TABLE_NAME}): use a shorter recoveryId`;
}
