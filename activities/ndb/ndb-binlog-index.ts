// mysql.ndb_binlog_index around the restore: its dump and the binlogs' copy into the archive
// (step 2), its TRUNCATE (step 6), and its restore from the dump (step 8).
import { mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepOutcome } from '../../workflows/kit';
import type { Dialect, Endpoint } from '../../workflows/schemas';
import { dialectOf } from '../mysql/dialect';
import { FsArchive } from '../archive/archive-fs';
import { refreshIndex } from '../archive/archive-index';
import { clientOptions } from '../mysql/client-options';
import { runCommand } from '../runtime/command';
import { SqlLedger } from '../mysql/sql-ledger';
import type { SqlPools } from '../mysql/sql';
import { refuse } from './ndb-pitr-common';

// Step 2: dump mysql.ndb_binlog_index and copy the binary logs into the archive.
export async function backupBinlogIndex(
  sql: SqlPools,
  req: { recoveryId: string; sqlNode: Endpoint; archiveDir: string; dialect: Dialect },
): Promise<StepOutcome & { dumpFile: string; rows: number }> {
  const dumpFile = join(req.archiveDir, `ndb_binlog_index.${req.recoveryId}.sql`);
  await mkdir(req.archiveDir, { recursive: true });
  const [count] = await sql.query(req.sqlNode, 'SELECT COUNT(*) AS n FROM mysql.ndb_binlog_index');
  const rows = Number(count?.n ?? 0);
  const evidence: string[] = [];
  if (await stat(dumpFile).catch(() => null)) evidence.push(`dump ${dumpFile} already made`);
  else {
    const client = await clientOptions(req.sqlNode);
    try {
      await runCommand(
        [
          dialectOf(req.dialect).dumpTool,
          ...client.args,
          '--single-transaction',
          '--skip-triggers',
          'mysql',
          'ndb_binlog_index',
        ],
        {
          secrets: client.secrets,
          stdoutFile: `${dumpFile}.part`,
        },
      );
    } finally {
      await client.cleanup();
    }
    await rename(`${dumpFile}.part`, dumpFile); // complete dumps only
    evidence.push(`dumped ${rows} ndb_binlog_index row(s) to ${dumpFile}`);
  }
  const [base] = await sql.query(req.sqlNode, 'SELECT @@log_bin_basename AS b');
  const dir = String(base?.b ?? '').replace(/\/[^/]*$/, '');
  const archive = new FsArchive(req.archiveDir);
  let copied = 0;
  for (const { Log_name: name, File_size: size } of await sql.query(req.sqlNode, 'SHOW BINARY LOGS')) {
    const have = await stat(join(req.archiveDir, String(name))).catch(() => null);
    if (have?.size === Number(size)) continue;
    await archive.putFile(String(name), join(dir, String(name)));
    copied++;
  }
  await refreshIndex(archive, req.archiveDir);
  evidence.push(`${copied} binlog file(s) copied to ${req.archiveDir}`);
  return { dumpFile, rows, evidence };
}

// Step 6: TRUNCATE mysql.ndb_binlog_index.
export async function truncateBinlogIndex(
  sql: SqlPools,
  req: { recoveryId: string; sqlNode: Endpoint },
): Promise<StepOutcome> {
  const ledger = new SqlLedger(sql, req.sqlNode);
  const done = await ledger.read(req.recoveryId, 'truncate-binlog-index');
  if (done) return { skipped: true, evidence: [`truncated at ${done.at}`] };
  await sql.query(req.sqlNode, 'TRUNCATE TABLE mysql.ndb_binlog_index');
  await ledger.write(req.recoveryId, 'truncate-binlog-index');
  return { evidence: ['TRUNCATE TABLE mysql.ndb_binlog_index'] };
}

// Step 8: restore ndb_binlog_index from the dump (the binlog files stay in the archive, where the replay reads them).
export async function restoreBinlogIndex(
  sql: SqlPools,
  req: { recoveryId: string; sqlNode: Endpoint; dumpFile: string; dialect: Dialect },
): Promise<StepOutcome> {
  const ledger = new SqlLedger(sql, req.sqlNode);
  const done = await ledger.read(req.recoveryId, 'restore-binlog-index');
  if (done) return { skipped: true, evidence: [`restored at ${done.at}`] };
  if (!(await stat(req.dumpFile).catch(() => null)))
    throw refuse(`the ndb_binlog_index dump ${req.dumpFile} does not exist`, 'MissingDump');
  const client = await clientOptions(req.sqlNode);
  try {
    const tool = dialectOf(req.dialect).client;
    await runCommand([tool, ...client.args, '--init-command=SET SESSION sql_log_bin = 0', 'mysql'], {
      inputFile: req.dumpFile,
      secrets: client.secrets,
    });
  } finally {
    await client.cleanup();
  }
  const [count] = await sql.query(req.sqlNode, 'SELECT COUNT(*) AS n FROM mysql.ndb_binlog_index');
  await ledger.write(req.recoveryId, 'restore-binlog-index', { rows: Number(count?.n ?? 0) });
  return { evidence: [`mysql.ndb_binlog_index restored from ${req.dumpFile}: ${count?.n} row(s)`] };
}
