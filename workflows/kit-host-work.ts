// The runbook kit's host-work tracking: a step's calls to named hosts' agents, shown as `waiting-host`
// until an agent takes them (hostWorkStarted), and failed with HostUnavailable when none does (onHost).
import { ActivityFailure, defineSignal, TimeoutFailure, upsertSearchAttributes } from '@temporalio/workflow';
import { TimeoutType } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import { failure } from './failures';
import type { StepState } from './kit';
import { RunbookStepKey } from './search-attributes';

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

/** Sent by a host agent as it starts an activity (workers/host-agent.ts): the step is running there now. */
export interface HostWorkStarted {
  host: string;
  activity: string;
  agent: string;
}
export const hostWorkStartedSignal = defineSignal<[HostWorkStarted]>('hostWorkStarted');

export const DEFAULT_HOST_TIMEOUT = '10m';
/**
 * How long a plan waits at most for a host's agent (hostTimeout when shorter): a plan's host work is a
 * few reads that an agent polling its queue takes at once, so a plan naming a host with no agent
 * says so within seconds instead of waiting out hostTimeout.
 */
export const PLAN_HOST_TIMEOUT = '10s';

/** What onHost needs of this execution's runbook: how long to wait for an agent, where to show the wait. */
interface HostWorkTracker {
  readonly hostTimeout: string;
  readonly mode: 'run' | 'plan';
  trackHostWork(w: Pick<HostWork, 'host' | 'queue' | 'activity'>): () => void;
}
/** Set by the kit as the runbook opens (module state is per execution in the workflow sandbox). */
let tracker: HostWorkTracker | undefined;
export function trackHostWorkOf(t: HostWorkTracker): void {
  tracker = t;
}

/** Records a call of step `s` to a host's agent; returns the function that forgets it. */
export function trackStepHostWork(
  s: StepState,
  w: Pick<HostWork, 'host' | 'queue' | 'activity'>,
): () => void {
  const entry: HostWork = { ...w, state: 'waiting', since: new Date().toISOString() };
  (s.hostWork ??= []).push(entry);
  showHostWaits(s);
  return () => {
    s.hostWork = s.hostWork?.filter((x) => x !== entry);
    if (!s.hostWork?.length) delete s.hostWork;
    showHostWaits(s);
  };
}

/** The hostWorkStarted signal: the first matching waiting call of `steps` is running now. */
export function hostWorkStarted(steps: StepState[], w: HostWorkStarted): void {
  for (const s of steps) {
    const entry = s.hostWork?.find(
      (x) => x.state === 'waiting' && x.host === w.host && x.activity === w.activity,
    );
    if (!entry) continue;
    entry.state = 'running';
    entry.agent = w.agent;
    showHostWaits(s);
    return;
  }
}

/** `waiting-host` while every host call of a running step still waits for its agent. */
function showHostWaits(s: StepState): void {
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

/**
 * Runs one activity call on a named host's queue (workflows/routing.ts): shown in `progress` as
 * waiting for that host's agent until the agent takes it; when no agent takes it within the
 * runbook's hostTimeout, fails for good with a message naming the host — it is never sent elsewhere.
 */
export async function onHost<T>(
  w: { host: string; queue: string; activity: string },
  call: (scheduleToStartTimeout: string) => Promise<T>,
): Promise<T> {
  const configured = tracker?.hostTimeout ?? DEFAULT_HOST_TIMEOUT;
  const planning = tracker?.mode === 'plan';
  const timeout =
    planning && msToNumber(PLAN_HOST_TIMEOUT) < msToNumber(configured) ? PLAN_HOST_TIMEOUT : configured;
  const forget = tracker?.trackHostWork(w) ?? (() => {});
  try {
    return await call(timeout);
  } catch (err) {
    if (
      err instanceof ActivityFailure &&
      err.cause instanceof TimeoutFailure &&
      err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START
    ) {
      if (planning)
        throw failure(
          'HostUnavailable',
          `host ${w.host} has no agent polling task queue ${w.queue}: nothing took ${w.activity} within ${timeout}. ` +
            `Start the host agent on ${w.host} (RUNBOOK_HOST=${w.host} npm run agent, see docs/operations.md) ` +
            'and plan again; the plan touched nothing',
        );
      throw failure(
        'HostUnavailable',
        `host ${w.host} did not take ${w.activity} within ${timeout}: no agent polls its task queue ${w.queue}. ` +
          `Start the host agent on ${w.host} (RUNBOOK_HOST=${w.host} npm run agent) and start the recovery again ` +
          'with the same recoveryId; nothing of this step ran elsewhere',
      );
    }
    throw err;
  } finally {
    forget();
  }
}
