// Verification: row count and CHECKSUM TABLE of every table in the restored schemas, compared with
// an expected map when the input gives one (e.g. captured on the source at the target).
import type { Endpoint, TableFingerprint } from '../../workflows/schemas';
import { keepAlive } from '../runtime/command';
import { failpoint } from '../runtime/failpoints';
import type { SqlPools } from './sql';
import { failure } from '../../workflows/failures';

const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys', 'runbook_ledger'];

export const quoteIdent = (name: string) => `\`${name.replace(/`/g, '``')}\``;

export async function fingerprintTables(
  sql: SqlPools,
  e: Endpoint,
  schemas?: string[],
): Promise<Record<string, TableFingerprint>> {
  const filter = schemas?.length ? 'table_schema IN (?)' : 'table_schema NOT IN (?)';
  const tables = await sql.query(
    e,
    `SELECT table_schema AS s, table_name AS t FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND ${filter} ORDER BY table_schema, table_name`,
    [schemas?.length ? schemas : SYSTEM_SCHEMAS],
  );
  const out: Record<string, TableFingerprint> = {};
  for (const { s, t } of tables) {
    const name = `${quoteIdent(String(s))}.${quoteIdent(String(t))}`;
    const [count] = await sql.query(e, `SELECT COUNT(*) AS n FROM ${name}`);
    const [sum] = await sql.query(e, `CHECKSUM TABLE ${name}`);
    out[`${s}.${t}`] = {
      rows: Number(count?.n ?? 0),
      checksum: sum?.Checksum === null || sum?.Checksum === undefined ? null : Number(sum.Checksum),
    };
  }
  return out;
}

/** Differences between what was restored and what was expected, as readable lines. */
export function compareFingerprints(
  actual: Record<string, TableFingerprint>,
  expected: Record<string, TableFingerprint>,
): string[] {
  const diffs: string[] = [];
  for (const [table, want] of Object.entries(expected)) {
    const got = actual[table];
    if (!got) diffs.push(`${table} is missing`);
    else if (got.rows !== want.rows) diffs.push(`${table} has ${got.rows} rows, expected ${want.rows}`);
    else if (got.checksum !== want.checksum)
      diffs.push(`${table} checksum ${got.checksum}, expected ${want.checksum}`);
  }
  for (const table of Object.keys(actual))
    if (!(table in expected)) diffs.push(`${table} exists but was not expected`);
  return diffs;
}

/** Tables named in the evidence; the rest are counted ("… N more table(s)"). */
export const EVIDENCE_TABLES = 10;

/**
 * The verify step's evidence: the totals, then each table's rows and checksum as observed (with the
 * expected figures beside them when the input gives them), the first EVIDENCE_TABLES tables by name.
 */
export function fingerprintEvidence(
  tables: Record<string, TableFingerprint>,
  expected?: Record<string, TableFingerprint>,
  limit = EVIDENCE_TABLES,
): string[] {
  const names = Object.keys(tables).sort();
  const total = names.reduce((n, t) => n + tables[t]!.rows, 0);
  const lines = [`${names.length} table(s), ${total} row(s) fingerprinted`];
  for (const name of names.slice(0, limit)) {
    const got = tables[name]!;
    const want = expected?.[name];
    lines.push(
      want
        ? `${name}: ${got.rows} rows (expected ${want.rows}), checksum ${got.checksum} (expected ${want.checksum})`
        : `${name}: ${got.rows} rows, checksum ${got.checksum}`,
    );
  }
  if (names.length > limit) lines.push(`… ${names.length - limit} more table(s)`);
  return lines;
}

export async function verifyRestore(
  sql: SqlPools,
  e: Endpoint,
  verify: { schemas?: string[]; expected?: Record<string, TableFingerprint> },
): Promise<{ tables: Record<string, TableFingerprint>; evidence: string[] }> {
  failpoint('verify');
  const tables = await keepAlive({ doing: 'fingerprinting the restored tables' }, () =>
    fingerprintTables(sql, e, verify.schemas),
  );
  const evidence = fingerprintEvidence(tables, verify.expected);
  if (verify.expected) {
    const diffs = compareFingerprints(tables, verify.expected);
    if (diffs.length)
      throw failure(
        'VerificationFailed',
        `restored data differs from what was expected: ${diffs.join('; ')}`,
      );
    evidence.push('row counts and checksums equal the expected ones');
  }
  return { tables, evidence };
}
