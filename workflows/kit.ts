// The runbook kit: named steps with status, times and evidence; a `progress` query; plan mode; an
// approval gate for destructive steps; typed search attributes. Every runbook uses it, so each
// runbook file only says *what* its procedure does, in order.
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  patched,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
  log,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType, TimeoutType } from '@temporalio/common';
import type { z } from 'zod';
import { digestOf, keyFingerprint, parsePublicKey, verifyApproval } from './approval-signature';
import { describeIssues, SLUG_PATTERN } from './schemas';
import { failure } from './failures';

export const RunbookKindKey = defineSearchAttributeKey('RunbookKind', SearchAttributeType.KEYWORD);
export const RunbookStepKey = defineSearchAttributeKey('RunbookStep', SearchAttributeType.KEYWORD);
export const RecoveryTargetKey = defineSearchAttributeKey('RecoveryTarget', SearchAttributeType.KEYWORD);
export const ClusterKey = defineSearchAttributeKey('Cluster', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTES = ['RunbookKind', 'RunbookStep', 'RecoveryTarget', 'Cluster'] as const;

/** Workflow patch: the verify step proves the replay (runs started before it replay without it). */
export const PROOF_PATCH = 'replay-proof';

export type StepStatus =
  'pending' | 'running' | 'waiting-approval' | 'waiting-host' | 'done' | 'skipped-by-checkpoint' | 'failed';

/** One call of a step to a host's agent: waiting for the agent to take it, or running there. */
export interface HostWork {
  host: string;
  queue: string;
  activity: string;
  state: 'waiting' | 'running';
  since: string;
  /** The agent that took it (its worker identity). */
  agent?: string;
}

export interface StepState {
  name: string;
  destructive: boolean;
  status: StepStatus;
  startedAt?: string;
  endedAt?: string;
  evidence: string[];
  error?: string;
  /** The last approval accepted (all of them in `approvals`). */
  approval?: Approval;
  approvals?: Approval[];
  /** While a destructive step waits: the digest of what it waits on, which a signed approval names. */
  approvalDigest?: string;
  /** How many distinct signed approvals the waiting step needs (the quorum, one more after an unsigned start). */
  approvalsNeeded?: number;
  /** What the step asked of named hosts and has not got back yet (see `waiting-host`). */
  hostWork?: HostWork[];
  /** While the step waits for host agents: which, e.g. `host db2 (task queue mysql-runbooks.host.db2)`. */
  waitingOn?: string;
}

export interface RunbookProgress {
  kind: string;
  recoveryId: string;
  mode: 'run' | 'plan';
  currentStep: string | null;
  steps: StepState[];
  /** What the run has changed so far, in sentences (cluster paused, datadir moved aside, …). */
  changed?: string[];
}

/** What an activity reports about a step: done now, or found already done (checkpoint). */
export interface StepOutcome {
  skipped?: boolean;
  evidence?: string[];
}

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

/** This execution's runbook, once it exists (interceptors read its approvals). */
export function activeRunbook(): Runbook | undefined {
  return active;
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

export const progressQuery = defineQuery<RunbookProgress>('progress');
export const approveUpdate = defineUpdate<{ accepted: string }, [Approval]>('approve');

/** Sent by a host agent as it starts an activity (workers/host-agent.ts): the step is running there now. */
export interface HostWorkStarted {
  host: string;
  activity: string;
  agent: string;
}
export const hostWorkStartedSignal = defineSignal<[HostWorkStarted]>('hostWorkStarted');

export interface StepSpec<N extends string = string> {
  name: N;
  destructive?: boolean;
}

/** Parses raw input with a zod schema; bad input ends the run at once with a readable, non-retryable error. */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) {
    throw failure('InvalidInput', `invalid input: ${describeIssues(r.error)}`);
  }
  return r.data;
}

