// The runbook kit's approval gate for destructive steps: who may approve (the fleet catalog's policy),
// how many approvals a step needs, how a signed approval is checked, and what hosts journal of it.
import { patched, workflowInfo } from '@temporalio/workflow';
import { digestOf, keyFingerprint, parsePublicKey, verifyApproval } from './approval-signature';
import type { StepState } from './kit';

export interface Approval {
  step: string;
  approver: string;
  reason: string;
  /** Signed approvals (when the catalog names approvers): until when the signature counts. */
  expiresAt?: string;
  /** Base64 Ed25519 signature of workflows/approval-signature.ts's approvalMessage. */
  signature?: string;
}

/** An accepted approval as a host's journal records it: who, which key, what for, the signature. */
export interface ApprovalRecord {
  step: string;
  approver: string;
  reason: string;
  /** `sha256:…` of the approver's public key, or `unsigned` (runs whose catalog names no approvers). */
  key: string;
  expiresAt?: string;
  signature?: string;
}

/** Who may approve (from the fleet catalog): an approval is a signature by one of these keys. */
export interface ApprovalPolicy {
  approvers: { name: string; publicKey: string }[];
  quorum: number;
  starterMayApprove?: boolean;
  /** The approver whose signature started the run (proven), if it was signed. */
  starter?: string;
}

/** A signature is accepted at most this long before it expires (an approval is for now, not for later). */
export const MAX_APPROVAL_VALIDITY_MS = 24 * 3600_000;

/** This execution's approval policy, set from the fleet catalog before its Runbook exists. */
let approvalPolicy: ApprovalPolicy | undefined;
export function useApprovalPolicy(p: ApprovalPolicy): void {
  approvalPolicy = p;
}

/** The approvals a run has accepted, per step, and the rules that accept them (one per Runbook). */
export class ApprovalGate {
  private readonly approvals = new Map<string, Approval[]>();
  /** Signed approvals when the catalog names approvers; else (runs from before the catalog) typed ones. */
  readonly policy = approvalPolicy?.approvers.length ? approvalPolicy : undefined;
  /**
   * An unsigned start under a policy where the starter may not approve: the starter could be any
   * approver, so one approval more than the quorum guarantees `quorum` by someone else.
   */
  private readonly starterUnproven =
    !!this.policy &&
    this.policy.starter === undefined &&
    !this.policy.starterMayApprove &&
    patched('unproven-starter');

  /** Records an accepted approval; returns every approval of its step so far. */
  add(a: Approval): Approval[] {
    const given = [...(this.approvals.get(a.step) ?? []), a];
    this.approvals.set(a.step, given);
    return given;
  }

  /** How many approvals `step` has been given. */
  count(step: string): number {
    return this.approvals.get(step)?.length ?? 0;
  }

  validateApproval(a: Approval, steps: StepState[]): void {
    if (!a || typeof a !== 'object') throw new Error('approval must be {step, approver, reason}');
    const s = steps.find((x) => x.name === a.step);
    if (!s)
      throw new Error(
        `no step named ${JSON.stringify(a.step)}; steps: ${steps.map((x) => x.name).join(', ')}`,
      );
    if (!s.destructive) throw new Error(`step ${a.step} is not destructive and needs no approval`);
    if (s.status !== 'pending' && s.status !== 'waiting-approval')
      throw new Error(`step ${a.step} is already ${s.status}`);
    if (typeof a.approver !== 'string' || !a.approver.trim())
      throw new Error('approval needs an approver (text)');
    if (typeof a.reason !== 'string' || !a.reason.trim()) throw new Error('approval needs a reason (text)');
    if (this.policy) this.validateSignature(a, s, this.policy);
  }

