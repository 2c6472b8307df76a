// Step 2 of the Percona runbook when the plan chose a stream of the backup catalog: fetch-backup turns
// it into a prepared directory on the restore host (download, decompress, mbstream, prepare; see
// activities/mysql/backup-fetch.ts) BEFORE the cluster is paused, so production keeps serving for the
// whole download and prepare and is paused only for the copy-back and the replay. Pure workflow code.
import { patched } from '@temporalio/workflow';
import type { BackupInfo } from '../activities/mysql/backup';
import type { PerconaPlan } from '../activities/percona/percona';
import type { Runbook } from './kit';
import type { HostActivities } from './routing';
import type { Archive } from './schemas';

/** Workflow patch: runs recorded before the fetch step replay without it (the step is shown skipped). */
export const FETCH_BACKUP_PATCH = 'fetch-backup';

/** The backup restore-backup copies back: the fetched, prepared directory, or the plan's own directory. */
export async function fetchChosenBackup(
  rb: Runbook<'fetch-backup'>,
  host: HostActivities,
  archive: Archive,
  plan: PerconaPlan,
): Promise<BackupInfo> {
  if (!patched(FETCH_BACKUP_PATCH)) {
    rb.skip('fetch-backup', 'run recorded before backups were fetched: nothing to fetch');
    return plan.backup;
  }
  const source = plan.source;
  if (source?.entry.form !== 'xbstream') {
    rb.skip(
      'fetch-backup',
      `the backup is a prepared directory (${source ? source.entry.name : plan.backup.dir}): nothing to fetch`,
    );
    return plan.backup;
  }
  const fetched = await rb.step('fetch-backup', () =>
    host.fetchBackup({ recoveryId: rb.recoveryId, archive, location: source.catalog, entry: source.entry }),
  );
  return { ...plan.backup, dir: fetched.dir, id: fetched.backupId };
}
