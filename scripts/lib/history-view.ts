// What `runbook history <run>` prints by default: the run's events as a table a person reads — time,
// time since the start, the event, and what it concerns (the activity and its attempt, the signal or
// update, the failure's message, the search attributes set). Workflow-task bookkeeping is left out
// unless asked for; a failed workflow task (a run stuck retrying) is always shown. Pure: tested without
// a server.
import { defaultPayloadConverter } from '@temporalio/common';
import proto, { type temporal } from '@temporalio/proto';
import { wrapText } from './text-table';

type Event = temporal.api.history.v1.IHistoryEvent;
type Failure = temporal.api.failure.v1.IFailure | null | undefined;

const E = proto.temporal.api.enums.v1.EventType;
const BOOKKEEPING = new Set<number>([
  E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
  E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
  E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
]);

/** EVENT_TYPE_ACTIVITY_TASK_SCHEDULED → ActivityTaskScheduled. */
export function eventName(type: number | null | undefined): string {
  const raw = E[type ?? 0] ?? `EVENT_TYPE_${type}`;
  return raw
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

/** The innermost message of a failure chain (where the catalogued failure says what happened). */
function failureText(f: Failure): string {
  let cur = f;
  while (cur?.cause) cur = cur.cause;
  return cur?.message ?? f?.message ?? '';
}

function decoded(payload: temporal.api.common.v1.IPayload | null | undefined): unknown {
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return undefined; // encrypted or unknown encoding: not shown
  }
}

const seconds = (d: { seconds?: unknown } | null | undefined) =>
  d?.seconds !== undefined && d?.seconds !== null ? `${String(d.seconds)} s` : '?';

function detail(e: Event, scheduled: Map<string, string>): string {
  const activity = (id: unknown) => scheduled.get(String(id)) ?? 'activity';
  const a = e.activityTaskScheduledEventAttributes;
  if (a) {
    const summary = decoded(e.userMetadata?.summary);
    return `${a.activityType?.name ?? '?'}${typeof summary === 'string' && summary ? ` (${summary})` : ''} on ${a.taskQueue?.name ?? '?'}`;
  }
  if (e.activityTaskStartedEventAttributes) {
    const s = e.activityTaskStartedEventAttributes;
    return `${activity(s.scheduledEventId)} attempt ${s.attempt ?? 1} by ${s.identity ?? '?'}`;
  }
  if (e.activityTaskCompletedEventAttributes)
    return activity(e.activityTaskCompletedEventAttributes.scheduledEventId);
  if (e.activityTaskFailedEventAttributes) {
    const f = e.activityTaskFailedEventAttributes;
    return `${activity(f.scheduledEventId)}: ${failureText(f.failure)}`;
  }
  if (e.activityTaskTimedOutEventAttributes) {
    const t = e.activityTaskTimedOutEventAttributes;
    return `${activity(t.scheduledEventId)}: ${failureText(t.failure)}`;
  }
  if (e.activityTaskCancelRequestedEventAttributes)
    return activity(e.activityTaskCancelRequestedEventAttributes.scheduledEventId);
  if (e.activityTaskCanceledEventAttributes)
    return activity(e.activityTaskCanceledEventAttributes.scheduledEventId);
  const started = e.workflowExecutionStartedEventAttributes;
  if (started)
    return `${started.workflowType?.name ?? '?'} on ${started.taskQueue?.name ?? '?'}${started.identity ? ` by ${started.identity}` : ''}`;
  if (e.workflowExecutionSignaledEventAttributes) {
    const s = e.workflowExecutionSignaledEventAttributes;
    return `${s.signalName ?? '?'}${s.identity ? ` from ${s.identity}` : ''}`;
  }
  if (e.workflowExecutionUpdateAcceptedEventAttributes) {
    const u = e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest;
    return `${u?.input?.name ?? '?'}${u?.meta?.identity ? ` from ${u.meta.identity}` : ''}`;
  }
  if (e.workflowExecutionUpdateCompletedEventAttributes) {
    const o = e.workflowExecutionUpdateCompletedEventAttributes.outcome;
    return o?.failure ? `failed: ${failureText(o.failure)}` : 'succeeded';
  }
  if (e.upsertWorkflowSearchAttributesEventAttributes) {
    const fields = e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields ?? {};
    return Object.entries(fields)
      .map(([k, v]) => {
        const value = decoded(v);
        return `${k}=${Array.isArray(value) ? value.join(', ') : String(value)}`;
      })
      .join('; ');
  }
  if (e.timerStartedEventAttributes) {
    const t = e.timerStartedEventAttributes;
    return `timer ${t.timerId ?? '?'} for ${seconds(t.startToFireTimeout)}`;
  }
  if (e.timerFiredEventAttributes) return `timer ${e.timerFiredEventAttributes.timerId ?? '?'}`;
  if (e.timerCanceledEventAttributes) return `timer ${e.timerCanceledEventAttributes.timerId ?? '?'}`;
  if (e.markerRecordedEventAttributes) return e.markerRecordedEventAttributes.markerName ?? '';
  if (e.workflowTaskFailedEventAttributes) {
    const f = e.workflowTaskFailedEventAttributes;
    const cause = proto.temporal.api.enums.v1.WorkflowTaskFailedCause[f.cause ?? 0] ?? '';
    return `${cause.replace(/^WORKFLOW_TASK_FAILED_CAUSE_/, '')}: ${failureText(f.failure)}`;
  }
  if (e.workflowExecutionCancelRequestedEventAttributes) {
    const c = e.workflowExecutionCancelRequestedEventAttributes;
    return [c.cause, c.identity ? `by ${c.identity}` : ''].filter(Boolean).join(' ');
  }
  if (e.workflowExecutionFailedEventAttributes)
    return failureText(e.workflowExecutionFailedEventAttributes.failure);
  if (e.workflowExecutionTerminatedEventAttributes) {
    const t = e.workflowExecutionTerminatedEventAttributes;
    return [t.reason, t.identity ? `by ${t.identity}` : ''].filter(Boolean).join(' ');
  }
  if (e.workflowExecutionTimedOutEventAttributes) return 'the run timed out';
  return '';
}

