import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  formatBytes,
  formatDuration,
  renderBar,
  renderSteps,
  sampleFrom,
} from '../../scripts/lib/progress-view';
import { wrapText } from '../../scripts/lib/text-table';
import type { RunbookProgress } from '../../workflows/kit';

describe('progress view', () => {
  test('bytes and durations read like a person writes them', () => {
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(36_574_941), '36.6 MB');
    assert.equal(formatBytes(2_500_000_000), '2.5 GB');
    assert.equal(formatDuration(4_000), '4s');
    assert.equal(formatDuration(125_000), '2m05s');
    assert.equal(formatDuration(3_780_000), '1h03m');
  });

  test('the bar shows the fraction, the rate between two samples and the time left', () => {
    const first = { at: 0, done: 10_000_000, total: 100_000_000, unit: 'bytes' as const };
    const now = { at: 10_000, done: 30_000_000, total: 100_000_000, unit: 'bytes' as const }; // 20 MB in 10 s → 2 MB/s; 70 MB left → 35 s
    assert.equal(renderBar(now, first, 10), '[###.......]  30% 30.0 MB/100 MB  2.0 MB/s  ETA 35s');
    const tx = { at: 4_000, done: 12_000, total: 40_000, unit: 'transactions' as const }; // 12,000 tx in 4 s → 3,000 tx/s; 28,000 left → 9 s
    assert.equal(
      renderBar(tx, { ...tx, at: 0, done: 0 }, 10),
      '[###.......]  30% 12,000 tx/40,000 tx  3,000 tx/s  ETA 9s',
    );
    assert.match(renderBar(first, first, 10), /ETA \?$/, 'no rate from a single sample');
  });

  test('a sample is read from the replay heartbeat, and nothing else is taken for one', () => {
    assert.deepEqual(
      sampleFrom({ step: 'replay-binlogs', transactionsApplied: 5, transactionsTotal: 10 }, 7),
      {
        at: 7,
        done: 5,
        total: 10,
        unit: 'transactions',
      },
    );
    assert.deepEqual(sampleFrom({ bytesStreamed: 5, bytesTotal: 10 }, 7), {
      at: 7,
      done: 5,
      total: 10,
      unit: 'bytes',
    });
    assert.equal(sampleFrom({ waitingFor: 'mysqld' }, 7), null);
    assert.equal(sampleFrom(null, 7), null);
  });

  test('the steps table marks each status and destructive step, and shows evidence or the error', () => {
    const text = renderSteps(
      {
        kind: 'perconaPointInTimeRecovery',
        recoveryId: 'r1',
        mode: 'run',
        currentStep: 'replay-binlogs',
        steps: [
          {
            name: 'restore-backup',
            destructive: true,
            status: 'skipped-by-checkpoint',
            evidence: ['restored earlier'],
            startedAt: '2026-01-01T00:00:00Z',
            endedAt: '2026-01-01T00:00:02Z',
          },
          { name: 'replay-binlogs', destructive: false, status: 'failed', evidence: [], error: 'ERROR 1032' },
          { name: 'verify', destructive: false, status: 'pending', evidence: [] },
        ],
      },
      Date.parse('2026-01-01T00:00:05Z'),
    );
    const lines = text.split('\n');
    assert.equal(lines[0], 'perconaPointInTimeRecovery r1');
    assert.match(lines[1]!, /^↷ restore-backup +skipped-by-checkpoint +2s ⚠ restored earlier$/);
    assert.match(lines[2]!, /^✖ replay-binlogs +failed .* ERROR 1032$/);
    assert.match(lines[3]!, /^· verify +pending/);
  });

  const gated: RunbookProgress = {
    kind: 'perconaPointInTimeRecovery',
    recoveryId: 'r2',
    mode: 'run',
    currentStep: 'pause-cluster',
    steps: [
      {
        name: 'verify',
        destructive: false,
        status: 'done',
        evidence: [
          '2 table(s), 1000 row(s) fingerprinted',
          'shop.orders: 600 rows (expected 600), checksum 3141592653 (expected 3141592653)',
          'shop.items: 400 rows (expected 400), checksum 2718281828 (expected 2718281828)',
        ],
      },
      { name: 'pause-cluster', destructive: true, status: 'waiting-approval', evidence: [] },
    ],
  };

  test('evidence wraps at the pane width instead of being cut: every word is there, no line is wider', () => {
    for (const width of [80, 30]) {
      const text = renderSteps(gated, 0, width);
      // In a pane narrower than the step columns, the evidence goes on indented lines of its own.
      for (const line of text.split('\n').filter((l) => width > 40 || l.startsWith(' ')))
        assert.ok(line.length <= width, `${width}: ${JSON.stringify(line)}`);
      const words = (t: string) => t.split(/\s+/).filter(Boolean);
      const shown = words(text).join(' ');
      for (const e of gated.steps[0]!.evidence)
        assert.ok(shown.includes(words(e).join(' ')), `${width}: ${e}`);
      assert.doesNotMatch(text, /…/);
    }
    const lines = renderSteps(gated, 0, 80).split('\n');
    assert.match(lines[1]!, /^✔ verify +done +2 table\(s\), 1000 row\(s\)$/);
    const column = lines[1]!.indexOf('2 table(s)');
    assert.equal(
      lines[2]!.indexOf('fingerprinted'),
      column,
      'continuations line up under the evidence column',
    );
  });

  test("a run cancelled while a step waited for approval shows the step cancelled, not 'waiting-approval'", () => {
    const text = renderSteps(gated, 0, 120, 'CANCELLED');
    assert.match(text.split('\n')[0]!, /r2 — cancelled$/);
    assert.match(text, /⊘ pause-cluster +cancelled +⚠ run cancelled while waiting for approval/);
    assert.doesNotMatch(text, /waiting-approval/);
    assert.match(text, /✔ verify +done/, 'a finished step keeps its status');
    assert.match(renderSteps(gated, 0, 120, 'RUNNING'), /⏸ pause-cluster +waiting-approval/);
    assert.match(renderSteps(gated, 0, 120, 'TERMINATED'), /⊘ pause-cluster +terminated/);
  });

  test('wrapText keeps every character, breaks at spaces, and splits only a word longer than a line', () => {
    assert.deepEqual(wrapText('aaa bbb ccc', 7), ['aaa bbb', 'ccc']);
    assert.deepEqual(wrapText('abcdefghij', 4), ['abcd', 'efgh', 'ij']);
    assert.deepEqual(wrapText('', 10), ['']);
    assert.deepEqual(wrapText('short', 80), ['short']);
  });
});
