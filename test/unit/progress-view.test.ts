import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  formatBytes,
  formatDuration,
  renderBar,
  renderSteps,
  sampleFrom,
} from '../../scripts/lib/progress-view';

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
});