/** Milliseconds of a timestamp whose seconds may be a Long, a number or a string (histories read from JSON). */
function ms(ts: temporal.api.history.v1.IHistoryEvent['eventTime']): number | undefined {
  if (!ts) return undefined;
  return Number(String(ts.seconds ?? 0)) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

const clock = (ms: number | undefined) => (ms === undefined ? '?' : new Date(ms).toISOString().slice(11, 23));

function elapsed(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `+${s.toFixed(1)}s`;
  if (s < 3600) return `+${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `+${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The events as a table: `#`, time (UTC), time since the first event, event, what it concerns.
 * The last column wraps at `width`. `all` also shows workflow-task bookkeeping.
 */
export function renderHistory(
  history: temporal.api.history.v1.IHistory,
  o: { width?: number; all?: boolean } = {},
): string {
  const events = history.events ?? [];
  const scheduled = new Map<string, string>();
  for (const e of events)
    if (e.activityTaskScheduledEventAttributes)
      scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
  const t0 = ms(events[0]?.eventTime);
  const shown = events.filter((e) => o.all || !BOOKKEEPING.has(e.eventType ?? 0));
  const rows = shown.map((e) => {
    const at = ms(e.eventTime);
    return [
      String(e.eventId),
      clock(at),
      at !== undefined && t0 !== undefined ? elapsed(at - t0) : '',
      eventName(e.eventType),
      detail(e, scheduled),
    ];
  });
  const header = ['#', 'time (UTC)', 'elapsed', 'event', 'detail'];
  const widths = header.slice(0, 4).map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const lead = (cells: string[]) =>
    cells
      .slice(0, 4)
      .map((c, i) => (i === 0 || i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ');
  const indent = widths.reduce((n, w) => n + w + 2, 0);
  const room = Math.max(30, (o.width ?? 120) - indent);
  const lines = [`${lead(header)}  ${header[4]}`];
  for (const r of rows) {
    const [first, ...more] = wrapText(r[4]!, room);
    lines.push(`${lead(r)}  ${first ?? ''}`.trimEnd());
    for (const m of more) lines.push(`${' '.repeat(indent)}${m}`);
  }
  const hidden = events.length - shown.length;
  lines.push(
    `${events.length} event(s)${hidden ? `, ${hidden} workflow-task event(s) not shown (--all shows them)` : ''}`,
  );
  return lines.join('\n');
}
