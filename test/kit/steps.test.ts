// The kit's steps, fast: statuses in `progress` (done, skipped-by-checkpoint, failed, waiting-host),
// plan mode, failures wrapped with the step's name, host work that no agent takes — fixture runbooks
// with mocked activities on the real dev server.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import {
  progressQuery,
  RunbookKindKey,
  RunbookStepKey,
  ClusterKey,
  RecoveryTargetKey,
} from '../../workflows/kit';
import type { KitResult } from './fixtures/kit-workflows';
import { failureOf, startKitHarness, statuses, waitForStep, type KitHarness, type KitRun } from './support';

let kit: KitHarness;
before(async () => {
  kit = await startKitHarness();
});
after(async () => {
  await kit?.stop();
});

const activities = (run: KitRun) => run.calls().map((c) => c.activity);

test('a step found already done is skipped-by-checkpoint with its evidence; Runbook.skip marks a step not needed', async () => {
  const run = await kit.start(
    { skipResume: 'nothing to resume: the cluster was paused before this run' },
    { pause: () => ({ skipped: true, evidence: ['kit-cluster already paused (checkpoint)'] }) },
  );
  const r = (await run.handle.result()) as KitResult;
  assert.deepEqual(statuses(r), {
    inspect: 'done',
    pause: 'skipped-by-checkpoint',
    restore: 'done',
    resume: 'skipped-by-checkpoint',
  });
  const step = (name: string) => r.steps.find((s) => s.name === name)!;
  assert.deepEqual(step('pause').evidence, ['kit-cluster already paused (checkpoint)']);
  assert.ok(step('pause').startedAt && step('pause').endedAt, 'a checkpointed step still ran its check');
  assert.deepEqual(step('resume').evidence, ['nothing to resume: the cluster was paused before this run']);
  assert.equal(step('resume').startedAt, undefined);
  assert.deepEqual(activities(run), ['inspect', 'pause', 'restore']);
  assert.deepEqual(r.changed, [], 'a skipped pause changed nothing');
  const p = await run.handle.query(progressQuery);
  assert.deepEqual(statuses(p), statuses(r));
  assert.equal(p.currentStep, null);
  assert.equal(p.changed, undefined);
});

test('plan mode runs the read-only step only: no destructive activity, no approval wait', async () => {
  const run = await kit.start({ mode: 'plan', requireApproval: true, approvalTimeout: '1s' });
  const r = (await run.handle.result()) as KitResult;
  assert.equal(r.mode, 'plan');
  assert.deepEqual(r.destructiveSteps, ['pause', 'restore']);
  assert.deepEqual(statuses(r), { inspect: 'done', pause: 'pending', restore: 'pending', resume: 'pending' });
  assert.deepEqual(activities(run), ['inspect']);
  const p = await run.handle.query(progressQuery);
  assert.equal(p.mode, 'plan');
  assert.equal(p.kind, 'kitRunbook');
  assert.equal(p.recoveryId, run.workflowId, 'without a recoveryId, the workflow id names the recovery');
  const sa = (await run.handle.describe()).typedSearchAttributes;
  assert.deepEqual(
    [sa.get(RunbookKindKey), sa.get(ClusterKey), sa.get(RecoveryTargetKey)],
    ['kitRunbook', 'kit-cluster', 'kit-target'],
  );
});

test('a runbook that reaches a destructive step in plan mode is stopped there by the kit (RunbookBug), nothing run', async () => {
  const run = await kit.start({ mode: 'plan', planGoesOn: true });
  const chain = await failureOf(run.handle);
  assert.equal(chain[0]?.type, 'RunbookBug');
  assert.match(chain[0]?.message ?? '', /plan mode reached the destructive step pause/);
  assert.deepEqual(activities(run), ['inspect']);
});

test("a failing step fails the run as StepFailed with the step's name; the steps after it stay pending", async () => {
  const run = await kit.start(
    { recoveryId: 'kit-failing-step' },
    {
      restore: () => {
        throw ApplicationFailure.nonRetryable('datadir /var/lib/mysql is not empty', 'DatadirNotEmpty');
      },
    },
  );
  const chain = await failureOf(run.handle);
  assert.deepEqual(chain[0], {
    name: 'ApplicationFailure',
    type: 'StepFailed',
    message: 'restore: datadir /var/lib/mysql is not empty',
    details: [{ step: 'restore' }],
  });
  // The activity's own failure is kept as the cause.
  assert.deepEqual(
    chain.slice(1).map((l) => [l.name, l.type]),
    [
      ['ActivityFailure', undefined],
      ['ApplicationFailure', 'DatadirNotEmpty'],
    ],
  );
  assert.deepEqual(activities(run), ['inspect', 'pause', 'restore']);
  const p = await run.handle.query(progressQuery);
  assert.equal(p.recoveryId, 'kit-failing-step');
  assert.deepEqual(statuses(p), { inspect: 'done', pause: 'done', restore: 'failed', resume: 'pending' });
  const restore = p.steps.find((s) => s.name === 'restore')!;
  assert.equal(restore.error, 'datadir /var/lib/mysql is not empty');
  assert.ok(restore.startedAt && restore.endedAt);
  assert.equal(p.steps.find((s) => s.name === 'resume')!.startedAt, undefined);
  assert.equal(p.currentStep, null);
  assert.deepEqual(p.changed, ['kit-cluster paused by this run']);
});

