// A run's input comes from the fleet catalog on the workers: the request names a cluster and sets the
// few fields a request may set (workflows/requests.ts); the controller merges the catalog entry's part
// (activities/trust/fleet-catalog.ts). The result is recorded in history, so replays see the same input.
import { ActivityFailure, ApplicationFailure, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import { parsePublicKey, requestDigest, verifyStart } from './approval-signature';
import {
  MAX_APPROVAL_VALIDITY_MS,
  parseInput,
  progressQuery,
  rootMessage,
  Runbook,
  useApprovalPolicy,
  type ApprovalPolicy,
  type RunbookOptions,
  type StepSpec,
} from './kit';
import { quick } from './routing';
import type { RunbookDeclaration } from './runbooks';
import { failure, isFailureType } from './failures';
import { rememberRunForReport } from './report-at-end';

/**
 * A run of a declared runbook (workflows/runbooks.ts): its input resolved from the fleet catalog and
 * its Runbook, carrying the declaration's steps and search-attribute facts.
 */
export async function openRunbook<S extends z.ZodType, N extends string>(
  decl: RunbookDeclaration<S, N>,
  raw: unknown,
): Promise<{ input: z.output<S>; rb: Runbook<N> }> {
  const input = await catalogInput(decl.kind, decl.schema, raw, decl.steps);
  const opts = { ...(input as object), ...decl.facts(input) } as RunbookOptions;
  rememberRunForReport({ input, cluster: opts.cluster, target: opts.target });
  return { input, rb: new Runbook(decl.kind, opts, decl.steps) };
}

export async function catalogInput<S extends z.ZodType>(
  kind: string,
  schema: S,
  request: unknown,
  steps: readonly StepSpec[],
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
    useApprovalPolicy({ ...resolved.approval, starter: provenStarter(kind, request, resolved.approval) });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
    throw failure(isFailureType(cause?.type) ? cause.type : 'InvalidInput', rootMessage(err));
  }
  return parseInput(schema, input);
}

/**
 * The approver who signed the request's `startedBy`, verified here (deterministically), or undefined
 * for an unsigned start. A signature that does not verify ends the run before any step.
 */
function provenStarter(kind: string, request: unknown, policy: ApprovalPolicy): string | undefined {
  const signed = (request as { startedBy?: unknown }).startedBy as
    { name?: unknown; expiresAt?: unknown; signature?: unknown } | undefined;
  if (signed === undefined) return undefined;
  const refuse = (why: string) => failure('InvalidInput', `invalid request: startedBy: ${why}`);
  if (!signed || typeof signed !== 'object') throw refuse('must be { name, expiresAt, signature }');
  const { name, expiresAt, signature } = signed;
  if (typeof name !== 'string' || typeof expiresAt !== 'string' || typeof signature !== 'string')
    throw refuse('must be { name, expiresAt, signature }');
  const approver = policy.approvers.find((a) => a.name === name);
  if (!approver)
    throw refuse(
      `${JSON.stringify(name.slice(0, 80))} is not an approver of this cluster in the fleet catalog`,
    );
  const expires = Date.parse(expiresAt);
  // Date.now() is the workflow clock: the run's start as recorded.
  if (!Number.isFinite(expires) || expires <= Date.now() || expires - Date.now() > MAX_APPROVAL_VALIDITY_MS)
    throw refuse('expired, or valid for more than 24 hours');
  const claim = {
    workflowId: workflowInfo().workflowId,
    kind,
    digest: requestDigest(request as Record<string, unknown>),
    expiresAt,
  };
  if (!verifyStart(parsePublicKey(approver.publicKey), claim, signature))
    throw refuse(`the signature is not ${name}'s over this workflow id, runbook and request`);
  return name;
}
