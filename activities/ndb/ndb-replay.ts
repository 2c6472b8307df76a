// The NDB PITR binlog replay (step 11): from the first epoch after the latest applied to the
// failure point, one replay at a time, resumable by epoch.
import { basename, join } from 'node:path';
import type { StepOutcome } from '../../workflows/kit';
import type { Dialect, Endpoint } from '../../workflows/schemas';
import { formatEpoch } from '../../workflows/epoch';
import { binlogSequence } from '../archive/archive';
import { FsArchive } from '../archive/archive-fs';
import { sha256File } from '../archive/archive-index';
import { verifyAgainstPlan } from '../replay/replay-common';
import { runBinlogPipe } from '../replay/replay-pipe';
import type { VerifiedFile } from '../replay/replay-window';
import type { SqlPools } from '../mysql/sql';
import { failure } from '../../workflows/failures';
import { refuse } from './ndb-pitr-common';
import { findLatestEpoch, startPositionAfter, type NdbStopPoint } from './ndb-replay-bounds';

/**
 * Holds a named lock on the SQL node while `work` replays: an attempt Temporal has already timed out
 * (its heartbeats lost in a server outage) may still be applying when its retry starts. The lock
 * lives with the session, so a dead worker's lock goes with its connection.
 */
async function oneReplayAtATime<T>(sql: SqlPools, e: Endpoint, work: () => Promise<T>): Promise<T> {
  const conn = await (await sql.get(e)).getConnection();
  try {
    const [rows] = (await conn.query("SELECT GET_LOCK('runbook:ndb-replay', 0) AS got")) as unknown as [
      { got: number | null }[],
    ];
    if (Number(rows[0]?.got) !== 1)
      throw failure(
        'Transient',
        'another replay into this SQL node is still running (an earlier attempt); will retry',
      );
    try {
      return await work();
    } finally {
      await conn.query("SELECT RELEASE_LOCK('runbook:ndb-replay')").catch(() => {});
    }
  } finally {
    conn.release();
  }
}

// Step 11: replay from the start position to the failure point. Resumable exactly once: each epoch is
// one transaction that also advances ndb_apply_status, so MAX(epoch) says where to go on; one replay
// at a time, from reading MAX(epoch) to the end.
export function replayNdbBinlogs(
  sql: SqlPools,
  req: NdbReplayRequest,
): Promise<StepOutcome & { latestAfter: string }> {
  return oneReplayAtATime(sql, req.sqlNode, () => replayFromLatestEpoch(sql, req));
}

export interface NdbReplayRequest {
  sqlNode: Endpoint;
  /** The SQL node's flavour (its binlog reader and client); runs recorded before it: mariadb. */
  dialect: Dialect;
  archiveDir: string;
  stop: NdbStopPoint;
  /** The window's files as the plan (locate-backup) verified them; absent in runs planned before it did. */
  window?: VerifiedFile[];
}

async function replayFromLatestEpoch(
  sql: SqlPools,
  req: NdbReplayRequest,
): Promise<StepOutcome & { latestAfter: string }> {
  const latest = (await findLatestEpoch(sql, req.sqlNode)).latest;
  if (BigInt(latest) >= BigInt(req.stop.lastEpoch))
    return {
      skipped: true,
      latestAfter: latest,
      evidence: [`epoch ${latest} already applied: nothing left to replay`],
    };
  const start = await startPositionAfter(sql, req.sqlNode, latest);
  if (!start)
    throw refuse(`no epoch after ${latest} in mysql.ndb_binlog_index: cannot find where to start`, 'NoStart');
  // Resume by epoch: the files from where the next epoch starts to the failure point, verified again.
  const archive = new FsArchive(req.archiveDir);
  const files = req.window
    ? await verifyAgainstPlan(
        archive,
        req.window.filter(
          (f) =>
            binlogSequence(f.name) >= binlogSequence(start.file) &&
            binlogSequence(f.name) <= binlogSequence(req.stop.file),
        ),
        req.archiveDir,
      )
    : await checkedAgainstIndex(req.archiveDir, start.file, req.stop.file);
  if (!files.length || basename(files[0]!) !== start.file || basename(files.at(-1)!) !== req.stop.file)
    throw refuse(
      `the verified window does not hold ${start.file} … ${req.stop.file}: the replay cannot start at ${start.file}:${start.position}`,
      'ArchiveGap',
    );
  const position = `${start.file}:${start.position} … ${req.stop.file}:${req.stop.position}`;
  const epochNow = async () =>
    `epoch ${(await findLatestEpoch(sql, req.sqlNode).catch(() => null))?.latest ?? 'unknown'}`;
  await runBinlogPipe({
    endpoint: req.sqlNode,
    dialect: req.dialect,
    window: [`--start-position=${start.position}`, `--stop-position=${req.stop.position}`],
    files,
    force: false,
    progress: () => ({
      doing: 'replaying binlogs',
      from: `${start.file}:${start.position}`,
      to: `${req.stop.file}:${req.stop.position}`,
    }),
    stopTarget: `${req.stop.file}:${req.stop.position}`,
    whereNow: epochNow,
    stoppedOnSqlError: async (error) =>
      failure(
        'ReplayFailed',
        `replay of ${position} stopped at ${await epochNow()}: ${error}; the failure point is epoch ${req.stop.lastEpoch}. ` +
          'The error is deterministic: a retry would stop at the same epoch. Fix its cause on the SQL node and retry (the replay resumes after its latest epoch), or restore to an earlier failure point',
      ),
  });
  const after = (await findLatestEpoch(sql, req.sqlNode)).latest;
  if (after !== req.stop.lastEpoch)
    throw failure(
      'TargetNotReached',
      `replay ended at epoch ${after}, but the failure point is epoch ${req.stop.lastEpoch}`,
    );
  return {
    latestAfter: after,
    evidence: [
      `replayed ${position} from ${files.length} file(s), every event's checksum verified again`,
      // NDB has no GTIDs: the proof is the epoch the SQL node reached, exactly the failure point's.
      `proof by epoch: ndb_apply_status now at epoch ${after} (${formatEpoch(after)}), the failure point's; NDB binlogs carry no GTIDs, so the transactions are not compared one by one`,
    ],
  };
}

/** Runs planned before the window was verified: the files checked against the index, as then. */
async function checkedAgainstIndex(archiveDir: string, first: string, last: string): Promise<string[]> {
  const index = await new FsArchive(archiveDir).readIndex();
  const window = index.files.filter(
    (f) => binlogSequence(f.name) >= binlogSequence(first) && binlogSequence(f.name) <= binlogSequence(last),
  );
  for (let i = 0; i < window.length; i++) {
    const want = binlogSequence(first) + i;
    if (binlogSequence(window[i]!.name) !== want)
      throw refuse(`the archive misses binlog number ${want} between ${first} and ${last}`, 'ArchiveGap');
    const f = window[i]!;
    if (f.complete && (await sha256File(join(archiveDir, f.name))) !== f.sha256)
      throw refuse(
        `archive file ${f.name} is damaged: its checksum no longer matches the index`,
        'ArchiveDamaged',
      );
  }
  return window.map((f) => join(archiveDir, f.name));
}
