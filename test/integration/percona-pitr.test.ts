// perconaPointInTimeRecovery on real MariaDB servers, a real archive and real base backups.
// The Kubernetes adapter talks to a stand-in kubectl (test/fixtures/bin/kubectl); everything else is real.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Client } from '@temporalio/client';
import {
  approveUpdate,
  ClusterKey,
  progressQuery,
  RecoveryTargetKey,
  RunbookKindKey,
  RunbookStepKey,
} from '../../workflows/kit';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { Ledger } from '../../activities/runtime/ledger';
import { S3Archive } from '../../activities/archive/archive-s3';
import { refreshIndex } from '../../activities/archive/archive-index';
import {
  recordAccident,
  standInCluster,
  temporaryServerOf,
  useStandIns,
  type Accident,
} from '../support/percona-scenario';
import { startSeaweedS3, type SeaweedS3 } from '../support/seaweedfs';
import {
  startWorker,
  temporalAddress,
  testClient,
  uniqueQueue,
  type RunningWorker,
} from '../support/temporal';
import { saveHistory } from '../../scripts/lib/history';
import { historiesDir } from '../support/histories';
import { IN_PLACE } from '../../workflows/percona-new-server';
import { runWorkflow, runWorkflowExpectingFailure, updateRejection } from '../support/workflows';
import { catalogRequest } from '../support/fleet';

useStandIns();

/** With RECORD_HISTORIES=1, saves the run's history for the replay suite (test/histories). */
async function recordHistory(workflowId: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  await saveHistory(temporalAddress(), workflowId, join(historiesDir, `${name}.json`));
}
const TYPE = 'perconaPointInTimeRecovery';
let acc: Accident;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
let kubectlState: string;
let n = 0;

/** An input that restores into a fresh datadir of its own, pausing the stand-in Kubernetes cluster. */
function k8sInput(target: object, extra: Record<string, unknown> = {}) {
  n++;
  return {
    cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'shop' },
    backup: { dir: acc.backupDir },
    restore: { datadir: join(acc.base, `restore-${n}`, 'data') },
    archive: { kind: 'fs', dir: acc.source.archiveDir },
    verify: { schemas: ['shop'] },
    heartbeatTimeout: '10s',
    target,
    ...extra,
  };
}

before(async () => {
  acc = await recordAccident();
  kubectlState = await standInCluster(join(acc.base, 'k8s'), 'shop');
  worker = await startWorker(uniqueQueue('percona'));
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  await worker?.stop();
  await closeClient?.();
  await acc?.cleanup();
});

