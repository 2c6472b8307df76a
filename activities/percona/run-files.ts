// The files a recovery keeps on its restore host while it runs, removed once it has completed or been
// rolled back: the staging directory (binlogs fetched from a remote archive, the applier's source
// server) and the temporary mysqld's runtime directory. Both are this project's own, named after the
// recovery; the restored datadir, the datadir moved aside and the ledger are never touched here.
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepOutcome } from '../../workflows/kit';
import { BEFORE_RUN } from '../mysql/backup';
import { Ledger } from '../runtime/ledger';
import { runtimeDir } from '../mysql/mysqld';
import { livePid } from '../runtime/processes';

export async function removeRunFiles(req: {
  recoveryId: string;
  datadir: string;
  stagingDir?: string;
}): Promise<StepOutcome> {
  const recorded = await Ledger.besideDatadir(req.datadir).read(req.recoveryId, BEFORE_RUN);
  const staging = req.stagingDir ?? (recorded?.stagingDir as string | null | undefined) ?? null;
  const runtime = runtimeDir({ recoveryId: req.recoveryId, datadir: req.datadir });
  const removed: string[] = [];
  // Only a directory named after this recovery is removed (a staging dir is <staging root>/<recoveryId>).
  if (staging && staging.endsWith(`/${req.recoveryId}`) && (await stat(staging).catch(() => null))) {
    await rm(staging, { recursive: true, force: true });
    removed.push(staging);
  }
  if (!(await livePid(join(runtime, 'mysqld.pid'))) && (await stat(runtime).catch(() => null))) {
    await rm(runtime, { recursive: true, force: true });
    removed.push(runtime);
  }
  return removed.length
    ? { evidence: [`removed this run's own temporary files: ${removed.join(', ')}`] }
    : { skipped: true, evidence: ['no temporary files of this run are left'] };
}
