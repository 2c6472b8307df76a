// The pipe replay: `mysqlbinlog | mysql` in one client session, from just after the server's GTID
// state through the stop GTID. A SQL error is final at once, naming the transaction it stopped at;
// under force, each error the client went past is reported with its transaction's GTID.
import { ApplicationFailure } from '@temporalio/activity';
import { clientOptions } from './client-options';
import { CommandError, runPipe } from './command';
import { dialectOf } from './dialect';
import { gtidState, stoppedAt, type ReplayProgress, type ReplayRequest } from './replay-common';
import { errorsByTransaction, InputLines } from './replay-input-lines';
import type { SqlPools } from './sql';

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
  const d = dialectOf(dialect);
  const client = await clientOptions(endpoint);
  const producer = [
    d.binlogTool,
    '--no-defaults',
    '--verify-binlog-checksum',
    ...d.replayWindowArgs(stateBefore, { gtid: stopGtid, endPos: plan.stopEndPos }, req.backupPosition),
    ...files,
  ];
  const consumer = [
    d.client,
    ...client.args,
    '--binary-mode',
    '--batch',
    '--max-allowed-packet=1G',
    ...(req.force ? ['--force'] : []),
  ];
  // Under force the client goes on past errors: follow its input to name each one's transaction.
  const lines = req.force ? new InputLines() : null;
  try {
    const r = await runPipe(producer, consumer, {
      secrets: client.secrets,
      env: { ...process.env, TZ: 'UTC' },
      progress: () => progress.details(),
      ...(lines ? { onProducerData: (chunk: Buffer) => lines.feed(chunk) } : {}),
    });
    if (/Did not reach stop position|WARNING/i.test(r.producer.stderr))
      throw ApplicationFailure.nonRetryable(
        `${d.binlogTool} did not reach ${stopGtid}: ${r.producer.stderr.trim()}`,
        'TargetNotReached',
      );
    return { forced: lines ? errorsByTransaction(r.consumer.stderr, lines) : [] };
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    if (err.program === d.binlogTool && DAMAGE.test(err.message))
      throw ApplicationFailure.nonRetryable(
        `${err.message}: an archived file changed after it was verified; nothing past the GTID state ${await gtidState(sql, endpoint, dialect).catch(() => 'unknown')} was applied`,
        'ArchiveDamaged',
      );
    if (err.program !== d.client || TRANSIENT_CLIENT_ERRORS.test(err.message)) throw err;
    // A SQL error is deterministic: a retry would stop at the same transaction. Final, and where.
    throw await stoppedAt(sql, req, files, err.message);
  } finally {
    await client.cleanup();
  }
}

/** mysqlbinlog's own reading errors: the bytes are wrong, a retry reads the same. */
const DAMAGE = /crc check failed|Could not read entry|read_log_event|corrupt/i;
