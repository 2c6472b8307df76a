// A refusal (a catalogued, non-retryable failure) logs as one "refused: …" line at the level asked
// for, without the stack; a retryable failure or an uncatalogued error still logs in full.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { RefusalLogger, refusalOf } from '../../workers/refusal-logger';
import { failure } from '../../workflows/failures';

function capture(level: 'INFO' | 'WARN' = 'WARN') {
  const entries: LogEntry[] = [];
  return { entries, logger: new DefaultLogger(level, (e) => entries.push(e)) };
}

test('a refused activity is one line at the refusal level, the stack left out', () => {
  const { entries, logger } = capture('INFO');
  const refusal = failure(
    'VerificationFailed',
    'restored data differs: shop.orders has 599 rows, expected 600',
  );
  new RefusalLogger(logger, 'INFO').warn('Activity failed', {
    activityType: 'verifyRestore',
    error: refusal,
  });
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.level, 'INFO');
  assert.equal(
    entries[0]!.message,
    'refused: verifyRestore VerificationFailed: restored data differs: shop.orders has 599 rows, expected 600',
  );
  assert.equal(entries[0]!.meta, undefined);
});

test('below the logger level (the tests: INFO under WARN) a refusal prints nothing; a workflow failed by one too', () => {
  const { entries, logger } = capture('WARN');
  const l = new RefusalLogger(logger, 'INFO');
  l.warn('Activity failed', { error: failure('VerificationFailed', 'x') });
  const wrapped = Object.assign(new Error('Activity task failed'), {
    cause: failure('VerificationFailed', 'x'),
  });
  l.warn('Workflow failed', { error: wrapped, workflowType: 'perconaPointInTimeRecovery' });
  assert.deepEqual(entries, []);
});

test('real errors still print in full: retryable, uncatalogued, and other messages', () => {
  const { entries, logger } = capture('WARN');
  const l = new RefusalLogger(logger, 'INFO');
  const retryable = ApplicationFailure.create({
    type: 'VerificationFailed',
    message: 'x',
    nonRetryable: false,
  });
  l.warn('Activity failed', { error: retryable });
  l.warn('Activity failed', { error: ApplicationFailure.nonRetryable('boom', 'SomethingUncatalogued') });
  l.warn('Activity failed', { error: new TypeError('undefined is not a function') });
  l.error('Workflow task failed', { error: failure('VerificationFailed', 'x') });
  assert.deepEqual(
    entries.map((e) => [e.level, e.message, !!e.meta?.error]),
    [
      ['WARN', 'Activity failed', true],
      ['WARN', 'Activity failed', true],
      ['WARN', 'Activity failed', true],
      ['ERROR', 'Workflow task failed', true],
    ],
  );
  assert.equal(refusalOf(new TypeError('x')), null);
});

test("a workflow's failure copied out of its worker thread (its type lost) is one line at the refusal level", () => {
  const { entries, logger } = capture('INFO');
  const copied = new Error("invalid request: startedBy: the signature is not bob's\nmore");
  new RefusalLogger(logger, 'INFO').warn('Workflow failed', {
    error: copied,
    workflowType: 'perconaPointInTimeRecovery',
    workflowId: 'w1',
  });
  assert.deepEqual(
    entries.map((e) => [e.level, e.message, e.meta]),
    [
      [
        'INFO',
        "workflow failed: perconaPointInTimeRecovery invalid request: startedBy: the signature is not bob's",
        { workflowId: 'w1' },
      ],
    ],
  );
});
