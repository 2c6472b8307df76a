// The drill's work on its scratch server (the host it lives on): CHECK TABLE on every restored table
// of the drill's schemas, and, once the drill is recorded, the scratch server stopped and its datadir
// and ledger removed so the next drill starts from an empty one. Only a datadir that the drill's own
// recovery created (its ledger says so) is removed; anything else there is left and named.
import { rm, stat } from 'node:fs/promises';
import { processesUsingDatadir } from '../mysql/backup';
import { quoteIdent } from '../mysql/verify';
import type { SqlPools } from '../mysql/sql';
import { newServerFiles } from '../percona/new-server';
import { Ledger, ledgerDirBeside } from '../runtime/ledger';
import { mysqldOn, terminate, verifiedPid } from '../runtime/processes';
import { drillContext } from './drill-entry';

/** CHECK TABLE on each table of the drill's schemas on the scratch server: the tables and what was not OK. */
export async function checkDrillTables(
  sql: SqlPools,
  req: { cluster: string; schemas: string[] },
): Promise<{ tables: number; problems: string[] }> {
  const { scratch } = await drillContext(req.cluster);
  const e = { socket: newServerFiles(scratch).socket, user: scratch.user, password: scratch.password };
  const tables = await sql.query(
    e,
    `SELECT table_schema AS s, table_name AS t FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema IN (?) ORDER BY table_schema, table_name`,
    [req.schemas],
  );
  const problems: string[] = [];
  for (const { s, t } of tables) {
    const rows = await sql.query(e, `CHECK TABLE ${quoteIdent(String(s))}.${quoteIdent(String(t))}`);
    const status = rows.find((r) => r.Msg_type === 'status');
    if (String(status?.Msg_text) !== 'OK')
      problems.push(
        `CHECK TABLE ${String(s)}.${String(t)}: ${rows.map((r) => `${String(r.Msg_type)}: ${String(r.Msg_text)}`).join('; ')}`,
      );
  }
  return { tables: tables.length, problems };
}

/** Stops the scratch server and removes what the drill's recovery created there. */
export async function teardownDrill(req: {
  cluster: string;
  recoveryId: string;
}): Promise<{ evidence: string[] }> {
  const { scratch } = await drillContext(req.cluster);
  const evidence: string[] = [];
  const pid = await verifiedPid(
    newServerFiles(scratch).pidFile,
    mysqldOn(scratch.datadir, `scratch ${scratch.name}`),
  );
  if (pid) {
    await terminate(pid, 120_000);
    evidence.push(`scratch server ${scratch.name} (pid ${pid}) stopped`);
  }
  if (!(await stat(scratch.datadir).catch(() => null))) return { evidence };
  // The recovery restores only into an empty or absent datadir; once its ledger shows a restore
  // (started or done), what is there is the drill's own.
  const ledger = await Ledger.besideDatadir(scratch.datadir).readAll(req.recoveryId);
  if (!('restore-backup' in ledger || 'restore-backup-started' in ledger)) {
    evidence.push(`${scratch.datadir} was not created by ${req.recoveryId}: left as it is`);
    return { evidence };
  }
  // A failed recovery leaves its temporary mysqld running for inspection: then nothing is removed
  // (the next drill is refused as occupied, and alerts, until someone has looked).
  const users = await processesUsingDatadir(scratch.datadir);
  if (users.length) {
    evidence.push(
      `${scratch.datadir} is still used by process ${users.join(', ')} (a temporary mysqld left for inspection?): left as it is`,
    );
    return { evidence };
  }
  await rm(scratch.datadir, { recursive: true, force: true });
  await rm(ledgerDirBeside(scratch.datadir), { recursive: true, force: true });
  evidence.push(`removed ${scratch.datadir} and its ledger`);
  return { evidence };
}
