// Replays archived binlogs into the restored server: `mysqlbinlog | mysql` in one client session,
// resuming after the server's own GTID state, so a retry or a new worker continues exactly where the
// last committed transaction left off. Archived files are checksum-verified first.
import { ApplicationFailure } from '@temporalio/activity';
import { stat } from 'node:fs/promises';
import type { Dialect, Endpoint } from '../workflows/schemas';
import type { StepOutcome } from '../workflows/kit';
import {
  mariadbPositionIncludes,
  mysqlSetIncludes,
  parseMariadbGtid,
  parseMariadbGtidList,
} from '../workflows/gtid';
import type { ArchivedFile, BinlogArchive } from './archive';
import { localCopy, sha256File } from './archive-index';
import { clientOptions } from './client-options';
import { CommandError, runPipe } from './command';
import { dialectOf } from './dialect';
import type { ReplayPlan } from './replay-plan';
import { startTemporaryServer, type TemporaryServerSpec } from './mysqld';
import type { SqlPools } from './sql';

export interface ReplayRequest {
  recoveryId: string;
  dialect: Dialect;
  endpoint: Endpoint;
  plan: ReplayPlan;
  backupPosition: { file: string; position: number };
  force: boolean;
  stagingDir: string;
  /** The server replayed into, when this runbook started it: brought back first if it died. */
  server?: TemporaryServerSpec & { backupGtid: string };
}

export interface ReplayResult extends StepOutcome {
  stateBefore: string;
  stateAfter: string;
  transactionsApplied: number | null;
  forcedErrors: string[];
}

/** Connection errors mean "try again" (the server or the worker went away); SQL errors do not. */
const TRANSIENT_CLIENT_ERRORS = /ERROR (2002|2003|2006|2013|1950|1927)\b/;

async function gtidState(sql: SqlPools, e: Endpoint, dialect: Dialect): Promise<string> {
  const [row] = await sql.query(e, dialectOf(dialect).gtidStateSql);
  return String(row?.gtid ?? '').replace(/\s+/g, '');
}

/** Ends client sessions left by an earlier attempt, so two replays never interleave. */
async function fenceOtherSessions(sql: SqlPools, e: Endpoint): Promise<number> {
  const rows = await sql.query(
    e,
    `SELECT id FROM information_schema.processlist
      WHERE id <> CONNECTION_ID() AND command NOT IN ('Daemon', 'Binlog Dump') AND user NOT IN ('system user', 'event_scheduler')`,
  );
  for (const r of rows) await sql.query(e, `KILL ${Number(r.id)}`).catch(() => {});
  return rows.length;
}

function appliedBetween(before: string, after: string, stopGtid: string): number | null {
  try {
    const d = parseMariadbGtid(stopGtid).domain;
    const a = parseMariadbGtidList(before).get(d)?.seq ?? 0n;
    const b = parseMariadbGtidList(after).get(d)?.seq ?? 0n;
    return Number(b - a);
  } catch {
    return null;
  }
}

function reached(state: string, stopGtid: string, dialect: Dialect): boolean {
  return dialect === 'mariadb' ? mariadbPositionIncludes(state, stopGtid) : mysqlSetIncludes(state, stopGtid);
}

async function verifiedLocalFiles(archive: BinlogArchive, req: ReplayRequest): Promise<string[]> {
  const index = await archive.readIndex();
  const byName = new Map<string, ArchivedFile>(index.files.map((f) => [f.name, f]));
  const paths: string[] = [];
  for (const name of req.plan.files) {
    const entry = byName.get(name);
    if (!entry)
      throw ApplicationFailure.nonRetryable(
        `archive file ${name} is no longer in the index of ${archive.location}`,
        'ArchiveChanged',
      );
    const path = await localCopy(archive, name, req.stagingDir, entry.complete ? entry : undefined);
    if (entry.complete) {
      const size = (await stat(path)).size;
      if (size !== entry.size || (await sha256File(path)) !== entry.sha256)
        throw ApplicationFailure.nonRetryable(
          `archive file ${name} is damaged: its checksum no longer matches the index (size ${size}, indexed ${entry.size}); re-fetch it from the source or restore to an earlier target`,
          'ArchiveDamaged',
        );
    }
    paths.push(path);
  }
  return paths;
}

/**
 * Replay progress for heartbeats (and so for `runbook status --watch`): transactions applied so far,
 * read from the server's own GTID state every 2 s, against the number the plan needs (MariaDB: one
 * GTID domain's sequence numbers; elsewhere only the stop GTID is reported).
 */
class ReplayProgress {
  private applied = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly total: number | null;

  constructor(
    private readonly sql: SqlPools,
    private readonly e: Endpoint,
    private readonly dialect: Dialect,
    private readonly stateBefore: string,
    private readonly stopGtid: string,
  ) {
    this.total = appliedBetween(stateBefore, stopGtid, stopGtid);
    this.timer = setInterval(() => void this.sample(), 2000);
  }

