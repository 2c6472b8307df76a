// What the Web UI shows of a run as it goes (workflows/run-details.ts, workflows/run-metadata.ts): the
// kit's Current details follow every step and approval and end with the outcome; every activity call
// carries a summary naming its step — fixture runbooks with mocked activities on the real dev server.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow';
import { approveUpdate } from '../../workflows/kit';
import { failureOf, startKitHarness, waitForStep, type KitHarness } from './support';

let kit: KitHarness;
before(async () => {
  kit = await startKitHarness();
});
after(async () => {
  await kit?.stop();
});

/** The run's Current details, as the Web UI reads them (the SDK's built-in metadata query). */
async function currentDetails(handle: WorkflowHandle): Promise<string> {
  const m = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return m.currentDetails ?? '';
}

/** The summaries of the activities the run scheduled, in order, from its history. */
async function activitySummaries(handle: WorkflowHandle): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (const e of (await handle.fetchHistory()).events ?? []) {
    if (!e.activityTaskScheduledEventAttributes) continue;
    const p = e.userMetadata?.summary;
    out.push(
      p ? ((await decodeOptionalSinglePayload(kit.client.options.loadedDataConverter, p)) as string) : null,
    );
  }
  return out;
}

test('the details follow the approval gate, then end with the outcome; each activity names its step', async () => {
  const run = await kit.start({ requireApproval: true });
  await waitForStep(run.handle, 'pause', (s) => s.status === 'waiting-approval', 'waiting for approval');
  const waiting = await currentDetails(run.handle);
  assert.match(waiting, /^\*\*kitRunbook\*\* · cluster \*\*kit-cluster\*\* · target `kit-target`/);
  assert.match(waiting, /\| 1 \| `inspect` \| ✔ done \|/);
  assert.match(waiting, /\| 2 \| `pause` ⚠ \| ⏸ waiting for approval \|/);
  assert.match(waiting, /### ⏸ Waiting for approval: `pause`/);
  assert.match(waiting, /waits for \*\*1 more approval\*\* \(1 needed\)/);
  assert.ok(
    waiting.includes(
      `runbook approve ${run.workflowId} \\\n  --step pause --reason <why> --approver <you>\n`,
    ),
  );

  await run.handle.executeUpdate(approveUpdate, {
    args: [{ step: 'pause', approver: 'ana', reason: 'INC-1' }],
  });
  await waitForStep(run.handle, 'restore', (s) => s.status === 'waiting-approval', 'waiting for approval');
  const next = await currentDetails(run.handle);
  assert.match(next, /\| 2 \| `pause` ⚠ \| ✔ done \| pause done \(pause\) \(\+1 more\) \|/);
  assert.match(next, /### ⏸ Waiting for approval: `restore`/);
  assert.doesNotMatch(next, /Waiting for approval: `pause`/);

  await run.handle.executeUpdate(approveUpdate, {
    args: [{ step: 'restore', approver: 'ana', reason: 'INC-1' }],
  });
  await run.handle.result();
  const done = await currentDetails(run.handle);
  assert.match(done, /\| 4 \| `resume` \| ✔ done \|/);
  assert.match(done, /### ✔ Completed$/);
  assert.doesNotMatch(done, /Waiting for approval/);
  assert.deepEqual(await activitySummaries(run.handle), [
    'inspect — inspect',
    'pause — pause',
    'restore — restore',
    'resume — resume',
  ]);
});

test('a failed step ends the details with the failure; a plan ends them saying nothing was changed', async () => {
  const failed = await kit.start(
    {},
    {
      restore: () => {
        throw ApplicationFailure.nonRetryable('copy-back stopped: disk full');
      },
    },
  );
  await failureOf(failed.handle);
  const f = await currentDetails(failed.handle);
  assert.match(f, /\| 3 \| `restore` ⚠ \| ✖ failed \| error: copy-back stopped: disk full \|/);
  assert.match(f, /### ✖ Failed\n\nrestore: copy-back stopped: disk full$/);

  const plan = await kit.start({ mode: 'plan' });
  await plan.handle.result();
  const p = await currentDetails(plan.handle);
  assert.match(p, / · plan only\n/);
  assert.match(p, /### Plan ready \(nothing was changed\)$/);
});
