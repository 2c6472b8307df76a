// The pipe replay: `mysqlbinlog | mysql` in one client session, from just after the server's GTID
// state through the stop GTID. A SQL error is final at once, naming the transaction it stopped at;
// under force, each error the client went past is reported with its transaction's GTID.
import { ApplicationFailure } from '@temporalio/activity';
import { clientOptions } from '../mysql/client-options';
import { CommandError, runPipe } from '../runtime/command';
import { dialectOf } from '../mysql/dialect';
import { gtidState, stoppedAt, type ReplayProgress, type ReplayRequest } from './replay-common';
import type { Dialect, Endpoint } from '../../workflows/schemas';
import { errorsByTransaction, InputLines } from './replay-input-lines';
import type { SqlPools } from '../mysql/sql';
import { failure } from '../../workflows/failures';

/**
 * Connection errors mean "try again" (the server or the worker went away, or a session was killed);
 * every SQL error is deterministic and final. 2006 is not a too-large packet here: both sides allow
 * 1 GiB and the plan refuses larger events.
 */
const TRANSIENT_CLIENT_ERRORS = /ERROR (2002|2003|2006|2013|1927)\b/;

/** What went past the client under force: each error with the transaction it hit. */
export interface PipeOutcome {
  forced: { gtid: string; error: string }[];
}

export async function applyWithPipe(
  sql: SqlPools,
  req: ReplayRequest,
  files: string[],
  stateBefore: string,
  progress: ReplayProgress,
): Promise<PipeOutcome> {
  const { plan, endpoint, dialect } = req;
  const stopGtid = plan.stopGtid!;
  return runBinlogPipe({
    endpoint,
    dialect,
    window: dialectOf(dialect).replayWindowArgs(
      stateBefore,
      { gtid: stopGtid, endPos: plan.stopEndPos },
      req.backupPosition,
    ),
    files,
    force: req.force,
    progress: () => progress.details(),
    stopTarget: stopGtid,
    whereNow: async () => `the GTID state ${await gtidState(sql, endpoint, dialect).catch(() => 'unknown')}`,
    stoppedOnSqlError: (error) => stoppedAt(sql, req, files, error),
  });
}

/** One `mysqlbinlog | mysql` run over a window of files, with its failures classified. */
export interface BinlogPipe {
  endpoint: Endpoint;
  dialect: Dialect;
  /** mysqlbinlog arguments that select the window (start and stop). */
  window: string[];
  files: string[];
  force: boolean;
  progress: () => unknown;
  /** What the replay must reach (for messages). */
  stopTarget: string;
  /** Where the target stands now (for messages), e.g. its GTID state or epoch. */
  whereNow: () => Promise<string>;
  /** The final failure of a SQL error, saying where the replay stopped and what to do. */
  stoppedOnSqlError: (error: string) => Promise<ApplicationFailure>;
}

/**
 * The pipe every runbook replays with: checksums verified by mysqlbinlog as it reads, packets up to
 * 1 GiB, both exit codes checked. A SQL error is final at once (a retry would stop at the same
 * transaction); a damaged file is final; a lost connection is retried (the replay resumes).
 */
export async function runBinlogPipe(p: BinlogPipe): Promise<PipeOutcome> {
  const d = dialectOf(p.dialect);
  const client = await clientOptions(p.endpoint, p.dialect);
  const producer = [d.binlogTool, '--no-defaults', '--verify-binlog-checksum', ...p.window, ...p.files];
  const consumer = [
    d.client,
    ...client.args,
    '--binary-mode',
    '--batch',
    '--max-allowed-packet=1G',
    ...(p.force ? ['--force'] : []),
  ];
  // Under force the client goes on past errors: follow its input to name each one's transaction.
  const lines = p.force ? new InputLines() : null;
  try {
    const r = await runPipe(producer, consumer, {
      secrets: client.secrets,
      env: { TZ: 'UTC' },
      progress: p.progress,
      ...(lines ? { onProducerData: (chunk: Buffer) => lines.feed(chunk) } : {}),
    });
    if (/Did not reach stop position|WARNING/i.test(r.producer.stderr))
      throw failure(
        'TargetNotReached',
        `${d.binlogTool} did not reach ${p.stopTarget}: ${r.producer.stderr.trim()}`,
      );
    return { forced: lines ? errorsByTransaction(r.consumer.stderr, lines) : [] };
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    if (err.program === d.binlogTool && DAMAGE.test(err.message))
      throw failure(
        'ArchiveDamaged',
        `${err.message}: an archived file changed after it was verified; nothing past ${await p.whereNow()} was applied`,
      );
    if (err.program !== d.client || TRANSIENT_CLIENT_ERRORS.test(err.message)) throw err;
    // A SQL error is deterministic: a retry would stop at the same transaction. Final, and where.
    throw await p.stoppedOnSqlError(err.message);
  } finally {
    await client.cleanup();
  }
}

/** mysqlbinlog's own reading errors: the bytes are wrong, a retry reads the same. */
const DAMAGE = /crc check failed|Could not read entry|read_log_event|corrupt/i;
