// What `runbook status` shows: the steps table, and while a step streams data (a replay), a progress
// bar with rate and ETA computed from two heartbeat samples. Pure functions: tested without a server.
import type { RunbookProgress, StepState } from '../../workflows/kit';
import { wrapText } from './text-table';
import { STEP_MARK } from '../../workflows/run-details';

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A step as shown: its own status, or how the run ended when it ended with the step unfinished. */
export type ShownStatus = StepState['status'] | 'cancelled' | 'terminated' | 'timed-out';

const MARK: Record<ShownStatus, string> = {
  ...STEP_MARK,
  cancelled: '⊘',
  terminated: '⊘',
  'timed-out': '⊘',
};

/** Run (execution) statuses that end a run without its steps ending: the step's last state is stale. */
const ENDED_BY: Record<string, ShownStatus> = {
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed-out',
};
const UNFINISHED: ReadonlySet<StepState['status']> = new Set(['running', 'waiting-approval', 'waiting-host']);

/**
 * What a step shows once the run's execution status is known: a run cancelled, terminated or timed
 * out while a step ran or waited shows that step as cancelled (…), with what it was doing.
 */
export function shownStep(s: StepState, runStatus?: string): { status: ShownStatus; evidence: string[] } {
  const ended = runStatus ? ENDED_BY[runStatus] : undefined;
  if (ended && UNFINISHED.has(s.status)) {
    const doing =
      s.status === 'waiting-approval'
        ? 'waiting for approval'
        : s.waitingOn
          ? `waiting for ${s.waitingOn}`
          : 'running';
    return { status: ended, evidence: [`run ${ended} while ${doing}`, ...s.evidence] };
  }
  const evidence = s.error ? [s.error] : s.waitingOn ? [`waiting for ${s.waitingOn}`] : s.evidence;
  return { status: s.status, evidence };
}

function stepDuration(s: StepState, now: number): string {
  if (!s.startedAt) return '';
  const end = s.endedAt ? Date.parse(s.endedAt) : now;
  return formatDuration(end - Date.parse(s.startedAt));
}

/**
 * The steps table. Evidence is never cut: each item starts a line and wraps at `width` under the
 * evidence column (or, in a pane too narrow for that column, on indented lines below the step).
 * `runStatus` is the run's execution status (describe()): it overrides a stale step state.
 */
export function renderSteps(p: RunbookProgress, now = Date.now(), width = 120, runStatus?: string): string {
  const nameWidth = Math.max(...p.steps.map((s) => s.name.length), 4);
  const ended = runStatus ? ENDED_BY[runStatus] : undefined;
  const lines = [
    `${p.kind} ${p.recoveryId}${p.mode === 'plan' ? ' (plan)' : ''}${ended ? ` — ${ended}` : ''}`,
  ];
  for (const s of p.steps) {
    const shown = shownStep(s, runStatus);
    const head = `${MARK[shown.status]} ${s.name.padEnd(nameWidth)} ${shown.status.padEnd(21)} ${stepDuration(s, now).padStart(6)}${s.destructive ? ' ⚠' : '  '} `;
    const room = width - head.length;
    const indent = room >= 24 ? head.length : 4;
    const wrapped = shown.evidence.flatMap((e) => wrapText(e, width - indent));
    if (room >= 24) lines.push(`${head}${wrapped[0] ?? ''}`.trimEnd());
    else lines.push(head.trimEnd(), ...(wrapped[0] ? [`${' '.repeat(indent)}${wrapped[0]}`] : []));
    for (const more of wrapped.slice(1)) lines.push(`${' '.repeat(indent)}${more}`);
  }
  return lines.join('\n');
}

export interface ProgressSample {
  at: number;
  done: number;
  total: number;
  unit: 'bytes' | 'transactions';
}

/** Reads a count out of heartbeat details: transactions applied (replays) or bytes. */
export function sampleFrom(details: unknown, at: number): ProgressSample | null {
  if (!details || typeof details !== 'object') return null;
  const d = details as Record<string, unknown>;
  const pick = (done: unknown, total: unknown, unit: ProgressSample['unit']): ProgressSample | null => {
    const [x, y] = [Number(done), Number(total)];
    return done !== undefined && Number.isFinite(x) && Number.isFinite(y) && y > 0
      ? { at, done: x, total: y, unit }
      : null;
  };
  return (
    pick(d.transactionsApplied, d.transactionsTotal, 'transactions') ??
    pick(d.bytesStreamed ?? d.bytesDone, d.bytesTotal, 'bytes')
  );
}

const formatCount = (n: number, unit: ProgressSample['unit']) =>
  unit === 'bytes' ? formatBytes(n) : `${Math.round(n).toLocaleString('en-US')} tx`;

export function renderBar(cur: ProgressSample, first: ProgressSample | null, width = 30): string {
  const frac = Math.min(1, cur.done / cur.total);
  const filled = Math.round(frac * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  const elapsed = first && cur.at > first.at ? (cur.at - first.at) / 1000 : 0;
  const rate = elapsed > 0 ? (cur.done - first!.done) / elapsed : 0;
  const eta = rate > 0 ? formatDuration((Math.max(0, cur.total - cur.done) / rate) * 1000) : '?';
  const f = (n: number) => formatCount(n, cur.unit);
  return `${bar} ${(frac * 100).toFixed(0).padStart(3)}% ${f(cur.done)}/${f(cur.total)}  ${rate > 0 ? `${f(rate)}/s` : '-'}  ETA ${eta}`;
}
