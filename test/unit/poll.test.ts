// The activity runtime's wait (activities/runtime/poll.ts): a poll inside an activity stops at once
// when the activity is cancelled, instead of running to its own timeout; outside one it still works.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { pause, poll } from '../../activities/runtime/poll';

test('a cancelled activity leaves its poll at the next pause, long before the timeout', async () => {
  const env = new MockActivityEnvironment();
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  let checks = 0;
  const t0 = Date.now();
  const running = env.run(() =>
    poll({
      check: async () => {
        checks++;
        return undefined; // never ready
      },
      timeoutMs: 60_000,
      everyMs: 5_000,
      details: { waitingFor: 'a server that never comes' },
      onTimeout: () => new Error('timed out'),
    }),
  );
  setTimeout(() => env.cancel('CANCELLED'), 100);
  await assert.rejects(running, (err: unknown) => err instanceof CancelledFailure);
  assert.ok(Date.now() - t0 < 3_000, `took ${Date.now() - t0} ms`);
  assert.equal(checks, 1);
  assert.deepEqual(beats, [{ waitingFor: 'a server that never comes' }]);
});

test('a poll returns the first answer, and times out with its own message', async () => {
  let n = 0;
  assert.equal(
    await poll({
      check: async () => (++n === 3 ? 'ready' : undefined),
      timeoutMs: 5_000,
      everyMs: 5,
      details: {},
      onTimeout: () => new Error('x'),
    }),
    'ready',
  );
  await assert.rejects(
    poll({
      check: async () => undefined,
      timeoutMs: 30,
      everyMs: 10,
      details: {},
      onTimeout: () => new Error('waited 30 ms for nothing'),
    }),
    /waited 30 ms for nothing/,
  );
  await pause(1); // outside an activity: a plain sleep
});
