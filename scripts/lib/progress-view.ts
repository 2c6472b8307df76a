// What `runbook status` shows: the steps table, and while a step streams data (a replay), a progress
// bar with rate and ETA computed from two heartbeat samples. Pure functions: tested without a server.
import type { RunbookProgress, StepState } from '../../workflows/kit';

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

const MARK: Record<StepState['status'], string> = {
  pending: '·',
  running: '▶',
  'waiting-approval': '⏸',
  'waiting-host': '⧗',
  done: '✔',
  'skipped-by-checkpoint': '↷',
  failed: '✖',
};

function stepDuration(s: StepState, now: number): string {
  if (!s.startedAt) return '';
  const end = s.endedAt ? Date.parse(s.endedAt) : now;
  return formatDuration(end - Date.parse(s.startedAt));
}

export function renderSteps(p: RunbookProgress, now = Date.now(), width = 120): string {
  const nameWidth = Math.max(...p.steps.map((s) => s.name.length), 4);
  const lines = [`${p.kind} ${p.recoveryId}${p.mode === 'plan' ? ' (plan)' : ''}`];
  for (const s of p.steps) {
    const evidence = s.error ?? (s.waitingOn ? `waiting for ${s.waitingOn}` : s.evidence.join('; '));
    const head = `${MARK[s.status]} ${s.name.padEnd(nameWidth)} ${s.status.padEnd(21)} ${stepDuration(s, now).padStart(6)}${s.destructive ? ' ⚠' : '  '} `;
    const room = Math.max(10, width - head.length);
    lines.push(`${head}${evidence.length > room ? `${evidence.slice(0, room - 1)}…` : evidence}`);
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
