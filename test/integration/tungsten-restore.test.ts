// tungstenExternalRestore on two real MariaDB servers (Primary and Replica) and a real mariadb-backup of
// the Primary. trepctl/thl/dsctl are stand-ins (test/fixtures/bin) that keep trep_commit_seqno in the
// real Replica and apply the Primary's real binlog; ground truth is read from the Primary. The Primary's
// steps run on a host agent of their own ("db1"), whose stand-ins answer as the Primary's host: thl
// there reads the Primary's THL, thl on the Replica the Replica's own.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { approveUpdate, progressQuery } from '../../workflows/kit';
import type { TungstenResult } from '../../workflows/tungsten-external-restore';
import { Ledger } from '../../activities/runtime/ledger';
import { useStandIns } from '../support/percona-scenario';
import { tungstenScenario, type TungstenScenario } from '../../scripts/lib/worlds/tungsten';
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
import { spawnHostAgent, type WorkerProcess } from '../support/worker-process';

useStandIns();

const TYPE = 'tungstenExternalRestore';
let sc: TungstenScenario;
let worker: RunningWorker;
let primaryAgent: WorkerProcess;
let client: Client;
let closeClient: () => Promise<void>;

/** With RECORD_HISTORIES=1, saves the run's history for the replay suite (test/histories). */
async function recordHistory(workflowId: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  await saveHistory(temporalAddress(), workflowId, join(historiesDir, `${name}.json`));
}

function input(extra: Record<string, unknown> = {}) {
  const r = sc.world.replica;
  return {
    service: 'alpha',
    replica: {
      name: 'db2',
      datadir: r.datadir,
      pidFile: r.pidFile,
      start: r.argv,
      connection: sc.world.replicaEndpoint,
    },
    primary: { host: 'db1' },
    backup: { dir: sc.backupDir },
    verify: { schemas: ['shop'] },
    heartbeatTimeout: '10s',
    onlineTimeout: '2m',
    ...extra,
  };
}

const mutations = (calls: string[][]) =>
  calls.filter((c) => ['offline', 'online', 'purge', 'set'].includes(c[3] ?? ''));

before(async () => {
  sc = await tungstenScenario();
  worker = await startWorker(uniqueQueue('tungsten'));
  // The Primary's host: its commands see TUNGSTEN_STANDIN_NODE=primary (passed on to children).
  primaryAgent = await spawnHostAgent(worker.taskQueue, 'db1', {
    env: {
      TUNGSTEN_STANDIN_NODE: 'primary',
      RUNBOOK_CHILD_ENV: `${process.env.RUNBOOK_CHILD_ENV ?? ''},TUNGSTEN_STANDIN_NODE`,
    },
  });
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  await primaryAgent?.stop();
  await worker?.stop();
  await closeClient?.();
  await sc?.world.cleanup();
});

describe('the scenario is what the procedure describes', () => {
  test('the backup’s trep_commit_seqno lags its binlog position, and its seqno has a later epoch', () => {
    assert.ok(sc.committedBeforeBackup.seqno < sc.atBackup.seqno);
    assert.notEqual(sc.atBackup.epoch, 0);
    assert.ok(sc.newest.seqno > sc.atBackup.seqno, 'the Primary moved on after the backup');
  });
});

describe('plan mode', () => {
  test('finds the seqno of the backup’s position with thl dsctl, and touches nothing', async () => {
    const mark = (await sc.world.calls()).length;
    const r = await runWorkflow<TungstenResult>(
      client,
      TYPE,
      worker.taskQueue,
      input({ mode: 'plan', thlLookup: 'dsctl' }),
    );
    assert.equal(r.mode, 'plan');
    assert.deepEqual(r.plan.thlEvent, {
      seqno: sc.atBackup.seqno,
      epoch: sc.atBackup.epoch,
      // thl dsctl prints the event id without its session suffix, as in the procedure.
      eventId: sc.atBackup.eventId.replace(/;-1$/, ''),
      sourceId: 'db1.example.test',
      fragments: 1,
    });
    assert.equal(r.plan.primaryNewestSeqno, sc.newest.seqno);
    assert.deepEqual(r.destructiveSteps, ['purge-thl', 'stop-database', 'restore-backup']);
    assert.deepEqual(mutations(await sc.world.calls(mark)), []);
  });
});

