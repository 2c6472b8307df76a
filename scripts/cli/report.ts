// `runbook report <workflowId> [--out dir]`: the recovery report of one run (running or closed) as
// Markdown and a self-contained HTML page, from what Temporal holds: describe, the history (when each
// approval was accepted, the input's expected fingerprints), and the progress query or the result.
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import type { Command } from 'commander';
import { stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ClusterKey, RecoveryTargetKey } from '../../workflows/kit';
import { buildReport, type ReportSource } from '../../workflows/report-model';
import { renderMarkdown } from '../../workflows/report-markdown';
import { renderHtml } from '../../workflows/report-html';
import type { TableFingerprint } from '../../workflows/schemas';
import { failureMessage } from './status';
import { readRunProgress } from '../lib/run-progress';
import { CliError, connect, type GlobalOptions } from './connect';

type Decode = <T>(p: unknown) => Promise<T | null | undefined>;

const iso = (ts: unknown) => {
  const ms = optionalTsToMs(ts as never);
  return ms === undefined ? undefined : new Date(ms).toISOString();
};

/** From the history: when each approval was accepted, and the fingerprints the resolved input expects. */
async function fromHistory(
  handle: WorkflowHandle,
  decode: Decode,
): Promise<Pick<ReportSource, 'approvalTimes' | 'expected'>> {
  const events = (await handle.fetchHistory()).events ?? [];
  const approvalTimes: NonNullable<ReportSource['approvalTimes']> = [];
  const resolveScheduled = new Set<string>();
  let expected: Record<string, TableFingerprint> | undefined;
  for (const e of events) {
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (accepted?.name === 'approve') {
      const a = await decode<{ step?: string; approver?: string }>(accepted.args?.payloads?.[0]);
      const at = iso(e.eventTime);
      if (a?.step && a.approver && at) approvalTimes.push({ step: a.step, approver: a.approver, at });
    }
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'resolveRequest')
      resolveScheduled.add(String(e.eventId));
    const done = e.activityTaskCompletedEventAttributes;
    if (done && resolveScheduled.has(String(done.scheduledEventId))) {
      const r = await decode<{ input?: { verify?: { expected?: Record<string, TableFingerprint> } } }>(
        done.result?.payloads?.[0],
      );
      expected = r?.input?.verify?.expected;
    }
  }
  return { approvalTimes, ...(expected ? { expected } : {}) };
}

/** Everything a report is built from, for a run in any state. */
export async function reportSource(handle: WorkflowHandle): Promise<ReportSource> {
  const converter = handle.client.options.loadedDataConverter;
  const decode: Decode = (p) => decodeOptionalSinglePayload(converter, p as never);
  const read = await readRunProgress(handle);
  const d = read.description;
  const sa = d.typedSearchAttributes;
  const base = {
    workflowId: d.workflowId,
    runId: d.runId,
    kind: d.type,
    status: d.status.name,
    ...(sa.get(ClusterKey) ? { cluster: sa.get(ClusterKey) } : {}),
    ...(sa.get(RecoveryTargetKey) ? { target: sa.get(RecoveryTargetKey) } : {}),
    startedAt: d.startTime.toISOString(),
    ...(d.closeTime ? { endedAt: d.closeTime.toISOString() } : {}),
    ...(await fromHistory(handle, decode)),
  };
  // A closed run's query replays it on a worker: without one, the report has no steps (it says so).
  if ('error' in read) return { ...base, progress: read.progress, failure: await failureMessage(read.error) };
  return { ...base, progress: read.progress, ...(read.result !== undefined ? { result: read.result } : {}) };
}

/** A file name made of the workflow id: any character that could leave the directory becomes `_`. */
export function reportBaseName(workflowId: string): string {
  return workflowId
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, '_')
    .slice(0, 200);
}

export function addReportCommand(program: Command, g: () => GlobalOptions): void {
  program
    .command('report <workflowId>')
    .description('write the recovery report of a run: <id>.report.md and <id>.report.html')
    .option('--out <dir>', 'directory to write them in', '.')
    .action(async (id: string, o: { out: string }) => {
      const dir = resolve(o.out);
      const isDir = await stat(dir).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (!isDir) throw new CliError(`--out ${o.out} is not a directory: nothing written`, 2);
      const { client, connection } = await connect(g());
      try {
        const report = buildReport(
          await reportSource(client.workflow.getHandle(id)),
          new Date().toISOString(),
        );
        const base = join(dir, reportBaseName(id));
        await writeFile(`${base}.report.md`, renderMarkdown(report));
        await writeFile(`${base}.report.html`, renderHtml(report));
        console.log(`${base}.report.md\n${base}.report.html`);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new CliError(`no run with workflow id ${id}`, 2);
        throw err;
      } finally {
        await connection.close();
      }
    });
}
