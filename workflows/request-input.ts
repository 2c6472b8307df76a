// A run's input comes from the fleet catalog on the workers: the request names a cluster and sets the
// few fields a request may set (workflows/requests.ts); the controller merges the catalog entry's part
// (activities/fleet-catalog.ts). The result is recorded in history, so replays see the same input.
import { ActivityFailure, ApplicationFailure, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import { parseInput, progressQuery, rootMessage, useApprovalPolicy, type StepSpec } from './kit';
import { quick } from './routing';

export async function catalogInput<S extends z.ZodType>(
  kind: string,
  schema: S,
  request: unknown,
  steps: StepSpec[],
): Promise<z.output<S>> {
  // Runs started before the catalog carried their whole input (saved histories replay through here).
  if (!patched('fleet-catalog')) return parseInput(schema, request);
  // Until the request is resolved, `progress` shows every step pending (the runbook replaces this).
  const asked = (request ?? {}) as { recoveryId?: unknown; mode?: unknown };
  setHandler(progressQuery, () => ({
    kind,
    recoveryId: typeof asked.recoveryId === 'string' ? asked.recoveryId : workflowInfo().workflowId,
    mode: asked.mode === 'plan' ? 'plan' : 'run',
    currentStep: null,
    steps: steps.map((s) => ({
      name: s.name,
      destructive: !!s.destructive,
      status: 'pending',
      evidence: [],
    })),
  }));
  let input: unknown;
  try {
    const resolved = await quick().resolveRequest({ kind, request });
    input = resolved.input;
    useApprovalPolicy(resolved.approval);
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
    throw ApplicationFailure.nonRetryable(rootMessage(err), cause?.type ?? 'InvalidInput');
  }
  return parseInput(schema, input);
}