/** The innermost message of a failure chain: what actually went wrong. */
export function rootMessage(err: unknown): string {
  let e: unknown = err;
  let msg = err instanceof Error ? err.message : String(err);
  while (e instanceof Error && e.cause) {
    e = e.cause;
    if (e instanceof Error && e.message) msg = e.message;
  }
  return msg;
}

export interface RunbookOptions {
  recoveryId?: string;
  mode: 'run' | 'plan';
  requireApproval: boolean;
  approvalTimeout: string;
  cluster: string;
  target: string;
  /** How long a call to a named host waits for its agent (schedule-to-start); default 10m. */
  hostTimeout?: string;
}

/** The runbook of this workflow execution (module state is per execution in the workflow sandbox). */
let active: Runbook | undefined;
/** This execution's approval policy, set from the fleet catalog before its Runbook exists. */
let approvalPolicy: ApprovalPolicy | undefined;
export function useApprovalPolicy(p: ApprovalPolicy): void {
  approvalPolicy = p;
}
function becomeActive(rb: Runbook): void {
  active = rb;
}

/** A run of one runbook; `N` is its declared step names, so a step it did not declare does not compile. */
export class Runbook<N extends string = string> {
  readonly recoveryId: string;
  private readonly steps: StepState[];
  private current: string | null = null;
  private readonly approvals = new Map<string, Approval[]>();
  /** Signed approvals when the catalog names approvers; else (runs from before the catalog) typed ones. */
  private readonly policy = approvalPolicy?.approvers.length ? approvalPolicy : undefined;
  private readonly changed: string[] = [];
  /**
   * An unsigned start under a policy where the starter may not approve: the starter could be any
   * approver, so one approval more than the quorum guarantees `quorum` by someone else.
   */
  private readonly starterUnproven =
    !!this.policy &&
    this.policy.starter === undefined &&
    !this.policy.starterMayApprove &&
    patched('unproven-starter');

  constructor(
    readonly kind: string,
    private readonly opts: RunbookOptions,
    specs: readonly StepSpec<N>[],
  ) {
    this.recoveryId = opts.recoveryId ?? workflowInfo().workflowId;
    // The recoveryId names ledger and staging files on hosts: a workflow id such as "a/../../etc"
    // (any caller may choose one) must never become a path.
    if (!SLUG_PATTERN.test(this.recoveryId))
      throw failure(
        'InvalidInput',
        `invalid input: the workflow id ${JSON.stringify(this.recoveryId.slice(0, 120))} cannot name a recovery (letters, digits, ".", "_" or "-", at most 100); pass a recoveryId or start the run with such a workflow id`,
      );
    becomeActive(this);
    this.steps = specs.map((s) => ({
      name: s.name,
      destructive: !!s.destructive,
      status: 'pending',
      evidence: [],
    }));
    setHandler(progressQuery, () => this.progress());
    setHandler(
      approveUpdate,
      (a) => {
        const given = [...(this.approvals.get(a.step) ?? []), a];
        this.approvals.set(a.step, given);
        const s = this.find(a.step);
        if (s) {
          s.approval = a;
          s.approvals = given;
          s.evidence.push(this.describeApproval(a));
        }
        log.info('step approved', { step: a.step, approver: a.approver, signed: !!a.signature });
        return { accepted: a.step };
      },
      { validator: (a) => this.validateApproval(a) },
    );
    setHandler(hostWorkStartedSignal, (w) => this.hostWorkStarted(w));
    upsertSearchAttributes([
      { key: RunbookKindKey, value: kind },
      { key: ClusterKey, value: opts.cluster },
      { key: RecoveryTargetKey, value: opts.target },
      { key: RunbookStepKey, value: opts.mode === 'plan' ? 'plan' : (specs[0]?.name ?? '') },
    ]);
  }

  progress(): RunbookProgress {
    return {
      kind: this.kind,
      recoveryId: this.recoveryId,
      mode: this.opts.mode,
      currentStep: this.current,
      steps: this.steps.map((s) => ({ ...s, evidence: [...s.evidence] })),
      ...(this.changed.length ? { changed: [...this.changed] } : {}),
    };
  }

