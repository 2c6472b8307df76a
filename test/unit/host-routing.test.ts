// Host routing, the parts that need no server: every activity is placed, inputs name hosts and the
// host timeout in forms an operator can fix, and `runbook status` shows a step waiting on a host.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ACTIVITY_PLACEMENT,
  CONTROLLER_ACTIVITIES,
  createActivities,
  HOST_ACTIVITIES,
  SQL_ACTIVITIES,
} from '../../activities';
import { PerconaPitrInput } from '../../workflows/schemas';
import { hostQueueName, sqlRunsOn } from '../../workflows/routing';
import { renderSteps } from '../../scripts/lib/progress-view';
import type { RunbookProgress } from '../../workflows/kit';

const minimal = (extra: Record<string, unknown> = {}) => ({
  cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'shop', host: 'db1' },
  backup: { dir: '/backups/full' },
  restore: { datadir: '/var/lib/mysql', host: 'db2' },
  archive: { kind: 'fs', dir: '/srv/binlogs' },
  target: { type: 'latest' },
  ...extra,
});

describe('placement', () => {
  test("every activity is host work, SQL or the controller's own, one of them only", () => {
    const all = Object.keys(createActivities()).sort();
    assert.deepEqual(Object.keys(ACTIVITY_PLACEMENT).sort(), all);
    assert.deepEqual([...HOST_ACTIVITIES, ...SQL_ACTIVITIES, ...CONTROLLER_ACTIVITIES].sort(), all);
    // The fleet catalog is resolved where workflows run, never on a host agent; so is a drill's
    // catalog section, its marker on the source, its record and its signed alert.
    assert.deepEqual(CONTROLLER_ACTIVITIES, ['resolveRequest', 'prepareDrill', 'recordDrill', 'alertDrill']);
    assert.ok(
      HOST_ACTIVITIES.includes('restoreBackup') && HOST_ACTIVITIES.includes('initialRestartDataNode'),
    );
    assert.ok(SQL_ACTIVITIES.includes('findLatestEpoch') && !SQL_ACTIVITIES.includes('replayBinlogs'));
  });

  test("a host's queue hangs under the controller's; SQL goes to a host only for a unix socket", () => {
    assert.equal(hostQueueName('mysql-runbooks', 'db2'), 'mysql-runbooks.host.db2');
    assert.equal(sqlRunsOn('db2', { socket: '/run/mysqld/mysqld.sock' }), 'db2');
    assert.equal(sqlRunsOn('db2', {}), undefined);
  });
});

describe('inputs', () => {
  test('hosts are accepted, and hostTimeout defaults to 10m', () => {
    const r = PerconaPitrInput.parse(minimal());
    assert.equal(r.cluster.host, 'db1');
    assert.equal(r.restore.host, 'db2');
    assert.equal(r.hostTimeout, '10m');
    assert.equal(PerconaPitrInput.parse(minimal({ hostTimeout: '90s' })).hostTimeout, '90s');
  });

  test('a host name that cannot name a queue, or a malformed hostTimeout, is refused', () => {
    const bad = PerconaPitrInput.safeParse(minimal({ restore: { datadir: '/var/lib/mysql', host: 'db 2' } }));
    assert.ok(!bad.success);
    assert.deepEqual(bad.error.issues[0]?.path, ['restore', 'host']);
    const t = PerconaPitrInput.safeParse(minimal({ hostTimeout: 'soon' }));
    assert.ok(!t.success);
    assert.match(t.error.issues[0]?.message ?? '', /use a duration like/);
  });
});

test('runbook status shows which host a step waits on', () => {
  const p: RunbookProgress = {
    kind: 'perconaPointInTimeRecovery',
    recoveryId: 'r1',
    mode: 'run',
    currentStep: 'restore-backup',
    steps: [
      {
        name: 'restore-backup',
        destructive: true,
        status: 'waiting-host',
        startedAt: '2026-11-22T00:00:00Z',
        evidence: [],
        waitingOn: 'host db2 (task queue mysql-runbooks.host.db2)',
      },
    ],
  };
  assert.match(
    renderSteps(p, Date.parse('2026-11-22T00:01:00Z')),
    /⧗ restore-backup waiting-host .*1m00s ⚠ waiting for host db2 \(task queue mysql-runbooks\.host\.db2\)/,
  );
});
