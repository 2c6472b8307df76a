// What every replay strategy shares: the request and result shapes, the server's GTID state (the
// resume point), fencing of sessions left by an earlier attempt, checksum-verified archive files and
// the progress sent with heartbeats.
import { ApplicationFailure } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Dialect, Endpoint, ReplayStrategy } from '../../workflows/schemas';
import type { StepOutcome } from '../../workflows/kit';
import {
  isMariadbGtid,
  mariadbPositionIncludes,
  mysqlSetIncludes,
  parseMariadbGtid,
  parseMariadbGtidList,
} from '../../workflows/gtid';
import type { ArchivedFile, BinlogArchive } from '../archive/archive';
import { localCopy, sha256File } from '../archive/archive-index';
import { BinlogDamaged, binlogTransactions, scanBinlogStream } from '../archive/binlog-scan';
import { dialectOf } from '../mysql/dialect';
import type { ReplayPlan } from './replay-plan';
import type { VerifiedFile } from './replay-window';
import type { TemporaryServerSpec } from '../mysql/mysqld';
import type { SqlPools } from '../mysql/sql';
import { failure } from '../../workflows/failures';

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
  /** How to apply the binlogs (default: the `mysqlbinlog | mysql` pipe). */
  replay?: { strategy: ReplayStrategy; parallelThreads: number };
  /**
   * Apply only these tables (`schema.table`; the applier's replica filter, replay-filter.ts): the rest
   * of the window is read and left out. The restore aside's replay (issue 17).
   */
  only?: string[];
}

export interface ReplayResult extends StepOutcome {
  stateBefore: string;
  stateAfter: string;
  transactionsApplied: number | null;
  /** Errors force went past, each with the transaction it hit. */
  forcedErrors: { gtid: string; error: string }[];
}

export async function gtidState(sql: SqlPools, e: Endpoint, dialect: Dialect): Promise<string> {
  const [row] = await sql.query(e, dialectOf(dialect).gtidStateSql);
  return String(row?.gtid ?? '').replace(/\s+/g, '');
}

/** Ends client sessions left by an earlier attempt, so two replays never interleave. */
export async function fenceOtherSessions(sql: SqlPools, e: Endpoint): Promise<number> {
  const rows = await sql.query(
    e,
    `SELECT id FROM information_schema.processlist
      WHERE id <> CONNECTION_ID() AND command NOT IN ('Daemon', 'Binlog Dump') AND user NOT IN ('system user', 'event_scheduler')`,
  );
  for (const r of rows) await sql.query(e, `KILL ${Number(r.id)}`).catch(() => {});
  return rows.length;
}

export function appliedBetween(before: string, after: string, stopGtid: string): number | null {
  try {
    const d = parseMariadbGtid(stopGtid).domain;
    const a = parseMariadbGtidList(before).get(d)?.seq ?? 0n;
    const b = parseMariadbGtidList(after).get(d)?.seq ?? 0n;
    return Number(b - a);
  } catch {
    return null;
  }
}

/** The first transaction of `files` that the GTID state does not include: where a replay stands. */
export async function nextTransactionAfter(
  files: string[],
  state: string,
): Promise<{ gtid: string; file: string; pos: number } | null> {
  for (const path of files)
    for await (const t of binlogTransactions(path))
      if (!stateIncludesAny(state, t.gtid)) return { gtid: t.gtid, file: basename(path), pos: t.startPos };
  return null;
}

function stateIncludesAny(state: string, gtid: string): boolean {
  return (
    state !== '' &&
    (isMariadbGtid(gtid) ? mariadbPositionIncludes(state, gtid) : mysqlSetIncludes(state, gtid))
  );
}

export function reached(state: string, stopGtid: string, dialect: Dialect): boolean {
  return dialect === 'mariadb' ? mariadbPositionIncludes(state, stopGtid) : mysqlSetIncludes(state, stopGtid);
}

/**
 * Local paths of the plan's files, each read again in full before anything is applied: every event's
 * CRC32, and the same bytes the plan verified (sha256 of its first `size` bytes; an active file may
 * have grown since). A missing staged copy is fetched again and checked the same way.
 */
export async function verifiedLocalFiles(archive: BinlogArchive, req: ReplayRequest): Promise<string[]> {
  const planned = req.plan.window?.files;
  if (!planned) return indexCheckedFiles(archive, req); // a plan made before plans verified the window
  return verifyAgainstPlan(archive, planned, req.stagingDir);
}