  /** Records a change to the world the run has made (shown in progress and in a failure message). */
  noteChange(sentence: string): void {
    this.changed.push(sentence);
  }

  /** Everything the run has changed so far. */
  changes(): string[] {
    return [...this.changed];
  }

  /** The destructive steps still ahead (what a plan warns about). */
  destructiveSteps(): string[] {
    return this.steps.filter((s) => s.destructive).map((s) => s.name);
  }

  private find(name: string): StepState | undefined {
    return this.steps.find((s) => s.name === name);
  }

  private validateApproval(a: Approval): void {
    if (!a || typeof a !== 'object') throw new Error('approval must be {step, approver, reason}');
    const s = this.find(a.step);
    if (!s)
      throw new Error(
        `no step named ${JSON.stringify(a.step)}; steps: ${this.steps.map((x) => x.name).join(', ')}`,
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

  private describeApproval(a: Approval): string {
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

  /** Approvals a destructive step needs before it runs. */
  private approvalsNeeded(): number {
    return (this.policy?.quorum ?? 1) + (this.starterUnproven ? 1 : 0);
  }

  /** What a waiting step's approval is bound to: the run, the step, and everything the run showed so far. */
  private digestFor(s: StepState): string {
    return digestOf(
      JSON.stringify({
        kind: this.kind,
        recoveryId: this.recoveryId,
        cluster: this.opts.cluster,
        target: this.opts.target,
        step: s.name,
        steps: this.steps.map((x) => [x.name, x.status, x.evidence]),
      }),
    );
  }

  get hostTimeout(): string {
    return this.opts.hostTimeout ?? DEFAULT_HOST_TIMEOUT;
  }

  /** Records a call of the current step to a host's agent; returns the function that forgets it. */
  trackHostWork(w: Pick<HostWork, 'host' | 'queue' | 'activity'>): () => void {
    const s = this.current ? this.find(this.current) : undefined;
    if (!s) return () => {};
    const entry: HostWork = { ...w, state: 'waiting', since: new Date().toISOString() };
    (s.hostWork ??= []).push(entry);
    this.showHostWaits(s);
    return () => {
      s.hostWork = s.hostWork?.filter((x) => x !== entry);
      if (!s.hostWork?.length) delete s.hostWork;
      this.showHostWaits(s);
    };
  }

  private hostWorkStarted(w: HostWorkStarted): void {
    for (const s of this.steps) {
      const entry = s.hostWork?.find(
        (x) => x.state === 'waiting' && x.host === w.host && x.activity === w.activity,
      );
      if (!entry) continue;
      entry.state = 'running';
      entry.agent = w.agent;
      this.showHostWaits(s);
      return;
    }
  }

  /** `waiting-host` while every host call of a running step still waits for its agent. */
  private showHostWaits(s: StepState): void {
    if (s.status !== 'running' && s.status !== 'waiting-host') return;
    const waiting = (s.hostWork ?? []).filter((x) => x.state === 'waiting');
    const wasWaiting = s.status === 'waiting-host';
    const allWaiting = waiting.length > 0 && waiting.length === s.hostWork?.length;
    if (waiting.length)
      s.waitingOn = [...new Set(waiting.map((x) => `host ${x.host} (task queue ${x.queue})`))].join(', ');
    else delete s.waitingOn;
    s.status = allWaiting ? 'waiting-host' : 'running';
    if (allWaiting !== wasWaiting)
      upsertSearchAttributes([
        {
          key: RunbookStepKey,
          value: allWaiting ? `${s.name}:waiting-host:${waiting[0]!.host}` : s.name,
        },
      ]);
  }

  /** Runs one named step: records status, times and evidence; wraps errors with the step's name. */
  async step<T extends StepOutcome>(name: N, work: () => Promise<T>): Promise<T> {
    const s = this.find(name);
    if (!s) throw failure('RunbookBug', `runbook bug: unknown step ${name}`);
    this.current = name;
    s.status = 'running';
    s.startedAt = new Date().toISOString();
    upsertSearchAttributes([{ key: RunbookStepKey, value: name }]);
    try {
      const out = await work();
      s.status = out?.skipped ? 'skipped-by-checkpoint' : 'done';
      s.evidence.push(...(out?.evidence ?? []));
      return out;
    } catch (err) {
      s.status = 'failed';
      delete s.waitingOn;
      s.error = rootMessage(err);
      throw ApplicationFailure.create({
        message: `${name}: ${s.error}`,
        type: 'StepFailed',
        nonRetryable: true,
        details: [{ step: name }],
        cause: err instanceof Error ? err : undefined,
      });
    } finally {
      s.endedAt = new Date().toISOString();
      this.current = null;
    }
  }

  /** A step that changes or destroys state: when approval is required, waits for the `approve` Update first. */
  async destructive<T extends StepOutcome>(name: N, work: () => Promise<T>): Promise<T> {
    const s = this.find(name);
    // A plan changes nothing: a runbook that reaches a destructive step in plan mode is a bug, stopped here.
    if (this.opts.mode === 'plan')
      throw failure(
        'RunbookBug',
        `runbook bug: plan mode reached the destructive step ${name}; nothing of it was done`,
      );
    const enough = () => (this.approvals.get(name)?.length ?? 0) >= this.approvalsNeeded();
    if (this.opts.requireApproval && s && !enough()) {
      if (this.policy) {
        s.approvalDigest = this.digestFor(s);
        s.approvalsNeeded = this.approvalsNeeded();
      }
      s.status = 'waiting-approval';
      this.current = name;
      upsertSearchAttributes([{ key: RunbookStepKey, value: `${name}:awaiting-approval` }]);
      const approved = await condition(enough, this.opts.approvalTimeout as never);
      if (!approved) {
        s.status = 'failed';
        s.error = `not approved within ${this.opts.approvalTimeout}`;
        s.endedAt = new Date().toISOString();
        this.current = null;
        // The run no longer waits: lists and the Web UI say so (runs recorded before this replay without it).
        if (patched('approval-timeout-visible'))
          upsertSearchAttributes([{ key: RunbookStepKey, value: `${name}:not-approved` }]);
        throw failure(
          'ApprovalTimeout',
          `${name}: not approved within ${this.opts.approvalTimeout}; the run stopped before this step and nothing of it was done`,
        );
      }
    }
    return this.step(name, work);
  }

  /** Notes a step that this run does not need (e.g. a backup named by the input). */
  skip(name: N, why: string): void {
    const s = this.find(name);
    if (!s) return;
    s.status = 'skipped-by-checkpoint';
    s.evidence.push(why);
  }
}

export const DEFAULT_HOST_TIMEOUT = '10m';

/**
 * Runs one activity call on a named host's queue (workflows/routing.ts): shown in `progress` as
 * waiting for that host's agent until the agent takes it; when no agent takes it within the
 * runbook's hostTimeout, fails for good with a message naming the host — it is never sent elsewhere.
 */
export async function onHost<T>(
  w: { host: string; queue: string; activity: string },
  call: (scheduleToStartTimeout: string) => Promise<T>,
): Promise<T> {
  const timeout = active?.hostTimeout ?? DEFAULT_HOST_TIMEOUT;
  const forget = active?.trackHostWork(w) ?? (() => {});
  try {
    return await call(timeout);
  } catch (err) {
    if (
      err instanceof ActivityFailure &&
      err.cause instanceof TimeoutFailure &&
      err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START
    )
      throw failure(
        'HostUnavailable',
        `host ${w.host} did not take ${w.activity} within ${timeout}: no agent polls its task queue ${w.queue}. ` +
          `Start the host agent on ${w.host} (RUNBOOK_HOST=${w.host} npm run agent) and start the recovery again ` +
          'with the same recoveryId; nothing of this step ran elsewhere',
      );
    throw err;
  } finally {
    forget();
  }
}
