// The copy-back of a restore aside (approval-gated by the workflow): a restored table goes into
// production under a new name, `<table>__restored_<recoveryId>`, beside the original, which is never
// read for writing, altered or dropped; or into a dump file in the state directory. The new table's
// definition is made by the server itself (CREATE TABLE … LIKE on the scratch server, then SHOW
// CREATE TABLE of that copy), never edited as text. A name production already has is refused unless
// this run's own unfinished copy holds it (the ledger beside the scratch datadir says so); a retry
// then starts that copy again. The copy is checked row by row against the restored table.
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Endpoint, Dialect } from '../../workflows/schemas';
import type { StepOutcome } from '../../workflows/kit';
import type { SqlPools, Row } from '../mysql/sql';
import { quoteIdent } from '../mysql/verify';
import { failure } from '../../workflows/failures';
import { restoredNameProblem, restoredTableName, type TableRef } from '../../workflows/schemas-aside';
import { Ledger } from '../runtime/ledger';
import { keepAlive, runCommand } from '../runtime/command';
import { ensureStateDir } from '../runtime/state-dir';
import { clientOptions } from '../mysql/client-options';
import { dialectOf } from '../mysql/dialect';
import { syncDir } from '../runtime/durable-file';
import { keyCompare, qualified, tableShape } from './table-shape';
import { diffTable } from './row-diff';

export interface CopyBackRequest {
  recoveryId: string;
  /** The scratch server holding the restored tables, and its datadir (the ledger lives beside it). */
  restored: Endpoint;
  datadir: string;
  production: Endpoint;
  table: TableRef;
  chunkRows?: number;
}

const nameOf = (t: TableRef) => `${t.schema}.${t.table}`;

/** The restored copy's name, refused when it cannot be one. */
function newTableOf(req: Pick<CopyBackRequest, 'recoveryId' | 'table'>): TableRef {
  const problem = restoredNameProblem(req.table.table, req.recoveryId);
  if (problem) throw failure('TableNotRestorable', problem);
  return { schema: req.table.schema, table: restoredTableName(req.table.table, req.recoveryId) };
}

/** The restored table's columns and key, refused when it is not there or has no primary key. */
async function restoredShape(sql: SqlPools, req: CopyBackRequest) {
  const shape = await tableShape(sql, req.restored, req.table);
  if (!shape)
    throw failure(
      'TableNotRestorable',
      `${nameOf(req.table)} is not on the restored server: it was not in the backup`,
    );
  if (!shape.primaryKey.length)
    throw failure(
      'TableNotRestorable',
      `${nameOf(req.table)} has no primary key: copy it as a dump (copy "dump") instead`,
    );
  return shape;
}

/** On the scratch server only: the new name made LIKE the restored table, optionally filled with its rows. */
async function scratchCopy(sql: SqlPools, req: CopyBackRequest, fill: boolean): Promise<TableRef> {
  const copy = newTableOf(req);
  await sql.query(req.restored, `DROP TABLE IF EXISTS ${qualified(copy)}`);
  await sql.query(req.restored, `CREATE TABLE ${qualified(copy)} LIKE ${qualified(req.table)}`);
  if (fill)
    await sql.query(req.restored, `INSERT INTO ${qualified(copy)} SELECT * FROM ${qualified(req.table)}`);
  return copy;
}

