// The runbook kit: named steps with status, times and evidence; a `progress` query; plan mode; an
// approval gate for destructive steps; typed search attributes. Every runbook uses it, so each
// runbook file only says *what* its procedure does, in order.
import {
  ApplicationFailure,
  condition,
  defineQuery,
  defineUpdate,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  log,
} from '@temporalio/workflow';
import type { z } from 'zod';
import { describeIssues, SLUG_PATTERN } from './schemas';
import { failure } from './failures';
import { ApprovalGate, digestFor, type Approval, type ApprovalRecord } from './kit-approval';
import {
  DEFAULT_HOST_TIMEOUT,
  hostWorkStarted,
  hostWorkStartedSignal,
  trackHostWorkOf,
  trackStepHostWork,
  type HostWork,
} from './kit-host-work';
import { ClusterKey, RecoveryTargetKey, RunbookKindKey, RunbookStepKey } from './search-attributes';
import { renderRunDetails, type RunOutcome } from './run-details';

// Approval handling (kit-approval.ts) and host-work tracking (kit-host-work.ts) live beside the kit;
// everything stays importable from './kit'.
export {
  MAX_APPROVAL_VALIDITY_MS,
  useApprovalPolicy,
  type Approval,
  type ApprovalPolicy,
  type ApprovalRecord,
} from './kit-approval';
export {
  DEFAULT_HOST_TIMEOUT,
  hostWorkStartedSignal,
  onHost,
  type HostWork,
  type HostWorkStarted,
} from './kit-host-work';

export {
  ClusterKey,
  RecoveryTargetKey,
  RunbookKindKey,
  RunbookStepKey,
  SEARCH_ATTRIBUTES,
} from './search-attributes';

/** Workflow patch: the verify step proves the replay (runs started before it replay without it). */
export const PROOF_PATCH = 'replay-proof';

export type StepStatus =
  'pending' | 'running' | 'waiting-approval' | 'waiting-host' | 'done' | 'skipped-by-checkpoint' | 'failed';

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

/** What every runbook returns (each adds its own figures): the plan it showed and every step's record. */
export interface RunbookResult<P> {
  recoveryId: string;
  mode: 'run' | 'plan';
  plan: P;
  /** The destructive steps this run takes (or, for a plan, would take). */
  destructiveSteps: string[];
  steps: StepState[];
}

/** What an activity reports about a step: done now, or found already done (checkpoint). */
export interface StepOutcome {
  skipped?: boolean;
  evidence?: string[];
}

/** This execution's runbook, once it exists (interceptors read its approvals). */
export function activeRunbook(): Runbook | undefined {
  return active;
}

export const progressQuery = defineQuery<RunbookProgress>('progress');
export const approveUpdate = defineUpdate<{ accepted: string }, [Approval]>('approve');

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
function becomeActive(rb: Runbook): void {
  active = rb;
  trackHostWorkOf(rb);
}