test('a step the runbook does not list, or a recoveryId that cannot name files, ends the run before any activity', async () => {
  const unknown = await kit.start({}, {}, 'kitUnknownStep');
  assert.equal((await failureOf(unknown.handle))[0]?.message, 'runbook bug: unknown step no-such-step');

  const bad = await kit.start({ recoveryId: 'a/../../etc' });
  const chain = await failureOf(bad.handle);
  assert.equal(chain[0]?.type, 'InvalidInput');
  assert.match(chain[0]!.message, /^invalid input: the workflow id "a\/..\/..\/etc" cannot name a recovery/);
  assert.deepEqual(activities(bad), []);
});

test('host work nobody takes shows waiting-host naming the host, then fails HostUnavailable after hostTimeout', async () => {
  const run = await kit.start({ restoreHost: 'ghost', hostTimeout: '3s' });
  const queue = `${kit.taskQueue}.host.ghost`;
  const { step, progress } = await waitForStep(
    run.handle,
    'restore',
    (s) => s.status === 'waiting-host',
    'waiting on its host',
  );
  assert.equal(step.waitingOn, `host ghost (task queue ${queue})`);
  assert.deepEqual(
    step.hostWork?.map((w) => [w.host, w.queue, w.activity, w.state]),
    [['ghost', queue, 'restore', 'waiting']],
  );
  assert.equal(progress.currentStep, 'restore');
  assert.equal(
    (await run.handle.describe()).typedSearchAttributes.get(RunbookStepKey),
    'restore:waiting-host:ghost',
  );

  const chain = await failureOf(run.handle);
  assert.equal(chain[0]?.type, 'StepFailed');
  assert.match(
    chain[0]!.message,
    new RegExp(
      `^restore: host ghost did not take restore within 3s: no agent polls its task queue ${queue}\\.`,
    ),
  );
  assert.equal(chain[1]?.type, 'HostUnavailable');
  assert.match(chain[1]!.message, /nothing of this step ran elsewhere$/);
  assert.deepEqual(activities(run), ['inspect', 'pause'], 'restore ran nowhere');
  // It was scheduled on the host's queue only, with hostTimeout as its schedule-to-start timeout, and timed out there.
  const events = (await run.handle.fetchHistory()).events ?? [];
  const scheduled = events
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === 'restore');
  assert.deepEqual(
    scheduled.map((a) => [a?.taskQueue?.name, Number(a?.scheduleToStartTimeout?.seconds)]),
    [[queue, 3]],
  );
  assert.equal(events.filter((e) => e.activityTaskStartedEventAttributes).length, 2, 'inspect and pause');
  assert.equal(events.filter((e) => e.activityTaskTimedOutEventAttributes).length, 1);

  const p = await run.handle.query(progressQuery);
  assert.deepEqual(statuses(p), { inspect: 'done', pause: 'done', restore: 'failed', resume: 'pending' });
  const failed = p.steps.find((s) => s.name === 'restore')!;
  assert.equal(failed.waitingOn, undefined);
  assert.equal(failed.hostWork, undefined);
  assert.match(failed.error ?? '', /^host ghost did not take restore within 3s/);
});

test("when the host's agent takes the work, the step is running there (hostWorkStarted), then done", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const run = await kit.start(
    { restoreHost: 'db2', hostTimeout: '1m' },
    {
      restore: async () => {
        await released;
        return { evidence: ['restored on db2'] };
      },
    },
  );
  await waitForStep(run.handle, 'restore', (s) => s.status === 'waiting-host', 'waiting on its host');
  const agent = await kit.startAgent('db2', 'agent-db2');
  try {
    const { step } = await waitForStep(
      run.handle,
      'restore',
      (s) => s.status === 'running' && s.hostWork?.[0]?.state === 'running',
      'running on its host',
    );
    assert.deepEqual(
      step.hostWork?.map((w) => [w.host, w.activity, w.state, w.agent]),
      [['db2', 'restore', 'running', 'agent-db2']],
    );
    assert.equal(step.waitingOn, undefined);
    assert.equal((await run.handle.describe()).typedSearchAttributes.get(RunbookStepKey), 'restore');
    release();
    const r = (await run.handle.result()) as KitResult;
    assert.deepEqual(statuses(r), { inspect: 'done', pause: 'done', restore: 'done', resume: 'done' });
    const restore = r.steps.find((s) => s.name === 'restore')!;
    assert.deepEqual(restore.evidence, ['restored on db2']);
    assert.equal(restore.hostWork, undefined);
    const taken = run.calls().find((c) => c.activity === 'restore')!;
    assert.deepEqual([taken.identity, taken.taskQueue], ['agent-db2', `${kit.taskQueue}.host.db2`]);
    assert.ok(
      run.calls().every((c) => c.activity === 'restore' || c.identity === 'kit-controller'),
      'the rest ran on the workflow queue',
    );
  } finally {
    release();
    await agent.stop();
  }
});
