// The activity runtime's waiting: one heartbeat wrapper and one pause that sees cancellation, used by
// every wait and poll loop. A cancelled run (`runbook cancel`, an approval timeout upstream, a
// workflow that failed) stops a poll at its next pause instead of after its own timeout; the
// heartbeat is what delivers the cancellation to the activity in the first place.
import { Context } from '@temporalio/activity';

/** Heartbeats when running inside an activity (the SDK throttles them); a no-op elsewhere. */
export function heartbeat(details?: unknown): void {
  activityContext()?.heartbeat(details);
}

function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

/** Sleeps `ms`; inside an activity, rejects with CancelledFailure as soon as the activity is cancelled. */
export async function pause(ms: number): Promise<void> {
  const ctx = activityContext();
  if (ctx) return ctx.sleep(ms);
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * Calls `check` until it returns something other than undefined, heartbeating `details` and pausing
 * `everyMs` between calls; past `timeoutMs`, throws what `onTimeout` returns.
 */
export async function poll<T>(o: {
  check: () => Promise<T | undefined>;
  timeoutMs: number;
  everyMs: number;
  details: unknown;
  onTimeout: () => Error;
}): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const r = await o.check();
    if (r !== undefined) return r;
    if (Date.now() > deadline) throw o.onTimeout();
    heartbeat(o.details);
    await pause(Math.min(o.everyMs, Math.max(1, deadline - Date.now() + 1)));
  }
}
