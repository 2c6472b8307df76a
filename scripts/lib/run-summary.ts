// What a run says about itself in the Temporal Web UI before any worker has touched it: its static
// summary (one line in the run list and at the top of its page) and static details (markdown), set
// by whoever starts it — the runbook CLI, the incident webhook, the demo. Built from the request
// only (no catalog read), so every starter can build it; a run started without them (a plain
// `temporal workflow start`) still shows its step table, which the workflow sets as it goes.
import { runbookOf } from '../../workflows/runbooks';

export interface RunStart {
  kind: string;
  workflowId: string;
  /** The request as started: `{ cluster, target | failurePoint | …, mode? }` (no host, path or secret). */
  request: Record<string, unknown>;
  incident?: { id: string; title?: string };
  /** Who or what started it, e.g. `runbook CLI (ana, signed)`, `webhook (key pager)`. */
  startedBy?: string;
}

export interface RunMetadata {
  staticSummary: string;
  staticDetails: string;
}

/** Outside text on one line, of bounded length, with markdown's markup characters inert. */
function plain(value: unknown, max = 120): string {
  const one = String(value)
    .replace(/[\u0000-\u001f\u007f\s]+/g, ' ')
    .trim();
  const cut = one.length > max ? `${one.slice(0, max - 1)}…` : one;
  return cut.replace(/([\\`*_[\]<>|#])/g, '\\$1');
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === 'object' && !Array.isArray(v);

/** A point in a binlog, a GTID or a time, as an operator says it. */
function point(t: Record<string, unknown>): string | undefined {
  switch (t.type) {
    case 'gtid':
      return `to GTID ${plain(t.gtid, 60)}${t.exclusive ? ' (exclusive)' : ''}`;
    case 'time':
      return `to ${plain(t.time, 40)}`;
    case 'position':
      return `to ${plain(t.file, 60)}:${plain(t.position, 20)}`;
    case 'epoch':
      return `to epoch ${plain(t.epoch, 30)}`;
    case 'latest':
      return 'to the latest transaction';
    default:
      return undefined;
  }
}

/** Where the request takes the cluster, from whichever field its runbook uses; undefined when it does not say. */
export function describeRequestTarget(kind: string, request: Record<string, unknown>): string | undefined {
  if (isObject(request.target)) return point(request.target);
  if (isObject(request.failurePoint)) {
    const p = point(request.failurePoint);
    return p && `failure point ${p.replace(/^to /, 'at ')}`;
  }
  if (typeof request.snapshotTime === 'string') return `snapshot at ${plain(request.snapshotTime, 40)}`;
  if (typeof request.form === 'string') return `channel failover (${plain(request.form, 40)})`;
  if (kind === 'perconaRollback' && typeof request.recoveryId === 'string')
    return `roll back ${plain(request.recoveryId, 100)}`;
  return undefined;
}

/** e.g. `perconaPointInTimeRecovery · cluster shop · to GTID 0-1-4005 (exclusive) · INC-42`. */
export function runSummary(r: RunStart): string {
  const target = describeRequestTarget(r.kind, r.request);
  return [
    plain(r.kind, 60),
    `cluster ${plain(r.request.cluster, 100)}`,
    ...(target ? [target] : []),
    ...(r.request.mode === 'plan' ? ['plan only'] : []),
    ...(r.incident ? [plain(r.incident.id, 60)] : []),
  ].join(' · ');
}

/** The static summary and details a starter passes to `client.workflow.start`. */
export function runMetadata(r: RunStart): RunMetadata {
  const target = describeRequestTarget(r.kind, r.request);
  const procedure = runbookOf(r.kind)?.procedure;
  const approval =
    r.request.mode === 'plan'
      ? 'plan only: touches nothing'
      : r.request.requireApproval === true
        ? 'each destructive step waits for approval (Current details show the command)'
        : r.request.requireApproval === false
          ? 'destructive steps do not wait for approval, unless the fleet catalog entry requires it'
          : 'as the fleet catalog entry requires (a waiting step and its command show in Current details)';
  const lines = [
    `**Runbook** ${plain(r.kind, 60)}${procedure ? ` — ${plain(procedure, 160)}` : ''}`,
    `**Cluster** ${plain(r.request.cluster, 100)} (fleet catalog entry)`,
    `**Target** ${target ?? 'as the catalog entry says'}`,
    ...(r.incident
      ? [
          `**Incident** ${plain(r.incident.id, 60)}${r.incident.title ? ` — ${plain(r.incident.title, 200)}` : ''}`,
        ]
      : []),
    ...(r.startedBy ? [`**Started by** ${plain(r.startedBy, 120)}`] : []),
    `**Approval** ${approval}`,
    `**Follow** \`runbook status ${r.workflowId.replace(/[`\s]+/g, '?').slice(0, 120)} --watch\`; the step table is under Current details`,
  ];
  return { staticSummary: runSummary(r), staticDetails: lines.join('  \n') };
}
