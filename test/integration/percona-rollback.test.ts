// After a Percona recovery fails at any step (or completes), its failure says what it changed, and
// perconaRollback puts production back as it was before the run: the live source (process adapter,
// restoring its own datadir) answers again with the GTID state and the table checksums it had, the
// restored datadir is kept aside, no temporary mysqld is left, and the recoveryId cannot be reused.
// Failures are injected with failpoints (activities/runtime/failpoints.ts): a step fails for good right after
// it changed the world, as a real failure would leave it; the replay failure is a real one (an update
// the restored data cannot apply).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import type { RollbackResult } from '../../workflows/percona-rollback';
import { runtimeDir } from '../../activities/mysql/mysqld';
import { statePath } from '../../activities/runtime/state-dir';
import { livePid } from '../../activities/runtime/processes';
import { fingerprint, gtidPos } from '../../scripts/lib/scenario';
import { recordAccident, useStandIns, type Accident } from '../support/percona-scenario';
import {
  startWorker,
  temporalAddress,
  testClient,
  uniqueQueue,
  type RunningWorker,
} from '../support/temporal';
import { saveHistory } from '../../scripts/lib/history';
import { historiesDir } from '../support/histories';
import { runWorkflow, runWorkflowExpectingFailure } from '../support/workflows';
import { catalogRequest } from '../support/fleet';

useStandIns();
let acc: Accident;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
let productionGtid = '';

before(async () => {
  acc = await recordAccident({ afterBackup: 300 });
  productionGtid = await gtidPos(acc.source.server);
  worker = await startWorker(uniqueQueue('rollback'));
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  delete process.env.RUNBOOK_FAILPOINTS;
  await worker?.stop();
  await closeClient?.();
  await acc?.cleanup();
});

function cluster() {
  const s = acc.source.server;
  return {
    adapter: 'process',
    name: 'shop',
    pidFile: s.pidFile,
    start: s.argv,
    connection: acc.source.endpoint,
  };
}

