// `runbook status` and `runbook history`: a run's steps (live with --watch, with replay progress), its
// result or failure with the operator's next action, and its history (a table, or saved as JSON).
import {
  CancelledFailure,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { FAILURES, isFailureType, type FailureType } from '../../workflows/failures';
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { type RunbookProgress } from '../../workflows/kit';
import { renderHistory } from '../lib/history-view';
import { readRunProgress } from '../lib/run-progress';
import { renderBar, renderSteps, sampleFrom, type ProgressSample } from '../lib/progress-view';
import { CliError, connect, type GlobalOptions } from './connect';

export async function failureMessage(err: unknown): Promise<string> {
  if (err instanceof WorkflowFailedError) {
    let cause: unknown = err.cause;
    while (cause instanceof Error && !('type' in cause) && cause.cause) cause = cause.cause;
    const message = cause instanceof Error ? cause.message : err.message;
    const next = nextAction(err);
    return next ? `${message}\nnext: ${next}` : message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The operator's next action for the innermost catalogued failure type (workflows/failures.ts). */
export function nextAction(err: unknown): string | undefined {
  let found: FailureType | undefined;
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const type = (e as { type?: string | null }).type;
    if (isFailureType(type)) found = type;
  }
  return found ? FAILURES[found].next : undefined;
}

/** A failure whose cause chain holds a cancellation: a runbook that reports what its cancel left fails with one. */
function endedByCancellation(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++)
    if (e instanceof CancelledFailure) return true;
  return false;
}

/**
 * The steps of a run: from the progress query while it runs, from its result once it is over.
 * `status` is the execution status from describe(), except that a run that failed on its own
 * cancellation reads CANCELLED: the steps table then shows a step it stopped waiting in as cancelled.
 */
async function progressOf(
  handle: WorkflowHandle,
): Promise<{ progress: RunbookProgress | null; status: string; shown: string; failure?: string }> {
  const read = await readRunProgress(handle);
  const status = read.description.status.name;
  if (!('error' in read)) return { progress: read.progress, status, shown: status };
  const shown = status === 'FAILED' && endedByCancellation(read.error) ? 'CANCELLED' : status;
  return { progress: read.progress, status, shown, failure: await failureMessage(read.error) };
}

/** Heartbeat details of the activities running now (replay progress and the like). */
async function heartbeats(handle: WorkflowHandle): Promise<unknown[]> {
  const d = await handle.describe();
  return Promise.all(
    (d.raw.pendingActivities ?? []).map(async (a) => {
      const p = a.heartbeatDetails?.payloads?.[0];
      // Through the client's codec: with RUNBOOK_CODEC_KEY the details are encrypted like everything else.
      return p ? decodeOptionalSinglePayload(handle.client.options.loadedDataConverter, p) : null;
    }),
  );
}

/** Waits for a run's result and prints it; a failed run exits 1 with its message. */
export async function printResult(handle: WorkflowHandle): Promise<void> {
  const result = await handle.result().catch(async (err) => {
    throw new CliError(`${handle.workflowId} failed: ${await failureMessage(err)}`, 1);
  });
  console.log(JSON.stringify(result, null, 2));
}

async function status(handle: WorkflowHandle, watch: boolean, intervalMs: number): Promise<number> {
  let first: ProgressSample | null = null;
  for (;;) {
    const { progress, status: st, shown, failure } = await progressOf(handle);
    const lines = [
      progress
        ? renderSteps(progress, Date.now(), process.stdout.columns || 120, shown)
        : `${handle.workflowId}: ${st}`,
    ];
    for (const details of st === 'RUNNING' ? await heartbeats(handle) : []) {
      const sample = sampleFrom(details, Date.now());
      if (sample) {
        first ??= sample;
        lines.push(renderBar(sample, first));
      } else if (details) lines.push(`  ${JSON.stringify(details)}`);
    }
    lines.push(
      `status: ${shown}${shown !== st ? ` (closed as ${st})` : ''}${failure ? ` — ${failure}` : ''}`,
    );
    if (watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
    process.stdout.write(`${lines.join('\n')}\n${watch && !process.stdout.isTTY ? '\n' : ''}`);
    if (!watch || st !== 'RUNNING')
      return st === 'FAILED' || st === 'TERMINATED' || st === 'TIMED_OUT' ? 1 : 0;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function addStatusCommand(program: Command, g: () => GlobalOptions): void {
  program
    .command('status <workflowId>')
    .description('the steps of a run; --watch follows it live, with replay progress')
    .option('--watch', 'refresh until the run ends')
    .option('--interval <ms>', 'refresh interval', '1000')
    .action(async (id: string, o: { watch?: boolean; interval: string }) => {
      const { client, connection } = await connect(g());
      try {
        const code = await status(client.workflow.getHandle(id), !!o.watch, Number(o.interval) || 1000);
        if (code) throw new CliError('', code);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new CliError(`no run with workflow id ${id}`, 2);
        throw err;
      } finally {
        await connection.close();
      }
    });
}

export function addHistoryCommand(program: Command, g: () => GlobalOptions): void {
  program
    .command('history <workflowId>')
    .description(
      "the run's events as a table; --out saves the history (JSON that the replay suite reads), --json prints it",
    )
    .option('--out <file>', 'save the history as JSON to this file')
    .option('--json', 'print the history as JSON instead of the table')
    .option('--all', 'the table also shows workflow-task events')
    .action(async (id: string, o: { out?: string; json?: boolean; all?: boolean }) => {
      const { client, connection } = await connect(g());
      try {
        const history = await client.workflow
          .getHandle(id)
          .fetchHistory()
          .catch((err: unknown) => {
            if (err instanceof WorkflowNotFoundError) throw new CliError(`no run with workflow id ${id}`, 2);
            throw err;
          });
        if (o.out) {
          await writeFile(o.out, `${historyToJSON(history)}\n`);
          console.log(`saved ${history.events?.length ?? 0} events of ${id} to ${o.out}`);
        } else if (o.json) console.log(historyToJSON(history));
        else console.log(renderHistory(history, { width: process.stdout.columns || 120, all: !!o.all }));
      } finally {
        await connection.close();
      }
    });
}
