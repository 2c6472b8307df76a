// A recovery report: what one run did, for a human — the plan, each step with its times, evidence and
// approvals, the proof and the before/after figures, and how it ended. Built from what Temporal holds
// (`runbook report`, scripts/cli/report.ts) or by the run itself as it ends (workflows/report-at-end.ts);
// rendered by report-markdown.ts and report-html.ts. Pure data and pure functions: deterministic, so
// the workflow may build it too.
import type { RunbookProgress, StepState } from './kit';
import type { TableFingerprint } from './schemas';

export interface ReportStep {
  name: string;
  destructive: boolean;
  status: StepState['status'];
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  evidence: string[];
  error?: string;
}

export interface ReportApproval {
  step: string;
  approver: string;
  /** When the run accepted it (the approve Update), when known. */
  at?: string;
  reason: string;
  signed: boolean;
  /** What a signature covers besides run, step and reason: the digest of what the step waited on. */
  digest?: string;
  expiresAt?: string;
}

export interface ReportFigure {
  table: string;
  expected?: TableFingerprint;
  observed?: TableFingerprint;
}

export interface RecoveryReport {
  workflowId: string;
  runId?: string;
  kind: string;
  recoveryId: string;
  mode: 'run' | 'plan';
  /** RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT. */
  status: string;
  cluster?: string;
  target?: string;
  startedAt?: string;
  endedAt?: string;
  generatedAt: string;
  /** The evidence of the run's first step: the plan it showed. */
  plan: string[];
  steps: ReportStep[];
  approvals: ReportApproval[];
  /** The verify step's evidence: the proof and the fingerprints. */
  proof: string[];
  /** GTID state before and after the replay, and transactions applied (when the result has them). */
  replay?: { stateBefore?: string; stateAfter?: string; transactionsApplied?: number };
  figures: ReportFigure[];
  /** What the run changed, in sentences (a failed run's state). */
  changed: string[];
  /** One sentence: recovered, or the failure message. */
  outcome: string;
}

/** What a report is built from; every field but the run's identity may be missing. */
export interface ReportSource {
  workflowId: string;
  runId?: string;
  kind: string;
  status: string;
  cluster?: string;
  target?: string;
  startedAt?: string;
  endedAt?: string;
  progress: RunbookProgress | null;
  /** The run's result (closed, completed runs). */
  result?: unknown;
  /** A failed or cancelled run's message. */
  failure?: string;
  /** When each approval was accepted, in the order the run accepted them. */
  approvalTimes?: { step: string; approver: string; at: string }[];
  /** The fingerprints the input expected (verify.expected). */
  expected?: Record<string, TableFingerprint>;
}

const VERIFY_STEPS = new Set(['verify', 'verify-restore', 'verify-tables']);

