// Table-level restore aside (issue 17): the names a request may choose and the names a copy-back
// creates. A table is `schema.table` in plain identifier characters (never a quote, a dot inside a
// name, or a system schema); the copy in production is `<table>__restored_<recoveryId>`, which must
// fit MySQL's 64-character limit. Pure code: the schema, the activities and the CLI share it.
import { z } from 'zod';
import { isMariadbGtid } from './gtid';
import {
  Archive,
  BackupName,
  Cluster,
  Dialect,
  isLoopbackHost,
  NewServer,
  PerconaBackup,
  RecoveryTarget,
  RestoreTarget,
  RunbookCommon,
  Slug,
} from './schemas';

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

/**
 * The input of a table-level restore aside: the cluster (production, its connection read-only but
 * for the copy-back), its backup and archive, the scratch servers it may restore to (catalog), and
 * what a request chooses: the tables, the target, the scratch server by name, the copy mode.
 */
export const TableRestoreAsideInput = z
  .object({
    ...RunbookCommon,
    dialect: Dialect.default('mariadb'),
    cluster: Cluster,
    backup: PerconaBackup,
    backupName: BackupName.optional(),
    /** The cluster's own datadir (never restored into: a scratch server may not be it). */
    restore: RestoreTarget,
    archive: Archive,
    target: RecoveryTarget,
    allowGaps: z.boolean().default(false),
    newServers: z.record(Slug, NewServer),
    /** The scratch server of `newServers` the tables are restored into. */
    restoreTo: Slug,
    tables: AsideTables,
    copy: AsideCopyMode.default('none'),
  })
  .strict()
  .superRefine((v, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message });
    const scratch = v.newServers[v.restoreTo];
    if (!scratch)
      issue(
        ['restoreTo'],
        `no scratch server named ${v.restoreTo} in this cluster's fleet catalog entry (it offers: ${Object.keys(v.newServers).join(', ') || 'none'}); an aside never restores production in place`,
      );
    if (!v.cluster.connection)
      issue(
        ['cluster', 'connection'],
        'a restore aside compares with production and copies into it: give the cluster its connection',
      );
    if (scratch && scratch.datadir.replace(/\/+$/, '') === v.restore.datadir.replace(/\/+$/, ''))
      issue(
        ['newServers', v.restoreTo, 'datadir'],
        "is the cluster's own datadir: the scratch server cannot be production",
      );
    const prod = v.cluster.connection;
    if (scratch && prod?.socket && scratch.socket === prod.socket)
      issue(
        ['newServers', v.restoreTo, 'socket'],
        "is production's socket: the scratch server cannot be production",
      );
    if (scratch?.port && prod?.port === scratch.port && isLoopbackHost(prod.host ?? ''))
      issue(
        ['newServers', v.restoreTo, 'port'],
        "is production's port: the scratch server cannot be production",
      );
    if (v.dialect !== 'mariadb')
      issue(['dialect'], 'a restore aside replays with the MariaDB replica filter: MariaDB only for now');
    if (v.target.type === 'gtid' && !isMariadbGtid(v.target.gtid))
      issue(['target', 'gtid'], 'not a MariaDB GTID: expected domain-server-sequence, e.g. 0-1-42');
    if (v.target.type === 'time' && Date.parse(v.target.time) > Date.now())
      issue(['target', 'time'], `${v.target.time} is in the future`);
  });
export type TableRestoreAsideInput = z.output<typeof TableRestoreAsideInput>;
