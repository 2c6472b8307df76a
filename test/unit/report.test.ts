// The recovery report (workflows/report-*.ts): what it says of a run, and that text from the run stays
// text in both renderings.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RunbookProgress } from '../../workflows/kit';
import { buildReport, type ReportSource } from '../../workflows/report-model';
import { renderMarkdown } from '../../workflows/report-markdown';
import { renderHtml } from '../../workflows/report-html';

const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)> | # ` "quoted" \'q\'';

function progress(evidence = 'copied back /backups/full'): RunbookProgress {
  return {
    kind: 'perconaPointInTimeRecovery',
    recoveryId: 'inc-42',
    mode: 'run',
    currentStep: null,
    steps: [
      {
        name: 'locate-binlogs',
        destructive: false,
        status: 'done',
        startedAt: '2026-12-07T10:00:00.000Z',
        endedAt: '2026-12-07T10:00:02.500Z',
        evidence: ['backup /backups/full at mysql-bin.000002:4121 (GTID 0-1-10)', 'replay 3 file(s)'],
      },
      {
        name: 'restore-backup',
        destructive: true,
        status: 'done',
        startedAt: '2026-12-07T10:01:00.000Z',
        endedAt: '2026-12-07T10:03:05.000Z',
        evidence: ['approved by ana (unsigned: the catalog names no approvers): INC-42', evidence],
        approvals: [{ step: 'restore-backup', approver: 'ana', reason: 'INC-42 restore' }],
      },
      {
        name: 'verify',
        destructive: false,
        status: 'done',
        startedAt: '2026-12-07T10:04:00.000Z',
        endedAt: '2026-12-07T10:04:01.000Z',
        evidence: ['proof: 682 of 682 transactions of the window applied once, in order'],
      },
      { name: 'unpause-cluster', destructive: false, status: 'pending', evidence: [] },
    ],
  };
}

const source = (over: Partial<ReportSource> = {}): ReportSource => ({
  workflowId: 'inc-42',
  kind: 'perconaPointInTimeRecovery',
  status: 'COMPLETED',
  cluster: 'shop',
  target: 'gtid:0-1-700',
  progress: progress(),
  result: {
    replay: { stateBefore: '0-1-10', stateAfter: '0-1-700', transactionsApplied: 690 },
    tables: { 'shop.orders': { rows: 1000, checksum: 12345 }, 'shop.items': { rows: 7, checksum: 99 } },
  },
  approvalTimes: [{ step: 'restore-backup', approver: 'ana', at: '2026-12-07T10:00:59.000Z' }],
  expected: { 'shop.orders': { rows: 1000, checksum: 12345 }, 'shop.items': { rows: 8, checksum: 99 } },
  ...over,
});

