// `runbook find <cluster> --table schema.table`: the transactions of the cluster's archived binlogs
// that touch one table, the likely accident among them, and the recovery target that stops just
// before it (`--emit-target`: that target alone, as JSON for a perconaPointInTimeRecovery request).
// Like `runbook backups`, it runs on the host it is typed on (a worker host: the fleet catalog and
// the archive's secrets live there), reads the archive named in the cluster's catalog entry, and
// changes nothing but the staging copies of a remote archive's files.
import type { Command } from 'commander';
import { ApplicationFailure } from '@temporalio/common';
import { catalogDir, loadCatalog } from '../../activities/trust/fleet-catalog';
import { findAccidentIn } from '../../activities/archive/accident-activity';
import { FindKind, type FindQuery, type FindResult } from '../../activities/archive/accident-finder';
import { mainKind, rowsOf, type FoundTransaction } from '../../activities/archive/accident-rule';
import { iso } from '../../activities/replay/replay-target';
import { Archive, describeIssues } from '../../workflows/schemas';
import { CliError } from './connect';

/** The archive of a cluster's catalog entry: its Percona recovery's, else any runbook's that names one. */
async function archiveOf(cluster: string): Promise<Archive> {
  const entries = await loadCatalog(catalogDir(), { usableOnly: true }).catch((err: Error) => {
    throw new CliError(err.message, 2);
  });
  const entry = entries.get(cluster);
  if (!entry)
    throw new CliError(`${cluster}: no usable fleet catalog entry of that name in ${catalogDir()}`, 2);
  const specs = Object.entries(entry.runbooks).sort(([a]) => (a === 'perconaPointInTimeRecovery' ? -1 : 1));
  for (const [, spec] of specs) {
    const raw = (spec?.input as { archive?: unknown } | undefined)?.archive;
    if (raw === undefined) continue;
    const a = Archive.safeParse(raw);
    if (!a.success)
      throw new CliError(`${cluster}: the catalog entry's archive: ${describeIssues(a.error)}`, 2);
    return a.data;
  }
  throw new CliError(`${cluster}: its catalog entry names no binlog archive`, 2);
}

const rowsText = (t: FoundTransaction) => {
  const kind = mainKind(t);
  const counted = t.changes.filter((c) => c.kind === kind);
  if (counted.every((c) => c.how === 'statement')) return '-';
  const n = rowsOf(t, [kind]);
  if (n === null) return '?';
  return `${counted.some((c) => c.how === 'estimate') ? '≈' : ''}${n}`;
};

/** Left-aligned columns; the last (the statement) is not padded. */
function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const STATEMENT_SHOWN = 100;
const cut = (s: string) => (s.length > STATEMENT_SHOWN ? `${s.slice(0, STATEMENT_SHOWN - 1)}…` : s);

const kindsText = (t: FoundTransaction) => [...new Set(t.changes.map((c) => c.kind))].join('+');

export function renderFind(r: FindResult): string {
  const mib = (r.window.bytes / 1024 / 1024).toFixed(1);
  const lines = [
    `${r.table} in ${r.archive}, ${r.window.from} … ${r.window.to}: ${r.window.files.length} file(s) (${r.window.files[0]} … ${r.window.files.at(-1)}), ${mib} MiB in ${r.window.seconds.toFixed(1)} s`,
    `${r.scanned} transaction(s) read, ${r.matching} touching ${r.table}${r.kind !== 'any' ? ` (kind ${r.kind})` : ''}${r.listed.length < r.matching ? `; ${r.listed.length} listed (every flagged one, then the latest)` : ''}`,
    ...r.warnings.map((w) => `warning: ${w}`),
  ];
  if (r.listed.length)
    lines.push(
      '',
      renderTable(
        ['', 'GTID', 'time', 'file:pos', 'kind', 'rows', 'server', 'statement'],
        r.listed.map((t) => [
          t.flag ? '!' : '',
          t.gtid,
          iso(t.time),
          `${t.file}:${t.position}`,
          kindsText(t),
          rowsText(t),
          String(t.serverId),
          cut(t.statement || '(row events; no annotation)'),
        ]),
      ),
    );
  const a = r.accident;
  if (!a) {
    lines.push('', 'no likely accident in this window (rule: docs/cli.md, "Find the accident")');
    return lines.join('\n');
  }
  lines.push(
    '',
    `likely accident: ${a.gtid} at ${iso(a.time)} (${a.file}:${a.position}, server ${a.serverId}): ${a.flag}`,
    'recovery target that stops just before it:',
    `  ${JSON.stringify(r.target)}`,
  );
  if (r.target?.type === 'gtid')
    lines.push(`  ${JSON.stringify(r.positionTarget)}   (the same point by position)`);
  return lines.join('\n');
}

export function addFindCommand(program: Command): void {
  program
    .command('find <cluster>')
    .description(
      "the transactions of a cluster's archived binlogs touching one table, the likely accident, and the target just before it",
    )
    .requiredOption('--table <schema.table>', 'the table, exactly (backquote a part that needs it)')
    .option('--kind <kind>', `only changes of this kind: ${FindKind.options.join('|')} (ddl: any DDL)`)
    .option('--from <time>', 'start of the window (ISO-8601 with a zone; default: the archive’s first event)')
    .option('--to <time>', 'end of the window (ISO-8601 with a zone; default: the archive’s newest event)')
    .option('--emit-target', 'print only the target before the accident, as JSON (exit 1 when none)')
    .option('--json', 'print the whole result as JSON')
    .action(
      async (
        cluster: string,
        o: { table: string; kind?: string; from?: string; to?: string; emitTarget?: boolean; json?: boolean },
      ) => {
        const archive = await archiveOf(cluster);
        let result: FindResult;
        try {
          result = await findAccidentIn(archive, {
            table: o.table,
            ...(o.kind !== undefined ? { kind: o.kind as FindQuery['kind'] & string } : {}),
            ...(o.from !== undefined ? { from: o.from } : {}),
            ...(o.to !== undefined ? { to: o.to } : {}),
          });
        } catch (err) {
          if (err instanceof ApplicationFailure)
            throw new CliError(`${cluster}: ${err.message}`, err.type === 'InvalidInput' ? 2 : 1);
          throw err;
        }
        if (o.emitTarget) {
          if (!result.target)
            throw new CliError(
              `${cluster}: no likely accident to ${result.table} in ${result.window.from} … ${result.window.to} (${result.matching} transaction(s) touch it); no target`,
              1,
            );
          console.log(JSON.stringify(result.target));
          return;
        }
        console.log(o.json ? JSON.stringify(result, null, 2) : renderFind(result));
      },
    );
}
