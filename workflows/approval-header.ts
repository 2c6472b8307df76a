// Workflow interceptor: every activity scheduled after an approval carries the run's accepted
// approvals in a header, so the host that does the work journals who approved it, with which key,
// before it acts (activities/trust/approval-journal.ts). Headers are not part of the replay check.
import { defaultPayloadConverter } from '@temporalio/common';
import type {
  ActivityInput,
  Next,
  WorkflowInterceptorsFactory,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { activeRunbook } from './kit';

export const APPROVALS_HEADER = 'runbook-approvals';

class ApprovalsOutbound implements WorkflowOutboundCallsInterceptor {
  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
    const rb = activeRunbook();
    const approvals = rb?.approvalRecord() ?? [];
    if (!rb || !approvals.length) return next(input);
    const header = defaultPayloadConverter.toPayload({ recoveryId: rb.recoveryId, kind: rb.kind, approvals });
    return next({ ...input, headers: { ...input.headers, [APPROVALS_HEADER]: header } });
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ outbound: [new ApprovalsOutbound()] });
