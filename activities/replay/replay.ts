// Replays archived binlogs into the restored server, resuming after the server's own GTID state, so a
// retry or a new worker continues exactly where the last committed transaction left off. Archived
// files are checksum-verified first. Two strategies apply them: the `mysqlbinlog | mysql` pipe
// (replay-pipe.ts) and the replica SQL thread fed by a throwaway source server (replay-applier.ts).
import { startTemporaryServer } from '../mysql/mysqld';
import { ApplierOwner, applyWithApplier, cleanupApplier, stopLeftoverApplier } from './replay-applier';
import {
  appliedBetween,
  fenceOtherSessions,
  gtidState,
  reached,
  ReplayProgress,
  verifiedLocalFiles,
  type ReplayRequest,
  type ReplayResult,
} from './replay-common';
import { applyWithPipe } from './replay-pipe';
import { failpoint } from '../runtime/failpoints';
import type { BinlogArchive } from '../archive/archive';
import type { SqlPools } from '../mysql/sql';
import { failure } from '../../workflows/failures';

export type { ReplayRequest, ReplayResult } from './replay-common';

export async function replayBinlogs(
  sql: SqlPools,
  archive: BinlogArchive,
  req: ReplayRequest,
): Promise<ReplayResult> {
  // A retry after the replayed-into server died (crash, OOM, kill) starts it again first: its
  // InnoDB and binlog recover together, so its GTID state is still the exact resume point.
  const revived = req.server ? !(await startTemporaryServer(sql, req.server)).skipped : false;
  const { plan, endpoint, dialect } = req;
  const strategy = req.replay?.strategy ?? 'pipe';
  if (strategy === 'applier' && (dialect !== 'mariadb' || req.force))
    throw failure(
      'BadReplayRequest',
      'the applier replay is MariaDB-only and cannot skip failing statements (force): use the pipe',
    );
  if (req.only && strategy !== 'applier')
    throw failure(
      'BadReplayRequest',
      'a replay of chosen tables only needs the applier strategy (its replica filter): the pipe applies everything',
    );
  const owner = strategy === 'applier' ? await ApplierOwner.claim(req) : null;
  const leftover = owner !== null && (await stopLeftoverApplier(sql, req));
  const stateBefore = await gtidState(sql, endpoint, dialect);
  const noop = async (why: string): Promise<ReplayResult> => ({
    skipped: true,
    evidence: [why, ...(strategy === 'applier' ? await cleanupApplier(sql, req) : [])],
    stateBefore,
    stateAfter: stateBefore,
    transactionsApplied: plan.stopGtid ? appliedBetween(plan.startGtid, stateBefore, plan.stopGtid) : 0,
    forcedErrors: [],
  });
  if (!plan.stopGtid) return noop('nothing to replay: the backup already is the target');
  if (reached(stateBefore, plan.stopGtid, dialect))
    return noop(`target ${plan.stopGtid} already applied (GTID state ${stateBefore})`);

  const fenced = await fenceOtherSessions(sql, endpoint);
  const files = await verifiedLocalFiles(archive, req);
  const progress = new ReplayProgress(sql, endpoint, dialect, stateBefore, plan.stopGtid, strategy);
  const started = Date.now();
  let forcedErrors: ReplayResult['forcedErrors'] = [];
  let how: string[] = [];
  // Filtered: what the replica went through (gtid_slave_pos), read before the cleanup resets it; the
  // binlog state then moves only with the transactions of the chosen tables.
  let processed: string | null = null;
  try {
    if (owner) {
      how = await applyWithApplier(sql, req, files, stateBefore, progress, owner);
      if (req.only) processed = await replicaPosition(sql, req);
    } else forcedErrors = (await applyWithPipe(sql, req, files, stateBefore, progress)).forced;
  } catch (err) {
    // Leave no replication behind (unless a newer attempt owns it now); a failing cleanup must not
    // hide why the replay stopped.
    if (owner && (await owner.current())) await cleanupApplier(sql, req).catch(() => {});
    throw err;
  } finally {
    progress.stop();
  }
  if (owner) {
    if (!(await owner.current())) throw failure('Superseded', 'a newer attempt took over the applier replay');
    how.push(...(await cleanupApplier(sql, req)));
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  failpoint('replay-binlogs'); // applied, not yet checked

  const stateAfter = await gtidState(sql, endpoint, dialect);
  if (processed !== null) {
    if (!reached(processed, plan.stopGtid, dialect))
      throw failure(
        'TargetNotReached',
        `the filtered replay went through ${processed || '(nothing)'}, but the target ${plan.stopGtid} was not reached`,
      );
    return {
      evidence: [
        `replayed only ${req.only!.join(', ')}: went through ${plan.stopGtid} from ${files.length} file(s) with the applier in ${((Date.now() - started) / 1000).toFixed(1)} s; the restored binlog moved ${stateBefore || '(empty)'} → ${stateAfter} with the transactions of those tables (the proof counts them)`,
        ...how,
      ],
      stateBefore,
      stateAfter,
      transactionsApplied: null,
      forcedErrors: [],
    };
  }
  // Under force a failed transaction commits nothing and logs no GTID, so the state may end short.
  const shortByForce = !reached(stateAfter, plan.stopGtid, dialect) && forcedErrors.length > 0;
  if (!reached(stateAfter, plan.stopGtid, dialect) && !shortByForce)
    throw failure(
      'TargetNotReached',
      `replay ended with GTID state ${stateAfter}, but the target ${plan.stopGtid} was not reached`,
    );
  // Counted from the backup's state, so a resumed replay reports every transaction of the run.
  const applied = appliedBetween(plan.startGtid, stateAfter, plan.stopGtid);
  const thisAttempt = appliedBetween(stateBefore, stateAfter, plan.stopGtid);
  return {
    evidence: [
      `applied through ${plan.stopGtid} from ${files.length} file(s) with the ${strategy} strategy in ${seconds} s; GTID state ${stateBefore || '(empty)'} → ${stateAfter}`,
      ...(applied !== null
        ? [
            `${applied} transaction(s) applied since the backup${thisAttempt !== null && thisAttempt !== applied ? ` (${thisAttempt} by this attempt)` : ''}`,
          ]
        : []),
      ...how,
      ...(revived ? ['the server had stopped: started it again and resumed from its GTID state'] : []),
      ...(leftover
        ? ['stopped the replication an earlier attempt left running, then resumed from the GTID state']
        : []),
      ...(fenced ? [`ended ${fenced} session(s) left by an earlier attempt`] : []),
      ...forcedErrors.map((f) => `force skipped a statement of ${f.gtid}: ${f.error}`),
      ...(shortByForce
        ? [`GTID state ends at ${stateAfter}: transactions up to ${plan.stopGtid} failed and were skipped`]
        : []),
    ],
    stateBefore,
    stateAfter,
    transactionsApplied: applied,
    forcedErrors,
  };
}

/** The replica's position (gtid_slave_pos): past every transaction it read, applied or left out. */
async function replicaPosition(sql: SqlPools, req: ReplayRequest): Promise<string> {
  const [row] = await sql.query(req.endpoint, 'SELECT @@GLOBAL.gtid_slave_pos AS pos');
  return String(row?.pos ?? '').replace(/\s+/g, '');
}
