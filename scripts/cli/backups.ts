// `runbook backups <cluster>`: the base backups a Percona recovery of that cluster can start from,
// each with its form, size, finish time, binlog coordinates, whether it is usable (or why not), and
// what it can restore to with the binlog archive: from its own point to the archive's newest
// transaction when the archive continues from it without a gap (judged on the archive's index).
// It reads the fleet catalog, the backups and the archive of the host it runs on (a worker host:
// the catalog and the secrets it names live there) and changes nothing but its own cache of stream
// metadata in the state directory.
import type { Command } from 'commander';
import { loadCatalog, catalogDir } from '../../activities/trust/fleet-catalog';
import { listBackupCatalog, type ListedBackup } from '../../activities/mysql/backup-catalog';
import { readDirMetadata } from '../../activities/mysql/backup-metadata';
import { dirBytes, human } from '../../activities/percona/room';
import { openArchive } from '../../activities/archive/archives';
import type { ArchiveIndex } from '../../activities/archive/archive';
import { indexGaps, iso } from '../../activities/replay/replay-target';
import { Archive, PerconaBackup, describeIssues } from '../../workflows/schemas';
import { CliError } from './connect';

/** What a backup can restore to with the archive, as its index shows it. */
export function reachOf(b: ListedBackup, index: ArchiveIndex): { earliest: string; latest: string } {
  if (!b.binlog) return { earliest: '-', latest: '-' };
  const earliest = `${b.binlog.file}:${b.binlog.position} GTID ${b.binlog.gtid || 'none'}${b.finishedAt ? ` (${b.finishedAt})` : ''}`;
  const files = index.files;
  const start = files.findIndex((f) => f.name === b.binlog!.file);
  if (start < 0)
    return {
      earliest,
      latest: files.length
        ? `its point only: the archive does not hold ${b.binlog.file} (it holds ${files[0]!.name} … ${files.at(-1)!.name})`
        : 'its point only: the archive is empty',
    };
  const gaps = indexGaps(files, start, files.length - 1);
  if (gaps.length) return { earliest, latest: `its point only: the archive has a gap after it (${gaps[0]})` };
  const last = files.at(-1)!;
  return {
    earliest,
    latest: `${last.lastGtid ?? 'no transaction'} (${iso(last.lastEventTime)}, ${last.name})`,
  };
}

/** The listing as printed, one block per backup. */
export function renderBackups(
  location: string,
  backups: ListedBackup[],
  index: ArchiveIndex,
  archive: string,
): string {
  const lines = [
    `backups in ${location} (newest first); reach judged on the index of the archive ${archive}`,
  ];
  if (!backups.length) lines.push('  (none)');
  for (const b of backups) {
    const r = reachOf(b, index);
    lines.push(
      `${b.name}`,
      `  form:      ${b.form}${b.compression !== 'none' ? ` (${b.compression})` : ''}, ${human(b.bytes)}${b.dataBytes !== undefined ? ` (${human(b.dataBytes)} of data)` : ''}, tool ${b.tool}`,
      `  finished:  ${b.finishedAt ?? 'unknown'}`,
      `  binlog:    ${b.binlog ? `${b.binlog.file}:${b.binlog.position} GTID ${b.binlog.gtid || 'none'}` : 'unknown'}`,
      `  usable:    ${b.problem ? `no: ${b.problem}` : 'yes'}`,
      ...(b.problem ? [] : [`  earliest:  ${r.earliest}`, `  latest:    ${r.latest}`]),
    );
  }
  return lines.join('\n');
}

export function addBackupsCommand(program: Command): void {
  program
    .command('backups <cluster>')
    .description(
      "a Percona cluster's base backups (from the fleet catalog on this host): coordinates, usable or why not, what each can restore to",
    )
    .action(async (cluster: string) => {
      const entries = await loadCatalog(catalogDir(), { usableOnly: true }).catch((err: Error) => {
        throw new CliError(err.message, 2);
      });
      const input = entries.get(cluster)?.runbooks.perconaPointInTimeRecovery?.input;
      if (!input)
        throw new CliError(
          `${cluster}: no usable fleet catalog entry for a Percona recovery of it in ${catalogDir()}`,
          2,
        );
      const backup = PerconaBackup.safeParse(input.backup);
      const archive = Archive.safeParse(input.archive);
      if (!backup.success || !archive.success)
        throw new CliError(
          `${cluster}: the catalog entry's ${!backup.success ? `backup: ${describeIssues(backup.error)}` : `archive: ${describeIssues(archive.error!)}`}`,
          2,
        );
      const b = backup.data;
      const listing =
        'catalog' in b
          ? await listBackupCatalog(b.catalog, {
              onRead: (name) => console.error(`reading ${name} (first time, or changed)…`),
            })
          : { location: b.dir, backups: [await single(b.dir)] };
      const store = await openArchive(archive.data);
      console.log(renderBackups(listing.location, listing.backups, await store.readIndex(), store.location));
    });
}

async function single(dir: string): Promise<ListedBackup> {
  const meta = await readDirMetadata(dir);
  return {
    name: dir,
    id: dir,
    form: 'prepared-dir',
    compression: 'none',
    bytes: await dirBytes(dir),
    finishedAt: meta.finishedAt,
    binlog: meta.binlog,
    tool: meta.tool,
    problem: meta.problem,
  };
}