function recovery(recoveryId: string, extra: Record<string, unknown> = {}) {
  return {
    recoveryId,
    cluster: cluster(),
    backup: { dir: acc.backupDir },
    restore: { datadir: acc.source.server.datadir },
    archive: { kind: 'fs', dir: acc.source.archiveDir },
    target: { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
    verify: { schemas: ['shop'] },
    heartbeatTimeout: '10s',
    ...extra,
  };
}

/** Production as it was before any recovery: the same GTID state and tables, answering. */
async function productionIsBack(): Promise<void> {
  await acc.source.sql.closeAll();
  assert.ok(await acc.source.server.pid(), 'the source runs');
  assert.equal(await gtidPos(acc.source.server), productionGtid);
  assert.deepEqual(await fingerprint(acc.source.sql, acc.source.endpoint), acc.finalTruth);
}

async function rollBack(recoveryId: string, history?: string): Promise<RollbackResult> {
  const workflowId = `${recoveryId}-rollback`;
  const r = await runWorkflow<RollbackResult>(
    client,
    'perconaRollback',
    worker.taskQueue,
    {
      recoveryId,
      cluster: cluster(),
      restore: { datadir: acc.source.server.datadir },
      requireApproval: false,
      heartbeatTimeout: '10s',
    },
    workflowId,
  );
  // With RECORD_HISTORIES=1, the history is saved for the replay suite (test/histories).
  if (history && process.env.RECORD_HISTORIES === '1')
    await saveHistory(temporalAddress(), workflowId, join(historiesDir, `${history}.json`));
  return r;
}

const temporaryMysqld = (recoveryId: string) =>
  livePid(join(runtimeDir({ recoveryId, datadir: acc.source.server.datadir }), 'mysqld.pid'));

/** A failure, what it must say of the world, and what the rollback finds and does. */
const cases: {
  at: string;
  failpoint?: string;
  extra?: Record<string, unknown>;
  says: RegExp[];
  restored: boolean;
}[] = [
  {
    at: 'pause-cluster',
    failpoint: 'pause-cluster',
    says: [
      /^pause-cluster: failpoint/,
      /cluster shop paused by this run/,
      /was not touched by this recovery/,
    ],
    restored: false,
  },
  {
    at: 'restore-backup',
    failpoint: 'restore-backup',
    says: [
      /nothing is at .* yet \(the copy of the backup had not begun\)/,
      /the datadir that was there is kept at .*\.before-/,
    ],
    restored: false,
  },
  {
    at: 'start-temporary-mysqld',
    failpoint: 'start-temporary-mysqld',
    says: [
      /holds the restored backup/,
      /the temporary mysqld is running on the restored datadir \(pid \d+, socket /,
    ],
    restored: true,
  },
  {
    at: 'replay-binlogs (a real failure: an update the restored data cannot apply)',
    extra: { target: { type: 'latest' }, replay: { strategy: 'applier' } },
    says: [
      /^replay-binlogs: replay stopped before/,
      /the temporary mysqld is running/,
      /kept at .*\.before-/,
    ],
    restored: true,
  },
  {
    at: 'verify',
    failpoint: 'verify',
    says: [
      /^verify: failpoint/,
      /the temporary mysqld is running/,
      /this run's staging files are at .*\/staging\/rb-verify/,
    ],
    restored: true,
  },
  {
    at: 'unpause-cluster',
    failpoint: 'unpause-cluster',
    says: [/^unpause-cluster: failpoint/, /no temporary mysqld is running/, /holds the restored backup/],
    restored: true,
  },
];

// One production server: the cases run one after the other.
describe(
  'a failed recovery says what it changed, and rollback puts production back',
  { concurrency: false },
  () => {
    for (const c of cases)
      test(`failure at ${c.at}`, async () => {
        const id = `rb-${c.at.split(' ')[0]}`;
        if (c.failpoint) process.env.RUNBOOK_FAILPOINTS = c.failpoint;
        let f;
        try {
          f = await runWorkflowExpectingFailure(
            client,
            'perconaPointInTimeRecovery',
            worker.taskQueue,
            recovery(id, c.extra),
          );
        } finally {
          delete process.env.RUNBOOK_FAILPOINTS;
        }
        for (const s of c.says) assert.match(f.message, s);
        assert.match(
          f.message,
          new RegExp(`To put production back as it was before this run: runbook rollback ${f.workflowId}`),
        );
        const progress = await client.workflow
          .getHandle(f.workflowId)
          .query<{ changed?: string[] }>('progress');
        assert.ok(
          progress.changed?.some((l) => /paused by this run/.test(l)),
          'progress shows the changes',
        );

        const r = await rollBack(id);
        assert.ok(
          r.steps.every((s) => s.status === 'done' || s.status === 'skipped-by-checkpoint'),
          JSON.stringify(r.steps),
        );
        await productionIsBack();
        assert.equal(await temporaryMysqld(id), null, 'no temporary mysqld left');
        const runtime = runtimeDir({ recoveryId: id, datadir: acc.source.server.datadir });
        assert.equal(await stat(runtime).catch(() => null), null, `${runtime} is left`);
        const staging = statePath('staging', id);
        assert.equal(await stat(staging).catch(() => null), null, `${staging} is left`);
        const aside = `${acc.source.server.datadir}.restored-${id}`;
        if (c.restored) assert.ok((await readdir(aside)).length > 0, 'the restored datadir is kept aside');
        else
          assert.equal(await stat(aside).catch(() => null), null, 'nothing was restored, nothing set aside');
        assert.match(
          r.steps.at(-1)!.evidence.join(' '),
          new RegExp(`GTID state ${productionGtid}, as when the recovery paused it`),
        );

        // The recoveryId is spent: a new run with it is refused before it changes anything.
        const again = await runWorkflowExpectingFailure(
          client,
          'perconaPointInTimeRecovery',
          worker.taskQueue,
          recovery(id),
        );
        assert.match(again.message, /was rolled back at .*Start a new recovery with a new recoveryId/);
        await productionIsBack();
      });

    test('a completed recovery rolled back: production back on the datadir it had before, with its GTID state', async () => {
      const id = 'rb-completed';
      const done = await runWorkflow<PerconaResult>(
        client,
        'perconaPointInTimeRecovery',
        worker.taskQueue,
        recovery(id),
      );
      assert.deepEqual(done.tables, acc.truth);
      const r = await rollBack(id, 'percona-rollback');
      assert.ok(r.steps.every((s) => s.status === 'done' || s.status === 'skipped-by-checkpoint'));
      await productionIsBack();
    });

    test('rollback of a recovery that never changed anything is refused, and changes nothing', async () => {
      const f = await runWorkflowExpectingFailure(client, 'perconaRollback', worker.taskQueue, {
        recoveryId: 'never-ran',
        cluster: cluster(),
        restore: { datadir: acc.source.server.datadir },
        requireApproval: false,
      });
      assert.match(
        f.message,
        /^inspect: recovery never-ran never paused the cluster nor changed .*nothing to roll back/,
      );
      await productionIsBack();
    });

    test('rollback waits for approval of each move of production by default', async () => {
      const id = 'rb-gated';
      process.env.RUNBOOK_FAILPOINTS = 'verify';
      try {
        await runWorkflowExpectingFailure(
          client,
          'perconaPointInTimeRecovery',
          worker.taskQueue,
          recovery(id),
        );
      } finally {
        delete process.env.RUNBOOK_FAILPOINTS;
      }
      const handle = await client.workflow.start('perconaRollback', {
        taskQueue: worker.taskQueue,
        workflowId: `${id}-rollback`,
        args: [
          await catalogRequest('perconaRollback', {
            recoveryId: id,
            cluster: cluster(),
            restore: { datadir: acc.source.server.datadir },
          }),
        ],
      });
      for (const step of ['pause-cluster', 'set-restored-datadir-aside', 'put-back-previous-datadir']) {
        for (let i = 0; i < 200; i++) {
          const p = await handle.query<{ steps: { name: string; status: string }[] }>('progress');
          if (p.steps.find((s) => s.name === step)?.status === 'waiting-approval') break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await handle.executeUpdate('approve', { args: [{ step, approver: 'oncall', reason: 'INC-7' }] });
      }
      await handle.result();
      await productionIsBack();
    });
  },
);

describe('a stale checkpoint never deletes what is now at the datadir', () => {
  test('after an interrupted copy, production moved back into the datadir is moved aside, not deleted', async () => {
    const { inspectBackup, restoreBackup } = await import('../../activities/mysql/backup');
    const backup = await inspectBackup(acc.backupDir, 'mariadb');
    const datadir = join(acc.base, 'stale', 'data');
    const recoveryId = 'stale-checkpoint';
    // An attempt creates the datadir for its copy and is cut short there (its checkpoint stays).
    process.env.RUNBOOK_FAILPOINTS = 'restore-backup';
    await assert.rejects(restoreBackup({ recoveryId, backup, datadir }), /failpoint restore-backup/);
    delete process.env.RUNBOOK_FAILPOINTS;
    // An operator puts production back there meanwhile: another directory at the same path.
    await rm(datadir, { recursive: true });
    await mkdir(datadir);
    await writeFile(join(datadir, 'PRODUCTION'), 'the only copy');
    const r = await restoreBackup({ recoveryId, backup, datadir });
    const evidence = (r.evidence ?? []).join(' ');
    const aside = /moved aside to (\S+), kept/.exec(evidence)?.[1];
    assert.ok(aside, evidence);
    assert.equal(await readFile(join(aside, 'PRODUCTION'), 'utf8'), 'the only copy');
    assert.ok((await readdir(datadir)).includes('ibdata1'), 'the backup was copied back');
  });
});