  private async sample(): Promise<void> {
    const now = await gtidState(this.sql, this.e, this.dialect).catch(() => null);
    const n = now === null ? null : appliedBetween(this.stateBefore, now, this.stopGtid);
    if (n !== null) this.applied = n;
  }

  details() {
    return {
      step: 'replay-binlogs',
      stopGtid: this.stopGtid,
      ...(this.total !== null ? { transactionsApplied: this.applied, transactionsTotal: this.total } : {}),
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export async function replayBinlogs(
  sql: SqlPools,
  archive: BinlogArchive,
  req: ReplayRequest,
): Promise<ReplayResult> {
  // A retry after the replayed-into server died (crash, OOM, kill) starts it again first: its
  // InnoDB and binlog recover together, so its GTID state is still the exact resume point.
  const revived = req.server ? !(await startTemporaryServer(sql, req.server)).skipped : false;
  const { plan, endpoint, dialect } = req;
  const d = dialectOf(dialect);
  const stateBefore = await gtidState(sql, endpoint, dialect);
  const noop = (why: string): ReplayResult => ({
    skipped: true,
    evidence: [why],
    stateBefore,
    stateAfter: stateBefore,
    transactionsApplied: 0,
    forcedErrors: [],
  });
  if (!plan.stopGtid) return noop('nothing to replay: the backup already is the target');
  if (reached(stateBefore, plan.stopGtid, dialect))
    return noop(`target ${plan.stopGtid} already applied (GTID state ${stateBefore})`);

  const fenced = await fenceOtherSessions(sql, endpoint);
  const files = await verifiedLocalFiles(archive, req);
  const client = await clientOptions(endpoint);
  const progress = new ReplayProgress(sql, endpoint, dialect, stateBefore, plan.stopGtid);
  const producer = [
    d.binlogTool,
    '--no-defaults',
    ...d.replayWindowArgs(stateBefore, { gtid: plan.stopGtid, endPos: plan.stopEndPos }, req.backupPosition),
    ...files,
  ];
  const consumer = [d.client, ...client.args, '--binary-mode', '--batch', ...(req.force ? ['--force'] : [])];
  let stderr = '';
  try {
    const r = await runPipe(producer, consumer, {
      secrets: client.secrets,
      env: { ...process.env, TZ: 'UTC' },
      progress: () => progress.details(),
    });
    stderr = r.consumer.stderr;
    if (/Did not reach stop position|WARNING/i.test(r.producer.stderr))
      throw ApplicationFailure.nonRetryable(
        `${d.binlogTool} did not reach ${plan.stopGtid}: ${r.producer.stderr.trim()}`,
        'TargetNotReached',
      );
  } catch (err) {
    if (
      err instanceof CommandError &&
      !TRANSIENT_CLIENT_ERRORS.test(err.message) &&
      err.program === d.client
    ) {
      const now = await gtidState(sql, endpoint, dialect).catch(() => 'unknown');
      throw ApplicationFailure.nonRetryable(
        `${err.message}; replay stopped with GTID state ${now}, target ${plan.stopGtid} not reached. Fix the cause and retry (the replay resumes after ${now}), or set force to skip failing statements`,
        'ReplayFailed',
      );
    }
    throw err;
  } finally {
    progress.stop();
    await client.cleanup();
  }

  const stateAfter = await gtidState(sql, endpoint, dialect);
  const forcedErrors = req.force ? stderr.split('\n').filter((l) => /^ERROR \d+/.test(l)) : [];
  // Under force a failed transaction commits nothing and logs no GTID, so the state may end short.
  const shortByForce = !reached(stateAfter, plan.stopGtid, dialect) && forcedErrors.length > 0;
  if (!reached(stateAfter, plan.stopGtid, dialect) && !shortByForce)
    throw ApplicationFailure.nonRetryable(
      `replay ended with GTID state ${stateAfter}, but the target ${plan.stopGtid} was not reached`,
      'TargetNotReached',
    );
  const applied = appliedBetween(stateBefore, stateAfter, plan.stopGtid);
  return {
    evidence: [
      `applied through ${plan.stopGtid} from ${files.length} file(s); GTID state ${stateBefore || '(empty)'} → ${stateAfter}`,
      ...(applied !== null ? [`${applied} transaction(s) applied`] : []),
      ...(revived ? ['the server had stopped: started it again and resumed from its GTID state'] : []),
      ...(fenced ? [`ended ${fenced} session(s) left by an earlier attempt`] : []),
      ...(forcedErrors.length
        ? [`force: ${forcedErrors.length} SQL error(s) skipped: ${forcedErrors.join(' | ')}`]
        : []),
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
