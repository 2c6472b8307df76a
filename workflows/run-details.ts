// A run's progress as markdown: what the Temporal Web UI shows as the run's "Current details"
// (the kit sets it on every change, workflows/kit.ts), and the step table a report reuses. Pure and
// deterministic (no clock, no randomness): the same progress always renders the same text.
import type { RunbookProgress, StepState, StepStatus } from './kit';

/** Everything the details of a run say, besides its progress. */
export interface RunDetails {
  workflowId: string;
  progress: RunbookProgress;
  cluster: string;
  /** The target in its short form (the RecoveryTarget search attribute), e.g. `gtid:0-1-4005:exclusive`. */
  target: string;
  /** Signed approvals: the catalog's approvers who may still approve a waiting step (absent: unsigned). */
  approvers?: (step: string) => string[];
  /** Once the run has ended. */
  outcome?: RunOutcome;
}

/** How a run ended, as its details say it. */
export interface RunOutcome {
  status: 'completed' | 'planned' | 'failed' | 'cancelled';
  message?: string;
}

/** The longest evidence line a table cell shows (the whole of it is in `progress` and the report). */
export const EVIDENCE_CELL_CHARS = 140;

/** One mark a step status, the same in the Web UI, the CLI and the report. */
export const STEP_MARK: Record<StepStatus, string> = {
  pending: '·',
  running: '▶',
  'waiting-approval': '⏸',
  'waiting-host': '⧗',
  done: '✔',
  'skipped-by-checkpoint': '↷',
  failed: '✖',
};

const STATUS_LABEL: Record<StepStatus, string> = {
  pending: 'pending',
  running: `${STEP_MARK.running} running`,
  'waiting-approval': `${STEP_MARK['waiting-approval']} waiting for approval`,
  'waiting-host': `${STEP_MARK['waiting-host']} waiting for a host agent`,
  done: `${STEP_MARK.done} done`,
  'skipped-by-checkpoint': `${STEP_MARK['skipped-by-checkpoint']} skipped`,
  failed: `${STEP_MARK.failed} failed`,
};

