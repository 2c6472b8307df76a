// The finder as an activity (and for `runbook find`, which runs it on the host it is typed on): the
// archive a catalog entry names, opened with its credentials resolved here, read through the same
// reader as a replay (a remote archive's files staged on this host while they are read).
import type { Archive } from '../../workflows/schemas';
import { keepAlive } from '../runtime/command';
import { archiveReader } from './archive-read';
import { openArchive, stagingDirFor } from './archives';
import { findAccident, type FindQuery, type FindResult } from './accident-finder';

export async function findAccidentIn(archive: Archive, query: FindQuery): Promise<FindResult> {
  const store = await openArchive(archive);
  const progress = { doing: `finding changes to ${query.table} in ${store.location}`, file: '' };
  return keepAlive(progress, () =>
    findAccident(query, {
      archive: store,
      read: archiveReader(store, stagingDirFor(archive, 'accident-finder')),
      onFile: (name) => void (progress.file = name),
    }),
  );
}