/** Each planned file's local copy, read again in full and checked to be the bytes the plan verified. */
export async function verifyAgainstPlan(
  archive: BinlogArchive,
  planned: VerifiedFile[],
  stagingDir: string,
  /** What the failure says was (not) done: the replay's default, or the proof's. */
  consequence = 'Nothing was replayed',
): Promise<string[]> {
  const paths: string[] = [];
  for (const f of planned) {
    const path = await localCopy(archive, f.name, stagingDir);
    await reverify(path, f, consequence);
    paths.push(path);
  }
  return paths;
}

/** Every event's CRC32, and sha256 of the first `size` bytes (an active file may have grown since). */
async function reverify(path: string, f: VerifiedFile, consequence: string): Promise<void> {
  const digest = createHash('sha256');
  let hashed = 0;
  const prefix = async function* (chunks: AsyncIterable<Buffer>) {
    for await (const c of chunks) {
      const take = Math.min(c.length, f.size - hashed);
      if (take > 0) digest.update(c.subarray(0, take));
      hashed += take;
      yield c;
    }
  };
  const s = await scanBinlogStream(
    prefix(createReadStream(path, { highWaterMark: 1 << 20 })),
    f.size,
    undefined,
    {
      name: f.name,
    },
  ).catch((err: unknown) => {
    if (err instanceof BinlogDamaged)
      throw failure(
        'ArchiveDamaged',
        `archive file ${f.name} is damaged at offset ${err.offset} (${err.what}) although the plan verified it: it changed on disk since. Re-fetch it and start the recovery again. ${consequence}`,
      );
    throw err;
  });
  if (hashed < f.size || digest.digest('hex') !== f.sha256)
    throw failure(
      'ArchiveChanged',
      `archive file ${f.name} is not the file the plan verified (now ${s.size} bytes, planned ${f.size}; sha256 differs): it changed since the plan. ${consequence}; start the recovery again to plan over what the archive holds now`,
    );
}

/** The check of plans made before the window was verified: each file's sha256 against the index. */
async function indexCheckedFiles(archive: BinlogArchive, req: ReplayRequest): Promise<string[]> {
  const index = await archive.readIndex();
  const byName = new Map<string, ArchivedFile>(index.files.map((f) => [f.name, f]));
  const paths: string[] = [];
  for (const name of req.plan.files) {
    const entry = byName.get(name);
    if (!entry)
      throw failure(
        'ArchiveChanged',
        `archive file ${name} is no longer in the index of ${archive.location}`,
      );
    const path = await localCopy(archive, name, req.stagingDir, entry.complete ? entry : undefined);
    if (entry.complete) {
      const size = (await stat(path)).size;
      if (size !== entry.size || (await sha256File(path)) !== entry.sha256)
        throw failure(
          'ArchiveDamaged',
          `archive file ${name} is damaged: its checksum no longer matches the index (size ${size}, indexed ${entry.size}); re-fetch it from the source or restore to an earlier target`,
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
export class ReplayProgress {
  private applied = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly total: number | null;

  constructor(
    private readonly sql: SqlPools,
    private readonly e: Endpoint,
    private readonly dialect: Dialect,
    private readonly stateBefore: string,
    private readonly stopGtid: string,
    private readonly strategy: ReplayStrategy,
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
      doing: 'replaying binlogs',
      strategy: this.strategy,
      stopGtid: this.stopGtid,
      ...(this.total !== null ? { transactionsApplied: this.applied, transactionsTotal: this.total } : {}),
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The final failure of a replay that stopped on a SQL error: which transaction, where, and what now. */
export async function stoppedAt(
  sql: SqlPools,
  req: ReplayRequest,
  files: string[],
  error: string,
): Promise<ApplicationFailure> {
  const now = await gtidState(sql, req.endpoint, req.dialect).catch(() => null);
  const next = now === null ? null : await nextTransactionAfter(files, now).catch(() => null);
  const where = next
    ? `before ${next.gtid} (${next.file}:${next.pos})`
    : `with GTID state ${now ?? 'unknown'}`;
  const applied = now === null ? null : appliedBetween(req.plan.startGtid, now, req.plan.stopGtid!);
  const of = appliedBetween(req.plan.startGtid, req.plan.stopGtid!, req.plan.stopGtid!);
  return failure(
    'ReplayFailed',
    `replay stopped ${where}: ${error}; ${applied ?? '?'} of ${of ?? '?'} transactions of the window applied (GTID state ${now ?? 'unknown'}), target ${req.plan.stopGtid} not reached. ` +
      `The error is deterministic: a retry would stop at the same transaction. Restore to a target before ${next?.gtid ?? 'it'}, fix the cause on the restored server and retry (the replay resumes after ${now ?? 'its GTID state'}), or use force with the pipe to skip failing statements`,
  );
}
