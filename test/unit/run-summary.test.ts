// The static summary and details a starter gives a run for the Web UI (scripts/lib/run-summary.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeRequestTarget, runMetadata, runSummary } from '../../scripts/lib/run-summary';

const pitr = 'perconaPointInTimeRecovery';

describe('run summary', () => {
  test('one line: runbook, cluster, target, incident', () => {
    assert.equal(
      runSummary({
        kind: pitr,
        workflowId: 'pitr-shop-INC-42',
        request: { cluster: 'shop', target: { type: 'gtid', gtid: '0-1-4005', exclusive: true } },
        incident: { id: 'INC-42' },
      }),
      'perconaPointInTimeRecovery · cluster shop · to GTID 0-1-4005 (exclusive) · INC-42',
    );
    assert.equal(
      runSummary({
        kind: pitr,
        workflowId: 'p',
        request: { cluster: 'shop', mode: 'plan', target: { type: 'time', time: '2026-11-22T03:12:00Z' } },
      }),
      'perconaPointInTimeRecovery · cluster shop · to 2026-11-22T03:12:00Z · plan only',
    );
  });

  test('each runbook says its target from the field its request uses', () => {
    const t = (kind: string, request: Record<string, unknown>) => describeRequestTarget(kind, request);
    assert.equal(
      t(pitr, { target: { type: 'position', file: 'mysql-bin.000004', position: 4121 } }),
      'to mysql-bin.000004:4121',
    );
    assert.equal(t(pitr, { target: { type: 'latest' } }), 'to the latest transaction');
    assert.equal(
      t('ndbPointInTimeRecovery', { failurePoint: { type: 'epoch', epoch: '4294967297' } }),
      'failure point at epoch 4294967297',
    );
    assert.equal(
      t('vitessSnapshotRestore', { snapshotTime: '2026-11-22T03:12:00Z' }),
      'snapshot at 2026-11-22T03:12:00Z',
    );
    assert.equal(t('ndbChannelFailover', { form: 'epoch' }), 'channel failover (epoch)');
    assert.equal(t('perconaRollback', { recoveryId: 'pitr-shop-INC-42' }), 'roll back pitr-shop-INC-42');
    // A target the catalog holds (Tungsten's backup), or one of an unknown shape: not said, not guessed.
    assert.equal(t('tungstenExternalRestore', { cluster: 'db2' }), undefined);
    assert.equal(t(pitr, { target: { type: 'someday' } }), undefined);
    assert.equal(
      runSummary({ kind: 'tungstenExternalRestore', workflowId: 'w', request: { cluster: 'db2' } }),
      'tungstenExternalRestore · cluster db2',
    );
  });

  test('text from a sender stays one bounded line and cannot add markup', () => {
    const m = runMetadata({
      kind: pitr,
      workflowId: 'w',
      request: { cluster: 'shop', target: { type: 'gtid', gtid: '0-1-9' } },
      incident: { id: 'INC-7\n**evil**', title: `[click](http://x) <img src=x> ${'y'.repeat(500)}` },
      startedBy: 'incident webhook (key pager)',
    });
    assert.doesNotMatch(m.staticSummary, /\n/);
    assert.match(m.staticSummary, /· INC-7 \\\*\\\*evil\\\*\\\*$/);
    const incident = m.staticDetails.split('\n').find((l) => l.startsWith('**Incident**'))!;
    assert.ok(incident.includes('\\[click\\](http://x) \\<img src=x\\>'), incident);
    assert.ok(incident.length < 300, `bounded: ${incident.length}`);
    assert.match(incident, /…  $/);
  });

  test('the details name the procedure, the approval rule and how to follow the run', () => {
    const d = runMetadata({
      kind: pitr,
      workflowId: 'pitr-shop-INC-42',
      request: { cluster: 'shop', target: { type: 'gtid', gtid: '0-1-4005' } },
      startedBy: 'runbook CLI (ana, signed)',
    }).staticDetails.split('  \n');
    assert.deepEqual(d, [
      '**Runbook** perconaPointInTimeRecovery — Percona operator point-in-time recovery',
      '**Cluster** shop (fleet catalog entry)',
      '**Target** to GTID 0-1-4005',
      '**Started by** runbook CLI (ana, signed)',
      '**Approval** as the fleet catalog entry requires (a waiting step and its command show in Current details)',
      '**Follow** `runbook status pitr-shop-INC-42 --watch`; the step table is under Current details',
    ]);
  });
});
