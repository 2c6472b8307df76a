// The kit's approval gate, fast: fixture runbooks with mocked activities on the real dev server.
// Destructive steps wait for the `approve` Update; its validator refuses what is not a waiting (or
// pending) destructive step of this run; signed approvals follow the catalog's policy.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { keyFingerprint, signApproval } from '../../workflows/approval-signature';
import {
  approveUpdate,
  progressQuery,
  RunbookStepKey,
  type Approval,
  type ApprovalPolicy,
} from '../../workflows/kit';
import type { KitResult } from './fixtures/kit-workflows';
import {
  failureOf,
  startKitHarness,
  statuses,
  updateRejection,
  waitForStep,
  type KitHarness,
  type KitRun,
} from './support';

let kit: KitHarness;
before(async () => {
  kit = await startKitHarness();
});
after(async () => {
  await kit?.stop();
});

const approve = (run: KitRun, a: Approval) => run.handle.executeUpdate(approveUpdate, { args: [a] });
const activities = (run: KitRun) => run.calls().map((c) => c.activity);
async function historyEvents(run: KitRun) {
  return (await run.handle.fetchHistory()).events ?? [];
}

test('a destructive step not approved within approvalTimeout fails the run (ApprovalTimeout); its activity never runs', async () => {
  const t0 = Date.now();
  const run = await kit.start({ requireApproval: true, approvalTimeout: '1s' });
  const chain = await failureOf(run.handle);
  assert.ok(Date.now() - t0 >= 1000, 'the run waited the approval timeout out');
  assert.equal(chain[0]?.type, 'ApprovalTimeout');
  assert.equal(
    chain[0]?.message,
    'pause: not approved within 1s; the run stopped before this step and nothing of it was done',
  );
  assert.deepEqual(activities(run), ['inspect']);

  const p = await run.handle.query(progressQuery);
  assert.deepEqual(statuses(p), { inspect: 'done', pause: 'failed', restore: 'pending', resume: 'pending' });
  const pause = p.steps.find((s) => s.name === 'pause')!;
  assert.equal(pause.error, 'not approved within 1s');
  assert.equal(pause.startedAt, undefined, 'the step itself never started');
  // The run no longer looks as if it waited: no current step, the wait's end, the list's attribute.
  assert.equal(p.currentStep, null);
  assert.ok(pause.endedAt, 'the wait ended');
  assert.equal((await run.handle.describe()).typedSearchAttributes.get(RunbookStepKey), 'pause:not-approved');
  assert.deepEqual(pause.evidence, []);
  // The wait was a durable timer of the approval timeout, and it fired.
  const events = await historyEvents(run);
  const timers = events.filter((e) => e.timerStartedEventAttributes);
  assert.equal(timers.length, 1);
  assert.equal(Number(timers[0]!.timerStartedEventAttributes!.startToFireTimeout?.seconds), 1);
  assert.ok(events.some((e) => e.timerFiredEventAttributes));
});