/** Text safe inside a markdown table cell: one line, pipes escaped, markup characters inert. */
export function cell(text: string, max = EVIDENCE_CELL_CHARS): string {
  const one = text.replace(/\s+/g, ' ').trim();
  const cut = one.length > max ? `${one.slice(0, max - 1)}…` : one;
  return cut.replace(/([\\`*_[\]<>|#])/g, '\\$1');
}

/** A step's evidence in one short cell: its error when failed, else its last line, and how many more. */
export function shortEvidence(s: StepState): string {
  if (s.status === 'failed' && s.error) return cell(`error: ${s.error}`);
  if (s.status === 'waiting-host' && s.waitingOn) return cell(`waiting for ${s.waitingOn}`);
  const lines = s.evidence.filter((l) => l.trim());
  if (!lines.length) return '';
  const more = lines.length > 1 ? ` (+${lines.length - 1} more)` : '';
  return cell(lines[lines.length - 1]!, EVIDENCE_CELL_CHARS - more.length) + more;
}

/** The step table: step | status | evidence (short); destructive steps marked. */
export function renderStepTable(steps: readonly StepState[]): string {
  const rows = steps.map(
    (s, i) =>
      `| ${i + 1} | \`${s.name}\`${s.destructive ? ' ⚠' : ''} | ${STATUS_LABEL[s.status]} | ${shortEvidence(s)} |`,
  );
  return ['| # | step | status | evidence |', '|---|---|---|---|', ...rows].join('\n');
}

/** How many approvals a waiting step still needs. */
export function approvalsStillNeeded(s: StepState): number {
  return Math.max(0, (s.approvalsNeeded ?? 1) - (s.approvals?.length ?? 0));
}

/** Shell quoting of one argument for the commands shown (single quotes). */
function sh(arg: string): string {
  return /^[A-Za-z0-9_./:@=-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** What to type to approve a waiting step: the runbook CLI and the `temporal` CLI equivalent. */
export function approvalCommands(workflowId: string, step: string, signed: boolean): string[] {
  const id = sh(workflowId);
  const args = `--step ${sh(step)} --reason <why> --approver <you>${signed ? ' --key <you>.key' : ''}`;
  const update = `temporal workflow update execute --workflow-id ${id} --name approve \\` + '\n  --input';
  const input = signed
    ? `"$(runbook approve ${id} ${args} --print)"`
    : sh(JSON.stringify({ step, approver: '<you>', reason: '<why>' }));
  return [`runbook approve ${id} \\` + `\n  ${args}`, `${update} ${input}`];
}

function pendingApproval(d: RunDetails, s: StepState): string[] {
  const still = approvalsStillNeeded(s);
  const signed = !!s.approvalDigest;
  const who = d.approvers?.(s.name);
  const given = (s.approvals ?? []).map((a) => a.approver);
  return [
    `### ${STEP_MARK['waiting-approval']} Waiting for approval: \`${s.name}\``,
    '',
    `\`${s.name}\` changes the cluster and waits for **${still} more ${signed ? 'signed ' : ''}approval${still === 1 ? '' : 's'}**` +
      ` (${s.approvalsNeeded ?? 1} needed${given.length ? `; given by ${given.map((g) => cell(g, 60)).join(', ')}` : ''}).` +
      (who?.length ? ` May approve: ${who.map((w) => cell(w, 60)).join(', ')}.` : ''),
    '',
    'Approve with:',
    '',
    ...fenced(approvalCommands(d.workflowId, s.name, signed)),
  ];
}

/** A code block whose fence no backtick run inside it can close. */
function fenced(lines: string[]): string[] {
  const longest = Math.max(
    0,
    ...lines.map((l) => Math.max(0, ...(l.match(/`+/g) ?? []).map((r) => r.length))),
  );
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}sh`, ...lines, fence];
}

const OUTCOME_HEAD: Record<RunOutcome['status'], string> = {
  completed: '### ✔ Completed',
  planned: '### Plan ready (nothing was changed)',
  failed: `### ${STEP_MARK.failed} Failed`,
  cancelled: `### ${STEP_MARK.failed} Cancelled`,
};

function outcomeLines(o: RunOutcome): string[] {
  return [OUTCOME_HEAD[o.status], ...(o.message ? ['', cell(o.message, 600)] : [])];
}

/** The outcome alone: the details of a run that ended before its runbook opened (e.g. invalid input). */
export function renderOutcome(o: RunOutcome): string {
  return outcomeLines(o).join('\n');
}

/** `restoreBackup` → `restore backup`. */
function words(activityType: string): string {
  return activityType.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

/**
 * The summary of one activity call in the Web UI's timeline: the step it belongs to, what it does
 * and the host whose agent runs it, e.g. `restore-backup — restore backup (host db2)`.
 */
export function activitySummary(step: string | null, activityType: string, taskQueue?: string): string {
  const host = taskQueue?.match(/\.host\.(.+)$/)?.[1];
  const what = `${words(activityType)}${host ? ` (host ${host})` : ''}`;
  return step ? `${step} — ${what}` : what;
}

/** The Current details of a run: what it is, the step table, and what it waits on (how to approve). */
export function renderRunDetails(d: RunDetails): string {
  const p = d.progress;
  const lines = [
    `**${cell(p.kind, 80)}** · cluster **${cell(d.cluster, 80)}** · target \`${cell(d.target, 120)}\`` +
      ` · recovery ${cell(p.recoveryId, 100)}${p.mode === 'plan' ? ' · plan only' : ''}`,
    '',
    renderStepTable(p.steps),
  ];
  const waiting = p.steps.filter((s) => s.status === 'waiting-approval');
  for (const s of waiting) lines.push('', ...pendingApproval(d, s));
  if (!waiting.length && !d.outcome && p.currentStep) lines.push('', `Now: \`${p.currentStep}\``);
  if (p.changed?.length) lines.push('', 'Changed so far:', '', ...p.changed.map((c) => `- ${cell(c, 300)}`));
  if (d.outcome) lines.push('', ...outcomeLines(d.outcome));
  return lines.join('\n');
}