/** Copies one restored table into production as a new table; never touches the original. */
export async function copyBackTable(
  sql: SqlPools,
  req: CopyBackRequest,
): Promise<StepOutcome & { table: string; rows: number }> {
  const copy = newTableOf(req);
  const ledger = Ledger.besideDatadir(req.datadir);
  const step = `copy-back:${nameOf(req.table)}`;
  const shape = await restoredShape(sql, req);
  const exists = !!(await tableShape(sql, req.production, copy));
  const done = await ledger.read(req.recoveryId, step);
  if (done && exists)
    return {
      skipped: true,
      evidence: [
        `${nameOf(copy)} was copied into production earlier (${String(done.rows)} rows, ${done.at})`,
      ],
      table: nameOf(copy),
      rows: Number(done.rows),
    };
  const started = await ledger.read(req.recoveryId, `${step}:started`);
  if (exists && !started)
    throw failure(
      'RestoredTableExists',
      `production already has ${nameOf(copy)}, and this run did not create it: it is left as it is, and ${nameOf(req.table)} is not touched`,
    );
  const evidence: string[] = [];
  const ddlSource = await scratchCopy(sql, req, false);
  const [created] = await sql.query(req.restored, `SHOW CREATE TABLE ${qualified(ddlSource)}`);
  await sql.query(req.restored, `DROP TABLE ${qualified(ddlSource)}`);
  await ledger.write(req.recoveryId, `${step}:started`, { table: nameOf(copy) });
  const prod = await (await sql.get(req.production)).getConnection();
  let rows = 0;
  try {
    if (exists) {
      // This run's own unfinished copy (the ledger says it began it): made again from the start.
      await prod.query(`DROP TABLE ${qualified(copy)}`);
      evidence.push(`dropped this run's unfinished ${nameOf(copy)} and copied again`);
    }
    await prod.query(`USE ${quoteIdent(copy.schema)}`);
    await prod.query(String(created?.['Create Table']));
    const cols = shape.columns.map(quoteIdent).join(', ');
    const pk = shape.primaryKey;
    const n = req.chunkRows ?? 2000;
    await keepAlive({ doing: `copying ${nameOf(req.table)} into ${nameOf(copy)}` }, async () => {
      for (let after: unknown[] | null = null; ;) {
        const chunk: Row[] = await sql.query(
          req.restored,
          `SELECT ${cols} FROM ${qualified(req.table)}${after ? ` WHERE ${keyCompare(pk, '>')}` : ''} ORDER BY ${pk.map(quoteIdent).join(', ')} LIMIT ${n}`,
          after ?? [],
        );
        if (!chunk.length) return;
        await prod.query(`INSERT INTO ${qualified(copy)} (${cols}) VALUES ?`, [
          chunk.map((r) => shape.columns.map((c) => r[c])),
        ]);
        rows += chunk.length;
        if (chunk.length < n) return;
        after = pk.map((c) => chunk.at(-1)![c]);
      }
    });
  } finally {
    prod.release();
  }
  // Checked against the restored table row by row, before the copy is called done.
  const check = await diffTable(sql, {
    restored: req.restored,
    production: req.production,
    table: req.table,
    productionTable: copy,
  });
  if (check.onlyInRestored || check.onlyInProduction || check.changed)
    throw failure(
      'VerificationFailed',
      `${nameOf(copy)} in production differs from the restored ${nameOf(req.table)}: ${check.onlyInRestored} row(s) missing, ${check.onlyInProduction} extra, ${check.changed} changed`,
    );
  await ledger.write(req.recoveryId, step, { table: nameOf(copy), rows });
  evidence.push(
    `copied ${rows} row(s) of the restored ${nameOf(req.table)} into production as ${nameOf(copy)}, checked row by row; ${nameOf(req.table)} itself was not touched`,
  );
  return { evidence, table: nameOf(copy), rows };
}

/** Dumps one restored table (under its new name) into a file in the state directory; production is not touched. */
export async function dumpRestoredTable(
  sql: SqlPools,
  req: Omit<CopyBackRequest, 'production'> & { dialect: Dialect },
): Promise<StepOutcome & { file: string; rows: number }> {
  const full = { ...req, production: req.restored };
  await restoredShape(sql, full);
  const copy = await scratchCopy(sql, full, true);
  const [count] = await sql.query(req.restored, `SELECT COUNT(*) AS n FROM ${qualified(copy)}`);
  const dir = await ensureStateDir('aside', req.recoveryId);
  const file = join(dir, `${copy.schema}.${copy.table}.sql`);
  const client = await clientOptions(req.restored, req.dialect);
  try {
    // No DROP TABLE in the file: loading it where the name exists fails instead of replacing a table.
    await runCommand(
      [
        dialectOf(req.dialect).dumpTool,
        ...client.args,
        '--single-transaction',
        '--skip-add-drop-table',
        '--skip-triggers',
        copy.schema,
        copy.table,
      ],
      { secrets: client.secrets, stdoutFile: `${file}.part` },
    );
  } finally {
    await client.cleanup();
  }
  await rename(`${file}.part`, file);
  await syncDir(dir);
  const rows = Number(count?.n ?? 0);
  return {
    evidence: [
      `dumped the restored ${nameOf(req.table)} (${rows} rows) as ${nameOf(copy)} to ${file}; load it with: mariadb ${copy.schema} < ${file} (it creates ${copy.table}, never replaces a table)`,
    ],
    file,
    rows,
  };
}