/** A run of one runbook; `N` is its declared step names, so a step it did not declare does not compile. */
export class Runbook<N extends string = string> {
  readonly recoveryId: string;
  private readonly steps: StepState[];
  private current: string | null = null;
  /** Approvals given and the policy in force (its field initializer calls patched('unproven-starter')). */
  private readonly gate = new ApprovalGate();
  private readonly changed: string[] = [];
  /** How the run ended (workflows/run-metadata.ts), shown under its step table. */
  private outcome: RunOutcome | undefined;

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
        const given = this.gate.add(a);
        const s = this.find(a.step);
        if (s) {
          s.approval = a;
          s.approvals = given;
          s.evidence.push(this.gate.describeApproval(a));
        }
        log.info('step approved', { step: a.step, approver: a.approver, signed: !!a.signature });
        this.showDetails();
        return { accepted: a.step };
      },
      { validator: (a) => this.gate.validateApproval(a, this.steps) },
    );
    setHandler(hostWorkStartedSignal, (w) => {
      hostWorkStarted(this.steps, w);
      this.showDetails();
    });
    upsertSearchAttributes([
      { key: RunbookKindKey, value: kind },
      { key: ClusterKey, value: opts.cluster },
      { key: RecoveryTargetKey, value: opts.target },
      { key: RunbookStepKey, value: opts.mode === 'plan' ? 'plan' : (specs[0]?.name ?? '') },
    ]);
    this.showDetails();
  }

  /**
   * The run's Current details in the Web UI (markdown: the step table, a pending approval and how to
   * give it, the outcome). Not a command: setting it changes nothing a replay checks.
   */
  private showDetails(): void {
    setCurrentDetails(
      renderRunDetails({
        workflowId: workflowInfo().workflowId,
        progress: this.progress(),
        cluster: this.opts.cluster,
        target: this.opts.target,
        approvers: (step) => this.gate.mayStillApprove(step),
        ...(this.outcome ? { outcome: this.outcome } : {}),
      }),
    );
  }

  /** The run has ended (completed, planned, failed or cancelled): its details say so. */
  ended(outcome: RunOutcome): void {
    this.outcome = outcome;
    this.showDetails();
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
    this.showDetails();
  }

  /** Everything the run has changed so far. */
  changes(): string[] {
    return [...this.changed];
  }

  /** The run's result as it stands: the plan, the destructive steps (default: all declared), every step. */
  result<P>(plan: P, destructiveSteps: string[] = this.destructiveSteps()): RunbookResult<P> {
    return {
      recoveryId: this.recoveryId,
      mode: this.opts.mode,
      plan,
      destructiveSteps,
      steps: this.progress().steps,
    };
  }

  /** The destructive steps still ahead (what a plan warns about). */
  destructiveSteps(): string[] {
    return this.steps.filter((s) => s.destructive).map((s) => s.name);
  }

  private find(name: string): StepState | undefined {
    return this.steps.find((s) => s.name === name);
  }

  /** Every approval accepted so far, with the key that signed it: what each host journals (workflows/approval-header.ts). */
  approvalRecord(): ApprovalRecord[] {
    return this.gate.approvalRecord();
  }

  get mode(): 'run' | 'plan' {
    return this.opts.mode;
  }

  get hostTimeout(): string {
    return this.opts.hostTimeout ?? DEFAULT_HOST_TIMEOUT;
  }

  /** Records a call of the current step to a host's agent; returns the function that forgets it. */
  trackHostWork(w: Pick<HostWork, 'host' | 'queue' | 'activity'>): () => void {
    const s = this.current ? this.find(this.current) : undefined;
    if (!s) return () => {};
    const forget = trackStepHostWork(s, w);
    this.showDetails();
    return () => {
      forget();
      this.showDetails();
    };
  }

  /** Runs one named step: records status, times and evidence; wraps errors with the step's name. */
  async step<T extends StepOutcome>(name: N, work: () => Promise<T>): Promise<T> {
    const s = this.find(name);
    if (!s) throw failure('RunbookBug', `runbook bug: unknown step ${name}`);
    this.current = name;
    s.status = 'running';
    s.startedAt = new Date().toISOString();
    upsertSearchAttributes([{ key: RunbookStepKey, value: name }]);
    this.showDetails();
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
      this.showDetails();
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
    const enough = () => this.gate.count(name) >= this.gate.approvalsNeeded();
    if (this.opts.requireApproval && s && !enough()) {
      if (this.gate.policy) {
        s.approvalDigest = digestFor(
          {
            kind: this.kind,
            recoveryId: this.recoveryId,
            cluster: this.opts.cluster,
            target: this.opts.target,
          },
          this.steps,
          s,
        );
        s.approvalsNeeded = this.gate.approvalsNeeded();
      }
      s.status = 'waiting-approval';
      this.current = name;
      upsertSearchAttributes([{ key: RunbookStepKey, value: `${name}:awaiting-approval` }]);
      this.showDetails();
      const approved = await condition(enough, this.opts.approvalTimeout as never);
      if (!approved) {
        s.status = 'failed';
        s.error = `not approved within ${this.opts.approvalTimeout}`;
        s.endedAt = new Date().toISOString();
        this.current = null;
        // The run no longer waits: lists and the Web UI say so (runs recorded before this replay without it).
        if (patched('approval-timeout-visible'))
          upsertSearchAttributes([{ key: RunbookStepKey, value: `${name}:not-approved` }]);
        this.showDetails();
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
    this.showDetails();
  }
}
