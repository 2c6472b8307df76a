// Where a run's report is saved as it ends (activities/report/save-report.ts, workflows/report-at-end.ts):
// beside the ledger when the run made one, else in the worker's state directory; never over another run's.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveRunReport } from '../../activities/report/save-report';
import { stateRoot } from '../../activities/runtime/state-dir';
import { buildReport } from '../../workflows/report-model';
import { datadirOf } from '../../workflows/report-at-end';

const base = await mkdtemp(join(tmpdir(), 'save-report-'));
after(() => rm(base, { recursive: true, force: true }));

const report = (recoveryId: string, kind = 'perconaPointInTimeRecovery') =>
  buildReport(
    {
      workflowId: recoveryId,
      kind,
      status: 'COMPLETED',
      progress: {
        kind,
        recoveryId,
        mode: 'run',
        currentStep: null,
        steps: [{ name: 'verify', destructive: false, status: 'done', evidence: ['proof: 3 of 3'] }],
      },
    },
    '2026-12-07T11:00:00.000Z',
  );

describe('saving the report of a run', () => {
  test('beside the ledger when the run made one; a rollback beside it, not over it', async () => {
    const datadir = join(base, 'a', 'data');
    await mkdir(`${datadir}.runbook-ledger`, { recursive: true });
    const saved = await saveRunReport({ report: report('inc-1'), datadir });
    assert.deepEqual(saved.files, [
      `${datadir}.runbook-ledger/inc-1.report.md`,
      `${datadir}.runbook-ledger/inc-1.report.html`,
    ]);
    assert.match(await readFile(saved.files[0]!, 'utf8'), /proof: 3 of 3/);
    const rollback = await saveRunReport({ report: report('inc-1', 'perconaRollback'), datadir });
    assert.equal(rollback.files[0], `${datadir}.runbook-ledger/inc-1.rollback.report.md`);
    assert.match(await readFile(saved.files[0]!, 'utf8'), /perconaPointInTimeRecovery/);
  });

  test('without a ledger: in the state directory, and nothing made beside the datadir', async () => {
    const datadir = join(base, 'b', 'data');
    const saved = await saveRunReport({ report: report('inc-2'), datadir });
    assert.equal(saved.files[0], join(stateRoot(), 'reports', 'inc-2.report.md'));
    assert.equal(await stat(join(base, 'b')).catch(() => null), null);
    assert.equal(
      (await saveRunReport({ report: report('inc-3') })).files[0],
      join(stateRoot(), 'reports', 'inc-3.report.md'),
    );
  });

  test('a recoveryId that is not one names no file', async () => {
    await assert.rejects(saveRunReport({ report: report('../../etc/x') }), /not a recoveryId/);
  });

  test('which datadir each runbook keeps its ledger beside', () => {
    const restore = { host: 'db2', datadir: '/var/lib/mysql' };
    assert.deepEqual(datadirOf('perconaPointInTimeRecovery', { restore, restoreTo: 'in-place' }), restore);
    assert.deepEqual(
      datadirOf('perconaPointInTimeRecovery', {
        restore,
        restoreTo: 'spare',
        newServers: { spare: { host: 'db9', datadir: '/srv/spare', port: 3307 } },
      }),
      { host: 'db9', datadir: '/srv/spare' },
    );
    assert.deepEqual(datadirOf('perconaRollback', { restore }), restore);
    assert.deepEqual(datadirOf('tungstenExternalRestore', { replica: { datadir: '/data/r' } }), {
      datadir: '/data/r',
    });
    assert.deepEqual(datadirOf('ndbPointInTimeRecovery', { restore }), {});
  });
});
