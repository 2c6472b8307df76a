// Workflow interceptor: what the Temporal Web UI shows of a run besides its input. Every activity
// call carries a summary naming its step (the timeline reads `restore-backup — restore backup (host
// db2)`, not just `restoreBackup`), and the run's Current details (set by the kit on every change)
// end with its outcome. User metadata is not part of the replay check: saved histories replay.
import {
  isCancellation,
  setCurrentDetails,
  type ActivityInput,
  type TimerInput,
  type Next,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { activeRunbook } from './kit';
import { activitySummary, renderOutcome, type RunOutcome } from './run-details';

class ActivitySummaries implements WorkflowOutboundCallsInterceptor {
  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
    if (input.options.summary) return next(input);
    // Before the runbook opens (the fleet catalog read) and between steps: what it does, no step.
    const step = activeRunbook()?.progress().currentStep ?? null;
    const summary = activitySummary(step, input.activityType, input.options.taskQueue);
    return next({ ...input, options: { ...input.options, summary } });
  }

  /** A timer inside a step: the approval deadline of a waiting destructive step, or the step's wait. */
  startTimer(input: TimerInput, next: Next<WorkflowOutboundCallsInterceptor, 'startTimer'>) {
    const p = activeRunbook()?.progress();
    const step = p?.steps.find((s) => s.name === p.currentStep);
    if (!step || input.options?.summary) return next(input);
    const what = step.status === 'waiting-approval' ? 'approval deadline' : 'wait';
    return next({ ...input, options: { ...input.options, summary: `${step.name} — ${what}` } });
  }
}

class Outcome implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) {
    try {
      const result = await next(input);
      const mode = (result as { mode?: unknown } | null)?.mode;
      activeRunbook()?.ended({ status: mode === 'plan' ? 'planned' : 'completed' });
      return result;
    } catch (err) {
      const outcome: RunOutcome = isCancellation(err)
        ? { status: 'cancelled' }
        : { status: 'failed', message: err instanceof Error ? err.message : String(err) };
      // A run that ended before its runbook opened (invalid input, an unknown cluster) says why.
      const rb = activeRunbook();
      if (rb) rb.ended(outcome);
      else setCurrentDetails(renderOutcome(outcome));
      throw err;
    }
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new Outcome()],
  outbound: [new ActivitySummaries()],
});
