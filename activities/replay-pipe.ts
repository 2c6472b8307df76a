// The pipe replay: `mysqlbinlog | mysql` in one client session, from just after the server's GTID
// state through the stop GTID. Returns the client's stderr (the errors force skipped).
import { ApplicationFailure } from '@temporalio/activity';
import { clientOptions } from './client-options';
import { CommandError, runPipe } from './command';
import { dialectOf } from './dialect';
import { gtidState, type ReplayProgress, type ReplayRequest } from './replay-common';
import type { SqlPools } from './sql';

/** Connection errors mean "try again" (the server or the worker went away); SQL errors do not. */
const TRANSIENT_CLIENT_ERRORS = /ERROR (2002|2003|2006|2013|1950|1927)\b/;

export async function applyWithPipe(
  sql: SqlPools,
  req: ReplayRequest,
  files: string[],
  stateBefore: string,
  progress: ReplayProgress,
): Promise<string> {
  const { plan, endpoint, dialect } = req;
  const stopGtid = plan.stopGtid!;
  const d = dialectOf(dialect);
  const client = await clientOptions(endpoint);
  const producer = [
    d.binlogTool,
    '--no-defaults',
    ...d.replayWindowArgs(stateBefore, { gtid: stopGtid, endPos: plan.stopEndPos }, req.backupPosition),
    ...files,
  ];
  const consumer = [d.client, ...client.args, '--binary-mode', '--batch', ...(req.force ? ['--force'] : [])];
  try {
    const r = await runPipe(producer, consumer, {
      secrets: client.secrets,
      env: { ...process.env, TZ: 'UTC' },
      progress: () => progress.details(),
    });
    if (/Did not reach stop position|WARNING/i.test(r.producer.stderr))
      throw ApplicationFailure.nonRetryable(
        `${d.binlogTool} did not reach ${stopGtid}: ${r.producer.stderr.trim()}`,
        'TargetNotReached',
      );
    return r.consumer.stderr;
  } catch (err) {
    if (
      err instanceof CommandError &&
      !TRANSIENT_CLIENT_ERRORS.test(err.message) &&
      err.program === d.client
    ) {
      const now = await gtidState(sql, endpoint, dialect).catch(() => 'unknown');
      throw ApplicationFailure.nonRetryable(
        `${err.message}; replay stopped with GTID state ${now}, target ${stopGtid} not reached. Fix the cause and retry (the replay resumes after ${now}), or set force to skip failing statements`,
        'ReplayFailed',
      );
    }
    throw err;
  } finally {
    await client.cleanup();
  }
}
