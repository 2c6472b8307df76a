// The activities of a table-level restore aside (workflows/table-restore-aside.ts), on the scratch
// server's host: the plan's checks (the tables named are in the backup, the scratch server is not
// production, production answers), the check that the restored server holds the tables, the
// row-level diff against production (read-only there), and the copy-back under new names or to a
// dump file. Production is never paused and its original tables are never written.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dialect, Endpoint } from '../../workflows/schemas';
import type { StepOutcome } from '../../workflows/kit';
import { failure } from '../../workflows/failures';
import { parseTable, restoredNameProblem, type AsideCopyMode } from '../../workflows/schemas-aside';
import type { SqlPools } from '../mysql/sql';
import { describeDiff, diffTable, type TableDiff } from './row-diff';
import { copyBackTable, dumpRestoredTable } from './copy-back';
import { tableShape } from './table-shape';

const trimSlash = (p: string) => p.replace(/\/+$/, '');

export interface AsideCheck {
  recoveryId: string;
  tables: string[];
  copy: AsideCopyMode;
  production: Endpoint;
  datadir: string;
  /** The chosen backup's prepared directory, when it is one (a stream is checked once restored). */
  backupDir?: string;
}

/** Plan-time, read-only: refuses before anything is touched. */
export async function checkAside(sql: SqlPools, req: AsideCheck): Promise<StepOutcome> {
  if (req.copy === 'table')
    for (const t of req.tables) {
      const problem = restoredNameProblem(parseTable(t).table, req.recoveryId);
      if (problem) throw failure('TableNotRestorable', `${problem}. Nothing was touched`);
    }
  const [who] = await sql
    .query(req.production, 'SELECT @@datadir AS datadir, @@version AS version')
    .catch((err: Error) => {
      throw failure(
        'Unreachable',
        `production does not answer (${err.message}): the diff needs it. Nothing was touched`,
      );
    });
  if (trimSlash(String(who?.datadir ?? '')) === trimSlash(req.datadir))
    throw failure(
      'InvalidInput',
      `the scratch server's datadir ${req.datadir} is production's own (@@datadir): an aside never restores into production. Nothing was touched`,
    );
  const evidence = [`production answers (${String(who?.version)}); it is read, never paused`];
  for (const t of req.tables) {
    const ref = parseTable(t);
    if (req.backupDir) {
      const inBackup = await stat(join(req.backupDir, ref.schema, `${ref.table}.frm`)).catch(() => null);
      if (!inBackup)
        throw failure(
          'TableNotRestorable',
          `${t} is not in the backup ${req.backupDir} (no ${ref.schema}/${ref.table}.frm). Nothing was touched`,
        );
    }
    const there = await tableShape(sql, req.production, ref);
    evidence.push(
      `${t}: in the backup${req.backupDir ? '' : ' (checked once restored)'}; ${there ? 'in production' : 'not in production (dropped?): every restored row will be new there'}`,
    );
  }
  return { evidence };
}

/** After the restore: the scratch server holds every chosen table, with a primary key when rows are compared. */
export async function checkRestoredTables(
  sql: SqlPools,
  req: { restored: Endpoint; tables: string[] },
): Promise<StepOutcome> {
  const evidence: string[] = [];
  for (const t of req.tables) {
    const shape = await tableShape(sql, req.restored, parseTable(t));
    if (!shape)
      throw failure(
        'TableNotRestorable',
        `${t} is not in the restored backup: only the scratch server was touched; choose a table the backup holds`,
      );
    evidence.push(
      `${t} restored (${shape.columns.length} columns, primary key ${shape.primaryKey.join(', ') || 'none'})`,
    );
  }
  return { evidence };
}

/** The row-level diff of every chosen table: read-only on both servers. */
export async function diffAside(
  sql: SqlPools,
  req: { restored: Endpoint; production: Endpoint; tables: string[]; sampleSize?: number },
): Promise<StepOutcome & { diffs: TableDiff[] }> {
  const diffs: TableDiff[] = [];
  for (const t of req.tables)
    diffs.push(
      await diffTable(sql, {
        restored: req.restored,
        production: req.production,
        table: parseTable(t),
        sampleSize: req.sampleSize,
      }),
    );
  return { evidence: diffs.flatMap(describeDiff), diffs };
}

/** The approved copy-back: new tables beside the originals in production, or dump files. */
export async function copyBackAside(
  sql: SqlPools,
  req: {
    recoveryId: string;
    restored: Endpoint;
    datadir: string;
    production: Endpoint;
    tables: string[];
    mode: Exclude<AsideCopyMode, 'none'>;
    dialect: Dialect;
  },
): Promise<StepOutcome & { copies: { table: string; rows: number; into: string }[] }> {
  const evidence: string[] = [];
  const copies: { table: string; rows: number; into: string }[] = [];
  let skipped = true;
  for (const t of req.tables) {
    const base = {
      recoveryId: req.recoveryId,
      restored: req.restored,
      datadir: req.datadir,
      table: parseTable(t),
    };
    if (req.mode === 'dump') {
      const r = await dumpRestoredTable(sql, { ...base, dialect: req.dialect });
      copies.push({ table: t, rows: r.rows, into: r.file });
      evidence.push(...(r.evidence ?? []));
      skipped = false;
    } else {
      const r = await copyBackTable(sql, { ...base, production: req.production });
      copies.push({ table: t, rows: r.rows, into: r.table });
      evidence.push(...(r.evidence ?? []));
      skipped &&= !!r.skipped;
    }
  }
  return { skipped, evidence, copies };
}

/** The aside's activities, bound to the SQL pools (placed in activities/index.ts: on the scratch server's host). */
export function asideActivities(sql: SqlPools) {
  return {
    checkAside: (req: AsideCheck) => checkAside(sql, req),
    checkRestoredTables: (req: Parameters<typeof checkRestoredTables>[1]) => checkRestoredTables(sql, req),
    diffAside: (req: Parameters<typeof diffAside>[1]) => diffAside(sql, req),
    copyBackAside: (req: Parameters<typeof copyBackAside>[1]) => copyBackAside(sql, req),
  };
}