test('an accepted approval lets the waiting step run; the validator refuses unknown, non-destructive and incomplete approvals', async () => {
  const run = await kit.start({ requireApproval: true, approvalTimeout: '1m' });
  const { progress } = await waitForStep(
    run.handle,
    'pause',
    (s) => s.status === 'waiting-approval',
    'waiting for approval',
  );
  assert.equal(progress.currentStep, 'pause');
  assert.deepEqual(statuses(progress), {
    inspect: 'done',
    pause: 'waiting-approval',
    restore: 'pending',
    resume: 'pending',
  });
  assert.deepEqual(activities(run), ['inspect']);

  assert.equal(
    await updateRejection(approve(run, { step: 'nope', approver: 'ann', reason: 'window' })),
    'no step named "nope"; steps: inspect, pause, restore, resume',
  );
  assert.equal(
    await updateRejection(approve(run, { step: 'inspect', approver: 'ann', reason: 'window' })),
    'step inspect is not destructive and needs no approval',
  );
  assert.equal(
    await updateRejection(approve(run, { step: 'pause', approver: '  ', reason: 'window' })),
    'approval needs an approver (text)',
  );
  assert.equal(
    await updateRejection(
      approve(run, { step: 'pause', approver: 42 as unknown as string, reason: 'window' }),
    ),
    'approval needs an approver (text)',
  );
  assert.equal(
    await updateRejection(approve(run, { step: 'pause', approver: 'ann', reason: '' })),
    'approval needs a reason (text)',
  );
  // Nothing of the refused approvals was taken: still waiting, nothing ran, nothing in history.
  const still = await run.handle.query(progressQuery);
  const pauseStill = still.steps.find((s) => s.name === 'pause')!;
  assert.equal(pauseStill.status, 'waiting-approval');
  assert.equal(pauseStill.approvals, undefined);
  assert.deepEqual(activities(run), ['inspect']);

  assert.deepEqual(await approve(run, { step: 'pause', approver: 'ann', reason: 'maintenance window' }), {
    accepted: 'pause',
  });
  // The next destructive step waits for its own approval.
  await waitForStep(run.handle, 'restore', (s) => s.status === 'waiting-approval', 'waiting for approval');
  assert.deepEqual(activities(run), ['inspect', 'pause']);
  assert.equal(
    await updateRejection(approve(run, { step: 'pause', approver: 'ann', reason: 'again' })),
    'step pause is already done',
  );
  await approve(run, { step: 'restore', approver: 'bo', reason: 'restore now' });

  const r = (await run.handle.result()) as KitResult;
  assert.deepEqual(statuses(r), { inspect: 'done', pause: 'done', restore: 'done', resume: 'done' });
  assert.deepEqual(activities(run), ['inspect', 'pause', 'restore', 'resume']);
  assert.deepEqual(r.changed, ['kit-cluster paused by this run']);
  const pause = r.steps.find((s) => s.name === 'pause')!;
  assert.deepEqual(pause.approval, { step: 'pause', approver: 'ann', reason: 'maintenance window' });
  assert.deepEqual(pause.evidence, [
    'approved by ann (unsigned: the catalog names no approvers): maintenance window',
    'pause done (pause)',
  ]);
  // Every activity after an approval carries the run's approvals in its header (workflows/approval-header.ts).
  const approvalsSeen = Object.fromEntries(
    run.calls().map((c) => [c.activity, (c.approvals ?? []).map((a) => `${a.step}:${a.approver}:${a.key}`)]),
  );
  assert.deepEqual(approvalsSeen, {
    inspect: [],
    pause: ['pause:ann:unsigned'],
    restore: ['pause:ann:unsigned', 'restore:bo:unsigned'],
    resume: ['pause:ann:unsigned', 'restore:bo:unsigned'],
  });
  // Only the two accepted approvals reached the history.
  const accepted = (await historyEvents(run)).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
  assert.equal(accepted.length, 2);
});

test('an approval given while its step is still pending is used when the step comes: no second wait', async () => {
  const run = await kit.start({ requireApproval: true, approvalTimeout: '1m' });
  await waitForStep(run.handle, 'pause', (s) => s.status === 'waiting-approval', 'waiting for approval');
  await approve(run, { step: 'restore', approver: 'ann', reason: 'both steps, one window' });
  const early = await run.handle.query(progressQuery);
  assert.equal(early.steps.find((s) => s.name === 'restore')!.status, 'pending');
  await approve(run, { step: 'pause', approver: 'ann', reason: 'both steps, one window' });
  const r = (await run.handle.result()) as KitResult;
  assert.deepEqual(statuses(r), { inspect: 'done', pause: 'done', restore: 'done', resume: 'done' });
  // One approval wait (one timer): pause's; restore went straight on.
  const timers = (await historyEvents(run)).filter((e) => e.timerStartedEventAttributes);
  assert.equal(timers.length, 1);
});

function approver(name: string) {
  const secret = ed25519.utils.randomSecretKey();
  const publicKey = ed25519.getPublicKey(secret);
  return { name, secret, publicKey, entry: { name, publicKey: Buffer.from(publicKey).toString('base64') } };
}

