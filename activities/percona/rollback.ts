// Rollback of a Percona recovery: production back exactly as it was before the run. The restored
// datadir is moved aside (never deleted), the datadir that was there is moved back, and the cluster
// must answer with the GTID state it had when it was paused. Each move is check-then-act against the
// ledger and the disk, so a retry after a crash at any point finishes the same rollback.
import { mkdir, readdir, rmdir, stat } from 'node:fs/promises';
import { renameDurably } from '../runtime/durable-file';
import type { Cluster } from '../../workflows/schemas';
import type { StepOutcome } from '../../workflows/kit';
import { parseMariadbGtidList } from '../../workflows/gtid';
import {
  BEFORE_RESTORE,
  BEFORE_RUN,
  processesUsingDatadir,
  ROLLED_BACK,
  type BeforeRestore,
} from '../mysql/backup';
import { checkDatadir } from '../trust/datadir-guard';
import { Ledger } from '../runtime/ledger';
import { describeEndpoint, type SqlPools } from '../mysql/sql';
import { failure } from '../../workflows/failures';

const RESTORED_ASIDE = 'rollback-restored-aside';
const PREVIOUS_BACK = 'rollback-previous-back';

export const restoredAsideOf = (datadir: string, recoveryId: string) => `${datadir}.restored-${recoveryId}`;

async function entries(dir: string): Promise<string[] | null> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function refuseInUse(datadir: string, pids: number[]): void {
  if (pids.length)
    throw failure(
      'DatadirInUse',
      `${datadir} is in use by process ${pids.join(', ')}: stop it (the cluster, the temporary mysqld) before the rollback moves the datadir; nothing was moved`,
    );
}

/** Moves what the recovery put at the datadir (restored or half-copied) aside, kept for inspection. */
export async function setRestoredDatadirAside(req: {
  recoveryId: string;
  datadir: string;
}): Promise<StepOutcome> {
  await checkDatadir(req.datadir, []);
  const ledger = Ledger.besideDatadir(req.datadir);
  const done = await ledger.read(req.recoveryId, RESTORED_ASIDE);
  if (done)
    return {
      skipped: true,
      evidence: [`restored datadir already set aside at ${String(done.path ?? 'nowhere')}`],
    };
  if (
    !(await ledger.read(req.recoveryId, 'restore-backup-started')) &&
    !(await ledger.read(req.recoveryId, 'restore-backup'))
  )
    return {
      skipped: true,
      evidence: [`recovery ${req.recoveryId} never restored into ${req.datadir}: nothing to set aside`],
    };
  const content = await entries(req.datadir);
  if (!content?.length) {
    await ledger.write(req.recoveryId, RESTORED_ASIDE, { path: null });
    return { evidence: [`${req.datadir} holds nothing of the restore: nothing to set aside`] };
  }
  refuseInUse(req.datadir, await processesUsingDatadir(req.datadir));
  const aside = restoredAsideOf(req.datadir, req.recoveryId);
  if (await stat(aside).catch(() => null))
    throw failure(
      'DatadirInUse',
      `cannot set the restored datadir aside: ${aside} already exists. Move it away and retry; nothing was moved`,
    );
  await renameDurably(req.datadir, aside);
  await ledger.write(req.recoveryId, RESTORED_ASIDE, { path: aside });
  return { evidence: [`restored datadir kept at ${aside}`] };
}

/** Moves the datadir that was there before the recovery back into place. */
export async function putPreviousDatadirBack(req: {
  recoveryId: string;
  datadir: string;
}): Promise<StepOutcome> {
  await checkDatadir(req.datadir, []);
  const ledger = Ledger.besideDatadir(req.datadir);
  const done = await ledger.read(req.recoveryId, PREVIOUS_BACK);
  if (done)
    return { skipped: true, evidence: [`previous datadir already back at ${req.datadir} (${done.at})`] };
  const before = (await ledger.read(req.recoveryId, BEFORE_RESTORE)) as unknown as BeforeRestore | undefined;
  if (!before)
    return {
      skipped: true,
      evidence: [`recovery ${req.recoveryId} never moved ${req.datadir}: nothing to put back`],
    };
  const now = await entries(req.datadir);
  if (now?.length)
    throw failure(
      'DatadirInUse',
      `${req.datadir} is not empty (${now.length} entries) although the restored datadir was set aside: something else wrote there. Nothing was moved; look at it before retrying`,
    );
  if (before.previousDatadir === null) {
    if (before.emptyDatadir) await mkdir(req.datadir, { recursive: true });
    await ledger.write(req.recoveryId, PREVIOUS_BACK, { path: null });
    return {
      evidence: [
        before.emptyDatadir
          ? `there was an empty datadir at ${req.datadir} before the recovery: left an empty one`
          : `there was no datadir at ${req.datadir} before the recovery: left none`,
      ],
    };
  }
  if (!(await entries(before.previousDatadir))?.length)
    throw failure(
      'PreviousDatadirMissing',
      `the datadir that was there before the recovery, kept at ${before.previousDatadir}, is gone or empty: there is nothing to put back. Nothing was moved`,
    );
  if (now) await rmdir(req.datadir); // an empty directory left in its place
  await renameDurably(before.previousDatadir, req.datadir);
  await ledger.write(req.recoveryId, PREVIOUS_BACK, { path: before.previousDatadir });
  return { evidence: [`moved ${before.previousDatadir} back to ${req.datadir}`] };
}

/**
 * Production must answer with the GTID state it had when the recovery paused it: anything else
 * means it is not back as it was, and the rollback fails saying what it found.
 */
export async function verifyClusterBack(
  sql: SqlPools,
  req: { recoveryId: string; datadir: string; cluster: Cluster },
): Promise<StepOutcome> {
  const paused = await Ledger.besideDatadir(req.datadir).read(req.recoveryId, BEFORE_RUN);
  const c = req.cluster;
  if (!c.connection)
    throw failure(
      'RollbackUnproven',
      `production ${c.name} was put back and started, but the rollback cannot prove it: the cluster has no connection to read its GTID state from. Check it by hand`,
    );
  await sql.forget(c.connection);
  const [row] = await sql.query(c.connection, 'SELECT @@GLOBAL.gtid_binlog_pos AS g');
  const now = String(row?.g ?? '');
  const want = (paused?.clusterGtidBefore as string | null | undefined) ?? null;
  if (want === null)
    throw failure(
      'RollbackUnproven',
      `production ${c.name} answers at ${describeEndpoint(c.connection)} with GTID state ${now || '(empty)'}, but its state before the recovery was not recorded (it was not running, or had no connection, when it was paused): the rollback cannot prove it is back as it was`,
    );
  // Read just before the pause began: a transaction committed while it stopped may follow it.
  const behind = [...parseMariadbGtidList(want).values()].filter(
    (g) => (parseMariadbGtidList(now).get(g.domain)?.seq ?? -1n) < g.seq,
  );
  if (behind.length)
    throw failure(
      'RollbackMismatch',
      `production ${c.name} answers with GTID state ${now || '(empty)'}, but it had ${want} when the recovery paused it: it is not back as it was (it lacks ${behind.map((g) => `${g.domain}-${g.server}-${g.seq}`).join(', ')})`,
    );
  await Ledger.besideDatadir(req.datadir).write(req.recoveryId, ROLLED_BACK, { gtid: now });
  return {
    evidence: [
      now === want
        ? `production ${c.name} answers with GTID state ${now || '(empty)'}, as when the recovery paused it`
        : `production ${c.name} answers with GTID state ${now}: all it had when the pause began (${want}), and what it committed while it stopped`,
    ],
  };
}