  /** A signed approval: by a catalog approver, of this run, this step and what it waits on, not expired. */
  private validateSignature(a: Approval, s: StepState, policy: ApprovalPolicy): void {
    if (s.status !== 'waiting-approval' || !s.approvalDigest)
      throw new Error(
        `step ${a.step} is not waiting for approval: an approval is accepted only while its step waits`,
      );
    const approver = policy.approvers.find((x) => x.name === a.approver);
    if (!approver)
      throw new Error(
        `${JSON.stringify(a.approver)} is not an approver of this cluster in the fleet catalog (approvers: ${policy.approvers.map((x) => x.name).join(', ')})`,
      );
    if (policy.starter === a.approver && !policy.starterMayApprove)
      throw new Error(
        `${a.approver} started this run: the catalog does not let the starter approve it; another approver must`,
      );
    if ((this.approvals.get(a.step) ?? []).some((x) => x.approver === a.approver))
      throw new Error(
        `${a.approver} already approved ${a.step}: it needs ${this.approvalsNeeded()} distinct approvers${this.starterUnproven ? ' (one more than the quorum: the start was not signed, so its starter is not known)' : ''}`,
      );
    if (!a.signature || !a.expiresAt)
      throw new Error(
        'an approval of this cluster is signed: give expiresAt and signature (runbook approve --key …)',
      );
    const expires = Date.parse(a.expiresAt);
    // Inside a workflow Date.now() is the deterministic workflow clock.
    if (!Number.isFinite(expires) || expires <= Date.now())
      throw new Error(`the approval expired (${a.expiresAt}): sign a new one`);
    if (expires - Date.now() > MAX_APPROVAL_VALIDITY_MS)
      throw new Error('an approval may be valid for at most 24 hours');
    const claim = {
      workflowId: workflowInfo().workflowId,
      runId: workflowInfo().firstExecutionRunId,
      step: a.step,
      digest: s.approvalDigest,
      expiresAt: a.expiresAt,
      reason: a.reason,
    };
    if (!verifyApproval(parsePublicKey(approver.publicKey), claim, a.signature))
      throw new Error(
        `the signature is not ${a.approver}'s over this run, step ${a.step} and digest ${s.approvalDigest.slice(0, 12)}…: nothing approved`,
      );
  }

  describeApproval(a: Approval): string {
    const key = this.policy?.approvers.find((x) => x.name === a.approver);
    return key
      ? `approved by ${a.approver} (Ed25519 key ${keyFingerprint(parsePublicKey(key.publicKey))}, signature verified, valid until ${a.expiresAt}): ${a.reason}`
      : `approved by ${a.approver} (unsigned: the catalog names no approvers): ${a.reason}`;
  }

  /** Every approval accepted so far, with the key that signed it: what each host journals (workflows/approval-header.ts). */
  approvalRecord(): ApprovalRecord[] {
    return [...this.approvals.values()].flat().map((a) => {
      const key = this.policy?.approvers.find((x) => x.name === a.approver);
      return {
        step: a.step,
        approver: a.approver,
        reason: a.reason,
        key: key ? keyFingerprint(parsePublicKey(key.publicKey)) : 'unsigned',
        ...(a.expiresAt ? { expiresAt: a.expiresAt } : {}),
        ...(a.signature ? { signature: a.signature } : {}),
      };
    });
  }

  /** The catalog's approvers who may still approve `step` (not its starter, not who already did); [] unsigned. */
  mayStillApprove(step: string): string[] {
    if (!this.policy) return [];
    const given = new Set((this.approvals.get(step) ?? []).map((a) => a.approver));
    return this.policy.approvers
      .map((x) => x.name)
      .filter((n) => !given.has(n) && (this.policy!.starterMayApprove || n !== this.policy!.starter));
  }

  /** Approvals a destructive step needs before it runs. */
  approvalsNeeded(): number {
    return (this.policy?.quorum ?? 1) + (this.starterUnproven ? 1 : 0);
  }
}

/** What a waiting step's approval is bound to: the run, the step, and everything the run showed so far. */
export function digestFor(
  run: { kind: string; recoveryId: string; cluster: string; target: string },
  steps: StepState[],
  s: StepState,
): string {
  return digestOf(
    JSON.stringify({
      kind: run.kind,
      recoveryId: run.recoveryId,
      cluster: run.cluster,
      target: run.target,
      step: s.name,
      steps: steps.map((x) => [x.name, x.status, x.evidence]),
    }),
  );
}