describe('recovery report', () => {
  test('the model has the plan, durations, approvals with their time, the proof and the figures', () => {
    const r = buildReport(source(), '2026-12-07T11:00:00.000Z');
    assert.deepEqual(r.plan, progress().steps[0]!.evidence);
    assert.deepEqual(
      r.steps.map((s) => [s.name, s.durationMs]),
      [
        ['locate-binlogs', 2500],
        ['restore-backup', 125_000],
        ['verify', 1000],
        ['unpause-cluster', undefined],
      ],
    );
    assert.deepEqual(r.approvals, [
      {
        step: 'restore-backup',
        approver: 'ana',
        at: '2026-12-07T10:00:59.000Z',
        reason: 'INC-42 restore',
        signed: false,
      },
    ]);
    assert.deepEqual(r.proof, ['proof: 682 of 682 transactions of the window applied once, in order']);
    assert.deepEqual(r.figures, [
      { table: 'shop.items', expected: { rows: 8, checksum: 99 }, observed: { rows: 7, checksum: 99 } },
      {
        table: 'shop.orders',
        expected: { rows: 1000, checksum: 12345 },
        observed: { rows: 1000, checksum: 12345 },
      },
    ]);
    assert.deepEqual(r.replay, { stateBefore: '0-1-10', stateAfter: '0-1-700', transactionsApplied: 690 });
  });

  test('markdown: the timeline with durations, who approved what and when, and the figures that differ', () => {
    const md = renderMarkdown(buildReport(source(), '2026-12-07T11:00:00.000Z'));
    assert.match(md, /^# Recovery report: perconaPointInTimeRecovery inc-42$/m);
    assert.match(
      md,
      /\| 2 \| restore-backup ⚠ \| ✔ done \| 2026-12-07T10:01:00.000Z \| 2026-12-07T10:03:05.000Z \| 2m05s \|/,
    );
    assert.match(md, /\| 1 \| locate-binlogs \| ✔ done \| .* \| 3s \|/);
    assert.match(md, /\| restore-backup \| ana \| 2026-12-07T10:00:59.000Z \| no \| {2}\| INC-42 restore \|/);
    assert.match(md, /\| shop\.items \| 8 rows, checksum 99 \| 7 rows, checksum 99 \| \*\*NO\*\* \|/);
    assert.match(md, /\| shop\.orders \| 1000 rows, checksum 12345 \| 1000 rows, checksum 12345 \| yes \|/);
    assert.match(md, /GTID state after the replay: 0-1-700/);
    assert.match(md, /^- proof: 682 of 682 transactions/m);
  });

  test('a signed approval says what its signature covered: the digest of what the step waited on', () => {
    const p = progress();
    p.steps[1] = {
      ...p.steps[1]!,
      approvalDigest: 'c0ffee00112233445566778899aabbccddeeff',
      approvals: [
        {
          step: 'restore-backup',
          approver: 'bob',
          reason: 'INC-42',
          signature: 'c2lnbmF0dXJl',
          expiresAt: '2026-12-07T10:30:00.000Z',
        },
      ],
    };
    const r = buildReport(source({ progress: p }), '2026-12-07T11:00:00.000Z');
    assert.equal(r.approvals[0]?.digest, 'c0ffee00112233445566778899aabbccddeeff');
    assert.match(
      renderMarkdown(r),
      /\| bob \| .* \| yes: Ed25519 over run, step, reason and digest c0ffee0011223344…, verified by the run \| 2026-12-07T10:30:00\.000Z \|/,
    );
    assert.match(renderHtml(r), /yes: Ed25519 over run, step, reason and digest c0ffee0011223344…/);
  });

  test('a failed run says why, and shows the failed step and what it changed', () => {
    const p = progress();
    p.steps[2] = { ...p.steps[2]!, status: 'failed', error: 'row counts differ', evidence: [] };
    p.changed = ['cluster shop paused by this run'];
    const r = buildReport(
      source({ status: 'FAILED', progress: p, result: undefined, failure: 'verify: row counts differ' }),
      '2026-12-07T11:00:00.000Z',
    );
    assert.equal(r.outcome, 'verify: row counts differ');
    const md = renderMarkdown(r);
    assert.match(md, /\| 3 \| verify \| ✖ failed \| .* \| \*\*error:\*\* row counts differ \|/);
    assert.match(md, /## What the run changed\n\n- cluster shop paused by this run/);
    assert.match(renderHtml(r), /class="badge st-FAILED">FAILED</);
  });

  test('hostile evidence stays text: no tag, no attribute, no table break in either rendering', () => {
    const r = buildReport(source({ progress: progress(HOSTILE), cluster: '<b>x</b>' }), 'now');
    const html = renderHtml(r);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img/i);
    assert.doesNotMatch(html, /<b>x/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;&lt;img src=x onerror=alert\(2\)&gt;/);
    assert.match(html, /&quot;quoted&quot; &#39;q&#39;/);
    // No script can run even if something slipped through: the page forbids every source but inline CSS.
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'/);
    assert.doesNotMatch(html, /<link|src="http|href="http/);
    const md = renderMarkdown(r);
    assert.doesNotMatch(md, /<script|<img/);
    const row = md.split('\n').find((l) => l.startsWith('| 2 |'))!;
    assert.equal(row.split(/(?<!\\)\|/).length, 9, 'the pipe in the evidence does not split the row');
  });
});
