// Workflow interceptor: when a runbook's run ends — completed, failed or cancelled — its recovery
// report (workflows/report-model.ts) is saved on the host that holds its datadir, beside the checkpoint
// ledger (activities/report/save-report.ts). Best effort: the report never changes how the run ends
// (its result, or its own failure, is returned as it was), and a report that cannot be written is
// logged. Plan runs and runs that never opened their runbook (bad input) save none. Behind the patch
// `run-report`, so runs recorded before it replay unchanged.
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  patched,
  proxyActivities,
  workflowInfo,
  type Next,
  type UpdateInput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { activeRunbook } from './kit';
import { buildReport, type ReportSource } from './report-model';
import { hostQueue } from './routing';
import type { TableFingerprint } from './schemas';

export const RUN_REPORT_PATCH = 'run-report';

/** What the run's opening resolved (set by openRunbook, workflows/request-input.ts). */
interface OpenedRun {
  input: unknown;
  cluster?: string;
  target?: string;
}
let opened: OpenedRun | undefined;
export function rememberRunForReport(run: OpenedRun): void {
  opened = run;
}

/** Where a runbook keeps its datadir (and so its ledger): the host and the path, when it has one. */
export function datadirOf(kind: string, input: unknown): { host?: string; datadir?: string } {
  const i = (input ?? {}) as Record<string, unknown>;
  const pick = (v: unknown) => {
    const o = (v ?? {}) as { host?: unknown; datadir?: unknown };
    return {
      ...(typeof o.host === 'string' ? { host: o.host } : {}),
      ...(typeof o.datadir === 'string' ? { datadir: o.datadir } : {}),
    };
  };
  if (kind === 'perconaPointInTimeRecovery') {
    const to = i.restoreTo;
    const servers = (i.newServers ?? {}) as Record<string, unknown>;
    return pick(typeof to === 'string' && to !== 'in-place' ? servers[to] : i.restore);
  }
  if (kind === 'perconaRollback') return pick(i.restore);
  if (kind === 'tungstenExternalRestore') return pick(i.replica);
  return {};
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

function hasFailureType(err: unknown, type: string): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    if (e instanceof ApplicationFailure && e.type === type) return true;
  return false;
}

class ReportAtEnd implements WorkflowInboundCallsInterceptor {
  private readonly approvalTimes: NonNullable<ReportSource['approvalTimes']> = [];

  async handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>) {
    const out = await next(input);
    const a = input.args[0] as { step?: unknown; approver?: unknown } | undefined;
    if (input.name === 'approve' && typeof a?.step === 'string' && typeof a.approver === 'string')
      this.approvalTimes.push({ step: a.step, approver: a.approver, at: new Date().toISOString() });
    return out;
  }

  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) {
    let result: unknown;
    try {
      result = await next(input);
    } catch (err) {
      // A run that ended because its host has no agent (or names no host on a controller that runs no
      // host work): no agent would take its report either.
      if (!hasFailureType(err, 'HostUnavailable') && !hasFailureType(err, 'HostNotNamed'))
        await this.save(isCancellation(err) ? 'CANCELLED' : 'FAILED', undefined, errorMessage(err));
      throw err;
    }
    await this.save('COMPLETED', result);
    return result;
  }

  private async save(status: string, result?: unknown, failureMessage?: string): Promise<void> {
    const rb = activeRunbook();
    if (!rb || rb.progress().mode === 'plan' || !patched(RUN_REPORT_PATCH)) return;
    const info = workflowInfo();
    const place = datadirOf(rb.kind, opened?.input);
    const expected = (opened?.input as { verify?: { expected?: Record<string, TableFingerprint> } })?.verify
      ?.expected;
    const report = buildReport(
      {
        workflowId: info.workflowId,
        runId: info.runId,
        kind: rb.kind,
        status,
        ...(opened?.cluster ? { cluster: opened.cluster } : {}),
        ...(opened?.target ? { target: opened.target } : {}),
        startedAt: info.startTime.toISOString(),
        endedAt: new Date().toISOString(),
        progress: rb.progress(),
        ...(result !== undefined ? { result } : {}),
        ...(failureMessage ? { failure: failureMessage } : {}),
        approvalTimes: this.approvalTimes,
        ...(expected ? { expected } : {}),
      },
      new Date().toISOString(),
    );
    const { saveRunReport } = proxyActivities<Activities>({
      taskQueue: hostQueue(place.host),
      startToCloseTimeout: '1m',
      // A live agent takes work at once: a host gone since its last step does not hold the run's end long.
      ...(place.host ? { scheduleToStartTimeout: '30s' } : {}),
      retry: { initialInterval: '1s', maximumAttempts: 3 },
    });
    // Also after a cancellation (the run's own scope is cancelled); never longer than two minutes.
    await CancellationScope.nonCancellable(() =>
      CancellationScope.withTimeout(120_000, () =>
        saveRunReport({ report, ...(place.datadir ? { datadir: place.datadir } : {}) }),
      ),
    ).then(
      (saved) => log.info('recovery report saved', { files: saved.files }),
      (err: unknown) => log.warn('recovery report not saved', { error: errorMessage(err) }),
    );
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new ReportAtEnd()] });