describe('step 2 reads the Replica’s own THL', () => {
  test('offline, trepctl says -1/-1 although the THL holds events: thl info decides, and a purge that leaves events fails the run naming them, with nothing after it run', async (t) => {
    const w = sc.world;
    const st = await w.readState();
    st.services.alpha!.faults = { purgeKeepsLog: true }; // thl purge says it deleted, deletes nothing
    await w.writeState(st);
    t.after(async () => {
      // Back as it was for the tests below.
      const back = await w.readState();
      delete back.services.alpha!.faults;
      await w.writeState(back);
      if (back.services.alpha!.state !== 'ONLINE') await w.trepctl('online');
      await w.waitApplied(sc.newest.seqno);
    });
    const pid = await w.replica.pid();
    const handle = await client.workflow.start(TYPE, {
      taskQueue: worker.taskQueue,
      workflowId: `tungsten-purge-${Date.now()}`,
      args: [await catalogRequest(TYPE, input({ requireApproval: true, recoveryId: 'INC-9' }))],
    });
    const stepIs = async (name: string, status: string) => {
      for (let i = 0; i < 300; i++) {
        const p = await handle.query(progressQuery);
        if (p.steps.find((x) => x.name === name)?.status === status) return true;
        if (p.steps.some((x) => x.status === 'failed')) return false;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    };
    assert.ok(await stepIs('purge-thl', 'waiting-approval'));
    const offline = await w.trepctl('status');
    assert.match(offline, /^state\s*: OFFLINE:NORMAL$/m);
    assert.match(offline, /^minimumStoredSeqNo\s*: -1$/m);
    assert.match(offline, /^maximumStoredSeqNo\s*: -1$/m);
    const held = (await w.readState()).services.alpha!.localThl;
    assert.ok(held && held.max === sc.newest.seqno, 'the Replica’s THL holds events');

    await handle.executeUpdate(approveUpdate, {
      args: [{ step: 'purge-thl', approver: 'ana', reason: 'INC-9' }],
    });
    // Trusting trepctl's -1/-1, a runbook would skip the purge and go on to stop the server.
    if (await stepIs('stop-database', 'waiting-approval')) {
      await handle.terminate('the THL purge was skipped');
      assert.fail('purge-thl was skipped: the run went on to stop-database with the THL unpurged');
    }
    const err = await handle.result().then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    // The step's failure (StepFailed, what the operator reads) over the activity's own type.
    const failures: ApplicationFailure[] = [];
    for (let c: unknown = err.cause; c instanceof Error; c = c.cause)
      if (c instanceof ApplicationFailure) failures.push(c);
    assert.deepEqual(
      failures.map((f) => f.type),
      ['StepFailed', 'ThlNotPurged'],
    );
    assert.match(
      failures[0]!.message,
      new RegExp(
        `^purge-thl: the THL of alpha still holds seqno \\d+–${sc.newest.seqno} after thl purge .*the replicator is offline, nothing else was changed`,
      ),
    );
    // What the message says: the Replica's server was not touched.
    assert.equal(await w.replica.pid(), pid);
    assert.equal((await w.readState()).services.alpha!.state, 'OFFLINE:NORMAL');
  });
});

describe('restore', () => {
  test('restores the Primary’s backup on the Replica, resets trep_commit_seqno to the backup’s seqno, and the Replica catches up to the Primary’s exact data', async () => {
    const w = sc.world;
    const before = await w.fingerprint(w.replica);
    assert.notDeepEqual(before, sc.truth, 'the Replica has lost rows before the restore');
    const pidBefore = await w.replica.pid();
    const mark = (await w.calls()).length;
    const workflowId = `tungsten-restore-${Date.now()}`;
    const handle = await client.workflow.start(TYPE, {
      taskQueue: worker.taskQueue,
      workflowId,
      args: [await catalogRequest(TYPE, input({ requireApproval: true, recoveryId: 'INC-7' }))],
    });

    // Step 1 runs; step 2 (the THL purge) waits for its approval with nothing purged.
    let p = await handle.query(progressQuery);
    for (let i = 0; i < 150 && p.currentStep !== 'purge-thl'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      p = await handle.query(progressQuery);
    }
    assert.equal(p.steps.find((s) => s.name === 'purge-thl')?.status, 'waiting-approval');
    const waiting = (await w.readState()).services.alpha!;
    assert.equal(waiting.state, 'OFFLINE:NORMAL');
    assert.ok(waiting.localThl && waiting.localThl.max >= 0, 'not purged before approval');
    for (const step of ['purge-thl', 'stop-database', 'restore-backup'])
      await handle.executeUpdate(approveUpdate, { args: [{ step, approver: 'ana', reason: 'INC-7' }] });
    const r = (await handle.result()) as TungstenResult;

    // Ground truth: the Primary's tables, read from the Primary; the live Replica and the run agree.
    await w.sql.closeAll();
    assert.deepEqual(await w.fingerprint(w.replica), sc.truth);
    assert.deepEqual(r.tables, sc.truth);
    assert.deepEqual(
      r.steps.map((s) => [s.name, s.status]),
      r.steps.map((s) => [s.name, 'done']),
    );

    // Step 4: the restored trep_commit_seqno was the Primary's lagging one; it was reset to the THL
    // event of the backup's position, epoch and all.
    assert.deepEqual(r.commitSeqno?.before, [
      {
        seqno: sc.committedBeforeBackup.seqno,
        epoch: 0,
        sourceId: 'db1.example.test',
        eventId: sc.committedBeforeBackup.eventId,
      },
    ]);
    assert.deepEqual(r.commitSeqno?.after, [
      {
        seqno: sc.atBackup.seqno,
        epoch: sc.atBackup.epoch,
        sourceId: 'db1.example.test',
        eventId: sc.atBackup.eventId,
      },
    ]);
    // Step 5: ONLINE, and the applied seqno moved from the backup's seqno to the Primary's newest.
    assert.deepEqual(r.online, {
      state: 'ONLINE',
      fromSeqno: sc.atBackup.seqno,
      appliedLastSeqno: sc.newest.seqno,
    });
    assert.deepEqual(await w.commitRow(w.replica), [
      {
        seqno: sc.newest.seqno,
        epoch: sc.newest.epoch,
        sourceId: 'db1.example.test',
        eventId: sc.newest.eventId,
      },
    ]);

    // The procedure's commands, in its order, with its arguments.
    const at = `${sc.backupPosition.file}:${String(sc.backupPosition.position).padStart(16, '0')}`;
    const calls = (await w.calls(mark)).filter((c) => !['status', 'info', 'version'].includes(c[3] ?? ''));
    assert.deepEqual(calls, [
      ['thl', '-service', 'alpha', 'list', '-event', at, '-headers'],
      ['trepctl', '-service', 'alpha', 'offline'],
      ['thl', '-service', 'alpha', 'purge', '-y'],
      [
        'dsctl',
        '-service',
        'alpha',
        'set',
        '-reset',
        '-seqno',
        String(sc.atBackup.seqno),
        '-epoch',
        String(sc.atBackup.epoch),
        '-source-id',
        'db1.example.test',
        '-event-id',
        sc.atBackup.eventId,
      ],
      ['trepctl', '-service', 'alpha', 'online'],
    ]);

    // Step 2 read the Replica's own THL (thl info; trepctl says -1/-1 while offline) and purged it.
    assert.match(
      r.steps.find((x) => x.name === 'purge-thl')?.evidence.join('\n') ?? '',
      /^purged THL seqno \d+–\d+ \(thl info: min seq# \d+, max seq# \d+; after: thl info: no log file/m,
    );

    // The server was stopped and started again; the damaged datadir was kept aside; one copy-back.
    const pidAfter = await w.replica.pid();
    assert.ok(pidAfter && pidAfter !== pidBefore);
    assert.ok(await stat(`${w.replica.datadir}.before-INC-7/mysql`));
    const journal = await Ledger.besideDatadir(w.replica.datadir).readJournal('INC-7');
    assert.equal(journal.filter((l) => l.includes('copy-back finished')).length, 1);
    await recordHistory(workflowId, 'tungsten-external-restore');

    // Run again with the same recoveryId: every step finds its checkpoint, nothing is redone.
    const mark2 = (await w.calls()).length;
    const again = await runWorkflow<TungstenResult>(
      client,
      TYPE,
      worker.taskQueue,
      input({ recoveryId: 'INC-7' }),
    );
    assert.deepEqual(mutations(await w.calls(mark2)), []);
    assert.equal(await w.replica.pid(), pidAfter);
    assert.deepEqual(again.tables, sc.truth);
    for (const s of [
      'replicator-offline',
      'purge-thl',
      'stop-database',
      'restore-backup',
      'reset-commit-seqno',
    ])
      assert.equal(again.steps.find((x) => x.name === s)?.status, 'skipped-by-checkpoint', s);
  });

  test('step 4 is what makes it work: a Primary backup restored as if taken on a Replica (no reset) re-applies a transaction the backup already holds, and the run stops with the replicator’s error', async () => {
    const f = await runWorkflowExpectingFailure(
      client,
      TYPE,
      worker.taskQueue,
      input({ recoveryId: 'INC-8', backup: { dir: sc.backupDir, takenOn: 'replica' } }),
    );
    assert.match(
      f.message,
      new RegExp(
        `^replicator-online: replicator alpha could not go online: Event application failed: seqno=${sc.committedBeforeBackup.seqno + 1} ERROR 1062 .*Duplicate entry`,
      ),
    );
  });
});