test('signed approvals: only catalog approvers, over this run, step and digest, unexpired; an unsigned start needs one more', async () => {
  const alice = approver('alice');
  const bob = approver('bob');
  const mallory = approver('mallory');
  const policy: ApprovalPolicy = { approvers: [alice.entry, bob.entry], quorum: 1 };
  const run = await kit.start({ requireApproval: true, approvalTimeout: '1m', policy });
  const { step: waiting } = await waitForStep(
    run.handle,
    'pause',
    (s) => s.status === 'waiting-approval',
    'waiting for approval',
  );
  assert.match(waiting.approvalDigest ?? '', /^[0-9a-f]{64}$/);
  assert.equal(waiting.approvalsNeeded, 2, 'quorum 1 + 1: the unsigned start may have been by an approver');
  const inAnHour = new Date(Date.now() + 3600_000).toISOString();
  const signed = (
    who: { name: string; secret: Uint8Array },
    o: { step?: string; digest?: string; expiresAt?: string; signer?: Uint8Array } = {},
  ): Approval => {
    const claim = {
      workflowId: run.workflowId,
      runId: run.runId,
      step: o.step ?? 'pause',
      digest: o.digest ?? waiting.approvalDigest!,
      expiresAt: o.expiresAt ?? inAnHour,
      reason: 'signed for the kit test',
    };
    return {
      step: claim.step,
      approver: who.name,
      reason: claim.reason,
      expiresAt: claim.expiresAt,
      signature: signApproval(o.signer ?? who.secret, claim),
    };
  };

  assert.match(
    await updateRejection(approve(run, { step: 'pause', approver: 'alice', reason: 'unsigned' })),
    /^an approval of this cluster is signed/,
  );
  assert.match(
    await updateRejection(approve(run, signed(mallory))),
    /^"mallory" is not an approver of this cluster in the fleet catalog \(approvers: alice, bob\)/,
  );
  assert.match(
    await updateRejection(approve(run, signed(bob, { signer: alice.secret }))),
    /^the signature is not bob's over this run, step pause and digest/,
  );
  assert.match(
    await updateRejection(approve(run, signed(alice, { digest: '0'.repeat(64) }))),
    /^the signature is not alice's/,
  );
  assert.match(
    await updateRejection(
      approve(run, signed(alice, { expiresAt: new Date(Date.now() - 60_000).toISOString() })),
    ),
    /^the approval expired/,
  );
  assert.equal(
    await updateRejection(
      approve(run, signed(alice, { expiresAt: new Date(Date.now() + 25 * 3600_000).toISOString() })),
    ),
    'an approval may be valid for at most 24 hours',
  );
  assert.match(
    await updateRejection(approve(run, signed(alice, { step: 'restore' }))),
    /^step restore is not waiting for approval/,
  );

  await approve(run, signed(alice));
  assert.match(
    await updateRejection(approve(run, signed(alice))),
    /^alice already approved pause: it needs 2 distinct approvers/,
  );
  const half = await run.handle.query(progressQuery);
  assert.equal(half.steps.find((s) => s.name === 'pause')!.status, 'waiting-approval');
  assert.deepEqual(activities(run), ['inspect']);

  await approve(run, signed(bob));
  const { step: restore } = await waitForStep(
    run.handle,
    'restore',
    (s) => s.status === 'waiting-approval',
    'waiting for approval',
  );
  assert.notEqual(restore.approvalDigest, waiting.approvalDigest, "each step's digest is its own");
  // An approval signed for pause's digest does not approve restore.
  assert.match(
    await updateRejection(approve(run, signed(alice, { step: 'restore' }))),
    /^the signature is not alice's over this run, step restore/,
  );
  await approve(run, signed(alice, { step: 'restore', digest: restore.approvalDigest! }));
  await approve(run, signed(bob, { step: 'restore', digest: restore.approvalDigest! }));
  const r = (await run.handle.result()) as KitResult;
  assert.deepEqual(statuses(r), { inspect: 'done', pause: 'done', restore: 'done', resume: 'done' });

  const pause = r.steps.find((s) => s.name === 'pause')!;
  assert.deepEqual(
    pause.approvals?.map((a) => a.approver),
    ['alice', 'bob'],
  );
  assert.match(
    pause.evidence[0]!,
    new RegExp(`^approved by alice \\(Ed25519 key ${keyFingerprint(alice.publicKey)}, signature verified`),
  );
  // The host journals each approval with the key that signed it.
  const header = run.calls().find((c) => c.activity === 'pause')!.approvals!;
  assert.deepEqual(
    header.map((a) => [a.step, a.approver, a.key, !!a.signature]),
    [
      ['pause', 'alice', keyFingerprint(alice.publicKey), true],
      ['pause', 'bob', keyFingerprint(bob.publicKey), true],
    ],
  );
});

test('a proven starter may not approve its own run; another approver meets the quorum alone', async () => {
  const alice = approver('alice');
  const bob = approver('bob');
  const policy: ApprovalPolicy = { approvers: [alice.entry, bob.entry], quorum: 1, starter: 'alice' };
  const run = await kit.start({ requireApproval: true, approvalTimeout: '1m', policy });
  const { step: waiting } = await waitForStep(
    run.handle,
    'pause',
    (s) => s.status === 'waiting-approval',
    'waiting for approval',
  );
  assert.equal(waiting.approvalsNeeded, 1);
  const sign = (who: typeof alice, step: string, digest: string): Approval => {
    const expiresAt = new Date(Date.now() + 600_000).toISOString();
    const claim = { workflowId: run.workflowId, runId: run.runId, step, digest, expiresAt, reason: 'go' };
    return { step, approver: who.name, reason: 'go', expiresAt, signature: signApproval(who.secret, claim) };
  };
  assert.match(
    await updateRejection(approve(run, sign(alice, 'pause', waiting.approvalDigest!))),
    /^alice started this run: the catalog does not let the starter approve it/,
  );
  await approve(run, sign(bob, 'pause', waiting.approvalDigest!));
  const { step: restore } = await waitForStep(
    run.handle,
    'restore',
    (s) => s.status === 'waiting-approval',
    'waiting for approval',
  );
  await approve(run, sign(bob, 'restore', restore.approvalDigest!));
  const r = (await run.handle.result()) as KitResult;
  assert.deepEqual(statuses(r), { inspect: 'done', pause: 'done', restore: 'done', resume: 'done' });
});