function durationOf(s: StepState): number | undefined {
  if (!s.startedAt || !s.endedAt) return undefined;
  const ms = Date.parse(s.endedAt) - Date.parse(s.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function fingerprint(v: unknown): TableFingerprint | undefined {
  const r = asRecord(v);
  if (!r || typeof r.rows !== 'number') return undefined;
  return { rows: r.rows, checksum: typeof r.checksum === 'number' ? r.checksum : null };
}

function approvalsOf(steps: StepState[], times: ReportSource['approvalTimes'] = []): ReportApproval[] {
  const unused = [...times];
  return steps.flatMap((s) =>
    (s.approvals ?? (s.approval ? [s.approval] : [])).map((a) => {
      const i = unused.findIndex((t) => t.step === a.step && t.approver === a.approver);
      const at = i >= 0 ? unused.splice(i, 1)[0]!.at : undefined;
      return {
        step: a.step,
        approver: a.approver,
        ...(at ? { at } : {}),
        reason: a.reason,
        signed: !!a.signature,
        ...(a.signature && s.approvalDigest ? { digest: s.approvalDigest } : {}),
        ...(a.expiresAt ? { expiresAt: a.expiresAt } : {}),
      };
    }),
  );
}

function outcomeOf(src: ReportSource, steps: ReportStep[]): string {
  if (src.failure) return src.failure;
  const done = steps.filter((s) => s.status === 'done').length;
  switch (src.status) {
    case 'COMPLETED':
      return src.progress?.mode === 'plan'
        ? 'plan shown; nothing was changed'
        : `completed: ${done} of ${steps.length} steps done, the others skipped`;
    case 'RUNNING':
      return `running: ${done} of ${steps.length} steps done so far`;
    default:
      return src.status.toLowerCase();
  }
}

export function buildReport(src: ReportSource, generatedAt: string): RecoveryReport {
  const p = src.progress;
  const result = asRecord(src.result);
  const steps: ReportStep[] = (p?.steps ?? []).map((s) => {
    const d = durationOf(s);
    return {
      name: s.name,
      destructive: s.destructive,
      status: s.status,
      ...(s.startedAt ? { startedAt: s.startedAt } : {}),
      ...(s.endedAt ? { endedAt: s.endedAt } : {}),
      ...(d !== undefined ? { durationMs: d } : {}),
      evidence: [...s.evidence],
      ...(s.error ? { error: s.error } : {}),
    };
  });
  const observed = asRecord(result?.tables) ?? {};
  const expected = src.expected ?? {};
  const figures = [...new Set([...Object.keys(expected), ...Object.keys(observed)])].sort().map((table) => {
    const e = fingerprint(expected[table]);
    const o = fingerprint(observed[table]);
    return { table, ...(e ? { expected: e } : {}), ...(o ? { observed: o } : {}) };
  });
  const replay = asRecord(result?.replay);
  const verify = steps.find((s) => VERIFY_STEPS.has(s.name));
  return {
    workflowId: src.workflowId,
    ...(src.runId ? { runId: src.runId } : {}),
    kind: p?.kind ?? src.kind,
    recoveryId: p?.recoveryId ?? src.workflowId,
    mode: p?.mode ?? 'run',
    status: src.status,
    ...(src.cluster ? { cluster: src.cluster } : {}),
    ...(src.target ? { target: src.target } : {}),
    ...(src.startedAt ? { startedAt: src.startedAt } : {}),
    ...(src.endedAt ? { endedAt: src.endedAt } : {}),
    generatedAt,
    plan: steps[0]?.evidence ?? [],
    steps,
    approvals: approvalsOf(p?.steps ?? [], src.approvalTimes),
    proof: verify?.evidence ?? [],
    ...(replay
      ? {
          replay: {
            ...(typeof replay.stateBefore === 'string' ? { stateBefore: replay.stateBefore } : {}),
            ...(typeof replay.stateAfter === 'string' ? { stateAfter: replay.stateAfter } : {}),
            ...(typeof replay.transactionsApplied === 'number'
              ? { transactionsApplied: replay.transactionsApplied }
              : {}),
          },
        }
      : {}),
    figures,
    changed: [...(p?.changed ?? [])],
    outcome: outcomeOf(src, steps),
  };
}

/** A duration for people: 850ms, 12s, 3m05s, 1h02m. */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Whether the observed fingerprint equals the expected one (undefined when either is missing). */
export function figureMatches(f: ReportFigure): boolean | undefined {
  if (!f.expected || !f.observed) return undefined;
  return f.expected.rows === f.observed.rows && f.expected.checksum === f.observed.checksum;
}

/** The report's header facts (label, value), in order; absent values are left out. */
export function reportFacts(r: RecoveryReport): [string, string][] {
  const facts: [string, string | undefined][] = [
    ['Outcome', r.outcome],
    ['Runbook', r.kind],
    ['Cluster', r.cluster],
    ['Target', r.target],
    ['Mode', r.mode],
    ['Workflow', `${r.workflowId}${r.runId ? ` (run ${r.runId})` : ''}`],
    ['Started', r.startedAt],
    ['Ended', r.endedAt],
    ['Report written', r.generatedAt],
  ];
  return facts.filter((f): f is [string, string] => !!f[1]);
}

/** What an approval's Signed cell says: no, or what the verified signature covered. */
export function signedText(a: ReportApproval): string {
  if (!a.signed) return 'no';
  return `yes: Ed25519 over run, step, reason${a.digest ? ` and digest ${a.digest.slice(0, 16)}…` : ''}, verified by the run`;
}