describe('recovers to the point just before the accident', () => {
  test('by time: the restored tables equal the source just before the DROP', async () => {
    const id = `percona-time-${Date.now()}`;
    const r = await runWorkflow<PerconaResult>(
      client,
      TYPE,
      worker.taskQueue,
      k8sInput({ type: 'time', time: acc.beforeAccident }),
      id,
    );
    assert.deepEqual(r.tables, acc.truth);
    assert.equal(r.plan.replay.stopGtid, acc.lastGoodGtid);
    // The plan says out loud where the whole-second cut falls: the DROP, stamped in the target's
    // second, is named as left out; the last good transaction as the last applied.
    const plan = r.steps.find((s) => s.name === 'locate-binlogs')!.evidence.join('\n');
    assert.match(plan, new RegExp(`binlog time has whole seconds.*the last applied is ${acc.lastGoodGtid} `));
    assert.match(
      plan,
      new RegExp(`left out, stamped in the target's second \\(\\d+\\): ${acc.dropGtid} \\(.*"DROP TABLE`),
    );
    assert.equal(r.plan.replay.sameSecond?.left[0]?.gtid, acc.dropGtid);
    // The run is findable by its typed search attributes.
    const sa = (await client.workflow.getHandle(id).describe()).typedSearchAttributes;
    assert.equal(sa.get(RunbookKindKey), TYPE);
    assert.equal(sa.get(ClusterKey), 'shop');
    assert.equal(sa.get(RecoveryTargetKey), `time:${acc.beforeAccident}`);
    assert.equal(sa.get(RunbookStepKey), 'unpause-cluster');
    assert.deepEqual(
      r.steps.filter((s) => s.name !== 'start-new-server' && s.name !== 'fetch-backup').map((s) => s.status),
      Array(8).fill('done'),
    );
    // A prepared directory needs no fetch (the step is shown skipped, saying why).
    assert.match(
      r.steps.find((s) => s.name === 'fetch-backup')?.evidence.join(' ') ?? '',
      /nothing to fetch/,
    );
    // In place: no new server (its step is skipped, saying why).
    assert.deepEqual(
      r.steps.filter((s) => s.name === 'start-new-server').map((s) => [s.status, s.evidence]),
      [['skipped-by-checkpoint', [IN_PLACE]]],
    );
    // The stand-in cluster was paused and then unpaused again.
    const calls = (await readFile(`${kubectlState}.log`, 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"patch"'));
    assert.deepEqual(
      calls.map((l) => /pause\\":(true|false)/.exec(l)?.[1]),
      ['true', 'false'],
    );
  });

  test('by GTID, exclusive: stops right before the DROP transaction', async () => {
    const id = `percona-gtid-${Date.now()}`;
    const input = k8sInput({ type: 'gtid', gtid: acc.dropGtid, exclusive: true });
    const r = await runWorkflow<PerconaResult>(client, TYPE, worker.taskQueue, input, id);
    assert.deepEqual(r.tables, acc.truth);
    assert.equal(r.replay?.stateAfter, acc.lastGoodGtid);
    // A completed run leaves no temporary directory: staging and the temporary mysqld's runtime dir.
    assert.equal(await stat(r.plan.stagingDir).catch(() => null), null, `${r.plan.stagingDir} is left`);
    const runtime = dirname(temporaryServerOf(id, input.restore.datadir).socket!);
    assert.equal(await stat(runtime).catch(() => null), null, `${runtime} is left`);
    await recordHistory(id, 'percona-pitr-gtid-exclusive');
  });

  test('by GTID, inclusive: the last good transaction is applied, the DROP is not', async () => {
    const r = await runWorkflow<PerconaResult>(
      client,
      TYPE,
      worker.taskQueue,
      k8sInput({ type: 'gtid', gtid: acc.lastGoodGtid }),
    );
    assert.deepEqual(r.tables, acc.truth);
  });

  test('by position: applies the events before the DROP event', async () => {
    const r = await runWorkflow<PerconaResult>(
      client,
      TYPE,
      worker.taskQueue,
      k8sInput({ type: 'position', ...acc.dropPosition }),
    );
    assert.deepEqual(r.tables, acc.truth);
  });

  test('from an S3 archive (SeaweedFS), credentials by reference: same result', async () => {
    let s3: SeaweedS3 | undefined;
    try {
      s3 = await startSeaweedS3({ bucket: 'binlogs' });
      const archive = new S3Archive({
        bucket: 'binlogs',
        prefix: 'shop',
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentials: s3,
      });
      for (const f of (await acc.source.archive.readIndex()).files)
        await archive.putFile(f.name, join(acc.source.archiveDir, f.name));
      await refreshIndex(archive, join(acc.base, 's3-staging'));
      process.env.TEST_S3_KEY_ID = s3.accessKeyId;
      process.env.TEST_S3_SECRET = s3.secretAccessKey;
      const input = k8sInput(
        { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
        {
          archive: {
            kind: 's3',
            bucket: 'binlogs',
            prefix: 'shop',
            endpoint: s3.endpoint,
            accessKeyId: { env: 'TEST_S3_KEY_ID' },
            secretAccessKey: { env: 'TEST_S3_SECRET' },
            stagingDir: join(acc.base, 'staging'),
          },
        },
      );
      const r = await runWorkflow<PerconaResult>(client, TYPE, worker.taskQueue, input);
      assert.deepEqual(r.tables, acc.truth);
      assert.doesNotMatch(JSON.stringify(r), new RegExp(s3.secretAccessKey));
    } finally {
      await s3?.stop();
    }
  });
});

describe('plan mode and approval', () => {
  test('plan mode returns the plan and touches nothing', async () => {
    const input = k8sInput({ type: 'time', time: acc.beforeAccident }, { mode: 'plan' });
    const before = await readFile(kubectlState, 'utf8');
    const r = await runWorkflow<PerconaResult>(client, TYPE, worker.taskQueue, input);
    assert.equal(r.mode, 'plan');
    assert.equal(r.plan.replay.stopGtid, acc.lastGoodGtid);
    assert.deepEqual(r.plan.replay.files, ['mysql-bin.000002', 'mysql-bin.000003', 'mysql-bin.000004']);
    assert.deepEqual(r.destructiveSteps, ['pause-cluster', 'restore-backup']);
    assert.deepEqual(
      r.steps.filter((s) => s.status !== 'pending').map((s) => s.name),
      ['locate-binlogs'],
    );
    assert.equal(await stat(input.restore.datadir).catch(() => null), null);
    assert.equal(await readFile(kubectlState, 'utf8'), before);
  });

  test('destructive steps wait for the approve Update; a wrong step is rejected', async () => {
    const input = k8sInput({ type: 'gtid', gtid: acc.dropGtid, exclusive: true }, { requireApproval: true });
    const workflowId = `approval-${Date.now()}`;
    const handle = await client.workflow.start(TYPE, {
      taskQueue: worker.taskQueue,
      workflowId,
      args: [await catalogRequest(TYPE, input)],
    });
    let p = await handle.query(progressQuery);
    for (let i = 0; i < 100 && p.currentStep !== 'pause-cluster'; i++) {
      await acc.sleep(100);
      p = await handle.query(progressQuery);
    }
    assert.equal(p.steps.find((s) => s.name === 'pause-cluster')?.status, 'waiting-approval');
    assert.match(
      await updateRejection(
        handle.executeUpdate(approveUpdate, {
          args: [{ step: 'replay-binlogs', approver: 'ana', reason: 'x' }],
        }),
      ),
      /not destructive/,
    );
    assert.match(
      await updateRejection(
        handle.executeUpdate(approveUpdate, { args: [{ step: 'restore-it', approver: 'ana', reason: 'x' }] }),
      ),
      /no step named "restore-it"/,
    );
    assert.match(
      await updateRejection(
        handle.executeUpdate(approveUpdate, { args: [{ step: 'pause-cluster', approver: '', reason: 'x' }] }),
      ),
      /needs an approver/,
    );
    assert.equal(
      await stat(input.restore.datadir).catch(() => null),
      null,
      'nothing restored before approval',
    );
    await handle.executeUpdate(approveUpdate, {
      args: [{ step: 'pause-cluster', approver: 'ana', reason: 'INC-42' }],
    });
    await handle.executeUpdate(approveUpdate, {
      args: [{ step: 'restore-backup', approver: 'ana', reason: 'INC-42' }],
    });
    const r = (await handle.result()) as PerconaResult;
    assert.deepEqual(r.tables, acc.truth);
    assert.equal(r.steps.find((s) => s.name === 'restore-backup')?.approval?.reason, 'INC-42');
    await recordHistory(workflowId, 'percona-pitr-approval');
  });
  test('a pause not approved in time ends the run saying nothing was changed (not that the cluster may be stopped)', async () => {
    const input = k8sInput(
      { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
      { requireApproval: true, approvalTimeout: '2s' },
    );
    const before = await readFile(kubectlState, 'utf8');
    const handle = await client.workflow.start(TYPE, {
      taskQueue: worker.taskQueue,
      workflowId: `approval-timeout-${Date.now()}`,
      args: [await catalogRequest(TYPE, input)],
    });
    const err = await handle.result().then(
      () => assert.fail('a run nobody approved succeeded'),
      (e: unknown) => e as Error,
    );
    const message = rootCauseChain(err);
    assert.match(message, /pause-cluster: not approved within 2s/);
    assert.match(message, /Nothing was changed: the run stopped before pausing the cluster/);
    assert.doesNotMatch(message, /may be stopped|To put production back/);
    assert.equal(await readFile(kubectlState, 'utf8'), before, 'the cluster resource is untouched');
    assert.equal(await stat(input.restore.datadir).catch(() => null), null);
  });
  test('a run cancelled while its pause waits for approval says nothing was changed, read from the restore host', async () => {
    const input = k8sInput({ type: 'gtid', gtid: acc.dropGtid, exclusive: true }, { requireApproval: true });
    const before = await readFile(kubectlState, 'utf8');
    const handle = await client.workflow.start(TYPE, {
      taskQueue: worker.taskQueue,
      workflowId: `approval-cancel-${Date.now()}`,
      args: [await catalogRequest(TYPE, input)],
    });
    let p = await handle.query(progressQuery);
    for (
      let i = 0;
      i < 100 && p.steps.find((s) => s.name === 'pause-cluster')?.status !== 'waiting-approval';
      i++
    ) {
      await acc.sleep(100);
      p = await handle.query(progressQuery);
    }
    await handle.cancel();
    const err = await handle.result().then(
      () => assert.fail('a cancelled run succeeded'),
      (e: unknown) => e as Error,
    );
    const message = rootCauseChain(err);
    assert.match(message, /cancel/i);
    assert.equal((err.cause as { type?: string } | undefined)?.type, 'Cancelled');
    // The restore host is asked what it holds even though the run's scope is cancelled.
    assert.doesNotMatch(message, /did not say what it holds|may be stopped|To put production back/);
    assert.match(message, /Nothing was changed/);
    assert.equal(await readFile(kubectlState, 'utf8'), before, 'the cluster resource is untouched');
    assert.equal(await stat(input.restore.datadir).catch(() => null), null);
  });
});

/** Every message along a failure's cause chain, outermost first. */
function rootCauseChain(err: unknown): string {
  const out: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) out.push(e.message);
  return out.join('\n');
}

describe('latest and force', () => {
  test('latest without force stops at the statement that cannot apply, naming its GTID, file and position', async () => {
    // The pipe's message (the applier's is in replay-applier.test.ts).
    const input = k8sInput({ type: 'latest' }, { replay: { strategy: 'pipe' } });
    const f = await runWorkflowExpectingFailure(client, TYPE, worker.taskQueue, input);
    const m =
      /^replay-binlogs: replay stopped before (\S+) \((mysql-bin\.\d+):(\d+)\): mariadb exited with code 1: ERROR 1032 .*Can't find record in 'customers'/.exec(
        f.message,
      );
    assert.ok(m, f.message);
    assert.equal(m[1], acc.ghostUpdateGtid);
    assert.doesNotMatch(f.message, /BINLOG|\n'/, 'the echoed statement is not in the message');
    assert.match(f.message, /GTID state 0-1-\d+/);
    assert.match(f.message, /deterministic: a retry would stop at the same transaction/);
    // Final at its first occurrence: the replay activity ran once, no retry re-applied anything.
    const history = await client.workflow.getHandle(f.workflowId).fetchHistory();
    const attempts = (history.events ?? [])
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
    assert.equal(Math.max(...attempts), 1, 'no activity was retried');
  });

  test('latest with force goes past the failing update and reports it', async () => {
    const r = await runWorkflow<PerconaResult>(
      client,
      TYPE,
      worker.taskQueue,
      k8sInput({ type: 'latest' }, { force: true }),
    );
    assert.equal(r.replay?.forcedErrors.length, 1);
    assert.match(r.replay!.forcedErrors[0]!.error, /ERROR 1032/);
    assert.equal(r.replay!.forcedErrors[0]!.gtid, acc.ghostUpdateGtid);
    assert.notEqual(r.replay?.stateAfter, acc.ghostUpdateGtid, 'the failed transaction logged no GTID');
    assert.equal(r.tables?.['shop.orders'], undefined, 'the DROP was replayed too');
    assert.equal(
      r.tables?.['shop.customers']?.rows,
      acc.finalTruth['shop.customers']!.rows - 1,
      'all but the row the binlog never had',
    );
  });
});

describe('process adapter on the live source', () => {
  test('stops the source, restores its own datadir (old one kept aside) and starts it again with the data of just before the DROP', async () => {
    const s = acc.source.server;
    const pidBefore = await s.pid();
    const input = {
      recoveryId: 'restore-source-in-place',
      cluster: {
        adapter: 'process',
        name: 'shop',
        pidFile: s.pidFile,
        start: s.argv,
        connection: acc.source.endpoint,
      },
      backup: { dir: acc.backupDir },
      restore: { datadir: s.datadir },
      archive: { kind: 'fs', dir: acc.source.archiveDir },
      target: { type: 'time', time: acc.beforeAccident },
      verify: { schemas: ['shop'], expected: acc.truth },
    };
    const r = await runWorkflow<PerconaResult>(client, TYPE, worker.taskQueue, input);
    const pidAfter = await s.pid();
    assert.ok(pidAfter && pidAfter !== pidBefore, 'the source runs again as a new process');
    await acc.source.sql.closeAll();
    const live = await import('../../scripts/lib/scenario').then((m) =>
      m.fingerprint(acc.source.sql, acc.source.endpoint),
    );
    assert.deepEqual(live, acc.truth);
    assert.deepEqual(r.tables, acc.truth);
    // The accident's datadir was moved aside, not deleted.
    assert.ok(await stat(`${s.datadir}.before-restore-source-in-place/mysql`));
    const journal = await Ledger.besideDatadir(s.datadir).readJournal('restore-source-in-place');
    assert.equal(journal.filter((l) => l.includes('copy-back finished')).length, 1);
  });
});
