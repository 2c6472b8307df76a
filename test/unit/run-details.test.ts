// The markdown a run shows in the Web UI as its Current details (workflows/run-details.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RunbookProgress, StepState } from '../../workflows/kit';
import {
  activitySummary,
  approvalCommands,
  renderOutcome,
  renderRunDetails,
  renderStepTable,
  shortEvidence,
} from '../../workflows/run-details';

const step = (name: string, over: Partial<StepState> = {}): StepState => ({
  name,
  destructive: false,
  status: 'pending',
  evidence: [],
  ...over,
});

function waitingRun(): RunbookProgress {
  return {
    kind: 'perconaPointInTimeRecovery',
    recoveryId: 'pitr-shop-INC-42',
    mode: 'run',
    currentStep: 'pause-cluster',
    steps: [
      step('locate-binlogs', {
        status: 'done',
        evidence: [
          'backup /backups/full (0-1-2500)',
          'replay mysql-bin.000002 … mysql-bin.000004 to 0-1-4004',
        ],
      }),
      step('fetch-backup', {
        status: 'skipped-by-checkpoint',
        evidence: ['the backup is a local directory'],
      }),
      step('pause-cluster', {
        destructive: true,
        status: 'waiting-approval',
        approvalDigest: 'sha256:abc',
        approvalsNeeded: 2,
        approvals: [{ step: 'pause-cluster', approver: 'bob', reason: 'INC-42' }],
      }),
      step('restore-backup', { destructive: true }),
    ],
  };
}

describe('run details', () => {
  test('the step table lists every step in order with its status and its last evidence line', () => {
    const table = renderStepTable(waitingRun().steps).split('\n');
    assert.deepEqual(table.slice(0, 2), ['| # | step | status | evidence |', '|---|---|---|---|']);
    assert.equal(
      table[2],
      '| 1 | `locate-binlogs` | ✔ done | replay mysql-bin.000002 … mysql-bin.000004 to 0-1-4004 (+1 more) |',
    );
    assert.equal(table[3], '| 2 | `fetch-backup` | ↷ skipped | the backup is a local directory |');
    assert.equal(table[4], '| 3 | `pause-cluster` ⚠ | ⏸ waiting for approval |  |');
    assert.equal(table[5], '| 4 | `restore-backup` ⚠ | pending |  |');
    assert.equal(table.length, 6);
  });

  test('a waiting signed approval says how many signatures are missing, who may sign, and both commands', () => {
    const md = renderRunDetails({
      workflowId: 'pitr-shop-INC-42',
      progress: waitingRun(),
      cluster: 'shop',
      target: 'gtid:0-1-4005:exclusive',
      approvers: (s) => (s === 'pause-cluster' ? ['carol'] : []),
    });
    assert.match(
      md,
      /^\*\*perconaPointInTimeRecovery\*\* · cluster \*\*shop\*\* · target `gtid:0-1-4005:exclusive` · recovery pitr-shop-INC-42\n/,
    );
    assert.match(md, /### ⏸ Waiting for approval: `pause-cluster`/);
    assert.match(
      md,
      /waits for \*\*1 more signed approval\*\* \(2 needed; given by bob\)\. May approve: carol\./,
    );
    assert.ok(
      md.includes(
        '```sh\n' +
          'runbook approve pitr-shop-INC-42 \\\n' +
          '  --step pause-cluster --reason <why> --approver <you> --key <you>.key\n' +
          'temporal workflow update execute --workflow-id pitr-shop-INC-42 --name approve \\\n' +
          '  --input "$(runbook approve pitr-shop-INC-42 --step pause-cluster --reason <why> --approver <you> --key <you>.key --print)"\n' +
          '```',
      ),
      md,
    );
    assert.doesNotMatch(md, /Completed|Failed/);
  });

  test('an unsigned approval shows the Update input itself', () => {
    assert.deepEqual(approvalCommands('run-1', 'restore-backup', false), [
      'runbook approve run-1 \\\n  --step restore-backup --reason <why> --approver <you>',
      'temporal workflow update execute --workflow-id run-1 --name approve \\\n' +
        `  --input '{"step":"restore-backup","approver":"<you>","reason":"<why>"}'`,
    ]);
  });

  test('the outcome closes the details; a failed step shows its error instead of evidence', () => {
    const p = waitingRun();
    p.steps[2] = step('pause-cluster', {
      destructive: true,
      status: 'failed',
      error: 'not approved within 2s',
    });
    const md = renderRunDetails({
      workflowId: 'w',
      progress: { ...p, currentStep: null },
      cluster: 'shop',
      target: 'latest',
      outcome: { status: 'failed', message: 'pause-cluster: not approved within 2s' },
    });
    assert.match(md, /\| 3 \| `pause-cluster` ⚠ \| ✖ failed \| error: not approved within 2s \|/);
    assert.match(md, /### ✖ Failed\n\npause-cluster: not approved within 2s$/);
    assert.doesNotMatch(md, /Waiting for approval/);
    // A run that ended before its runbook opened has only its outcome to show.
    assert.equal(
      renderOutcome({ status: 'failed', message: 'invalid input: target.gtid: not a | GTID' }),
      '### ✖ Failed\n\ninvalid input: target.gtid: not a \\| GTID',
    );
    assert.equal(renderOutcome({ status: 'cancelled' }), '### ✖ Cancelled');
  });

  test('text from outside cannot break the table or the code block', () => {
    const s = step('verify', { status: 'done', evidence: ['a | b\nc `x` *y* ' + 'z'.repeat(300)] });
    const cellText = shortEvidence(s);
    assert.doesNotMatch(cellText, /(?<!\\)\|/);
    assert.doesNotMatch(cellText, /\n/);
    assert.ok(cellText.length <= 160, `cut: ${cellText.length}`);
    assert.match(cellText, /…$/);
    const md = renderRunDetails({
      workflowId: "odd ```id'",
      progress: { ...waitingRun(), recoveryId: 'r' },
      cluster: 'shop',
      target: 'latest',
    });
    // The fence is longer than any backtick run inside it; the id is shell-quoted.
    assert.match(md, /\n````sh\n/);
    assert.ok(md.includes(`runbook approve 'odd \`\`\`id'\\''' \\\n  --step pause-cluster`), md);
  });

  test('the same progress renders the same text', () => {
    const d = { workflowId: 'w', progress: waitingRun(), cluster: 'shop', target: 'latest' };
    assert.equal(renderRunDetails(d), renderRunDetails(structuredClone(d)));
  });

  test('an activity summary names its step and the host that runs it', () => {
    assert.equal(
      activitySummary('restore-backup', 'restoreBackup', 'mysql-runbooks.host.db2'),
      'restore-backup — restore backup (host db2)',
    );
    assert.equal(
      activitySummary('verify', 'fingerprintTables', 'mysql-runbooks'),
      'verify — fingerprint tables',
    );
    assert.equal(activitySummary(null, 'readCatalogEntry'), 'read catalog entry');
  });
});
