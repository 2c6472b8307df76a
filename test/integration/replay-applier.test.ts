// The applier replay strategy on real MariaDB servers: the restored server replicates from a
// throwaway source serving the archived files. It must land on exactly the data the pipe gives for
// every target kind, in parallel too, resume exactly-once after a crash, and explain a replica error.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { progressQuery } from '../../workflows/kit';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { mariadbPositionIncludes, parseMariadbGtid } from '../../workflows/gtid';
import { runtimeDir } from '../../activities/mysql/mysqld';
import { SqlPools } from '../../activities/mysql/sql';
import {
  perconaInput,
  recordAccident,
  standInCluster,
  temporaryServerOf,
  useStandIns,
  type Accident,
} from '../support/percona-scenario';
import { startWorker, testClient, uniqueQueue, type RunningWorker } from '../support/temporal';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';
import { runWorkflow, runWorkflowExpectingFailure } from '../support/workflows';
import { catalogRequest } from '../support/fleet';

useStandIns();
const TYPE = 'perconaPointInTimeRecovery';
let acc: Accident;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
const spawned: WorkerProcess[] = [];
const sql = new SqlPools();
let n = 0;

before(async () => {
  acc = await recordAccident({ afterBackup: 3000 });
  await standInCluster(join(acc.base, 'k8s'), 'shop');
  worker = await startWorker(uniqueQueue('applier'));
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  for (const w of spawned) await w.kill();
  await worker?.stop();
  await sql.closeAll();
  await closeClient?.();
  await acc?.cleanup();
});

function input(target: object, replay: object, extra: Record<string, unknown> = {}) {
  n++;
  return perconaInput(acc, `applier-${n}-${Date.now()}`, join(acc.base, `restore-${n}`, 'data'), {
    target,
    replay,
    heartbeatTimeout: '10s',
    ...extra,
  });
}

const replayEvidence = (r: PerconaResult) =>
  r.steps.find((s) => s.name === 'replay-binlogs')!.evidence.join('\n');

/** After an applier replay the restored server carries no replication state (as after a pipe replay). */
async function assertNoReplicationLeft(datadir: string, r: PerconaResult): Promise<void> {
  const names = await readdir(datadir);
  assert.deepEqual(
    names.filter((f) => /relay|^master\.info$/.test(f)),
    [],
    'no relay logs or master.info left in the restored datadir',
  );
  assert.equal(
    await stat(join(r.plan.stagingDir, 'replay-source')).catch(() => null),
    null,
    'source server removed',
  );
}

describe('both strategies land on the same data', () => {
  const targets: { name: string; target: () => object; truth: () => object | null }[] = [
    { name: 'time', target: () => ({ type: 'time', time: acc.beforeAccident }), truth: () => acc.truth },
    {
      name: 'GTID exclusive',
      target: () => ({ type: 'gtid', gtid: acc.dropGtid, exclusive: true }),
      truth: () => acc.truth,
    },
    {
      name: 'position',
      target: () => ({ type: 'position', ...acc.dropPosition }),
      truth: () => acc.truth,
    },
    {
      // Mid-stream, so pipe and applier must agree on a state the source never fingerprinted.
      name: 'GTID inclusive',
      target: () => {
        const g = parseMariadbGtid(acc.lastGoodGtid);
        return { type: 'gtid', gtid: `${g.domain}-${g.server}-${g.seq - 2500n}` };
      },
      truth: () => null,
    },
  ];
  for (const t of targets)
    test(`${t.name} target: pipe and applier end with identical checksums`, async () => {
      const [pipe, applier] = await Promise.all(
        [{ strategy: 'pipe' }, { strategy: 'applier', parallelThreads: 1 }].map((replay) =>
          runWorkflow<PerconaResult>(client, TYPE, worker.taskQueue, input(t.target(), replay)),
        ),
      );
      assert.deepEqual(applier!.tables, pipe!.tables, 'applier and pipe end with the same tables');
      assert.equal(applier!.replay!.stateAfter, pipe!.replay!.stateAfter, 'and the same GTID state');
      assert.ok(applier!.replay!.transactionsApplied! > 1000, 'a real replay happened');
      const truth = t.truth();
      if (truth) assert.deepEqual(applier!.tables, truth, 'equal to the source just before the DROP');
      else assert.notDeepEqual(applier!.tables, acc.truth, 'an earlier state than the last good one');
      assert.match(replayEvidence(pipe!), /with the pipe strategy/);
      assert.match(replayEvidence(applier!), /with the applier strategy/);
      assert.match(replayEvidence(applier!), /replay source server pid \d+ stopped and removed/);
    });

  test('applier with 4 optimistic parallel threads matches the source', async () => {
    const i = input(
      { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
      { strategy: 'applier', parallelThreads: 4 },
    );
    const r = await runWorkflow<PerconaResult>(client, TYPE, worker.taskQueue, i);
    assert.deepEqual(r.tables, acc.truth);
    assert.match(replayEvidence(r), /4 optimistic parallel threads/);
    await assertNoReplicationLeft(i.restore.datadir, r);
  });
});

test(
  'the same recoveryId started again after an applier run completes: the replay settles as already applied',
  { timeout: 150_000 },
  async () => {
    const i = input(
      { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
      { strategy: 'applier', parallelThreads: 1 },
    );
    const first = await runWorkflow<PerconaResult>(client, TYPE, worker.taskQueue, i);
    // A new run with the same recoveryId (as after a lost completion): the restored server is back on
    // its own server id with replication reset; the replay must see the target reached and settle.
    const again = await runWorkflow<PerconaResult>(client, TYPE, worker.taskQueue, i);
    assert.deepEqual(again.tables, first.tables);
    assert.deepEqual(again.tables, acc.truth);
    // Counted across runs of the recovery (issue 12): every transaction of the window, applied once.
    assert.equal(again.replay!.transactionsApplied, first.replay!.transactionsApplied);
    assert.ok(again.proof?.holds);
    assert.match(replayEvidence(again), /already applied/);
    await assertNoReplicationLeft(i.restore.datadir, again);
  },
);

describe('failures', () => {
  test('a replica error surfaces as a readable non-retryable failure with the GTID state', async () => {
    const f = await runWorkflowExpectingFailure(
      client,
      TYPE,
      worker.taskQueue,
      input({ type: 'gtid', gtid: acc.ghostUpdateGtid }, { strategy: 'applier', parallelThreads: 1 }),
    );
    // Non-retryable: the replay activity ran once, no retry re-applied anything.
    const history = await client.workflow.getHandle(f.workflowId).fetchHistory();
    const attempts = (history.events ?? [])
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
    assert.equal(Math.max(...attempts), 1, 'no activity was retried');
    const m =
      /^replay-binlogs: replay stopped before (\S+) \(mysql-bin\.\d+:\d+\): the replica SQL thread stopped on error 1032: .*customers/.exec(
        f.message,
      );
    assert.ok(m, f.message);
    assert.equal(m[1], acc.ghostUpdateGtid);
    assert.match(f.message, /GTID state 0-1-\d+\), target 0-1-\d+ not reached/);
  });

  test('applier with force or on MySQL is refused before anything is touched', async () => {
    const datadir = join(acc.base, 'never', 'data');
    for (const extra of [{ force: true }, { dialect: 'mysql', target: { type: 'latest' } }]) {
      const f = await runWorkflowExpectingFailure(client, TYPE, worker.taskQueue, {
        ...perconaInput(acc, `applier-bad-${Date.now()}`, datadir, { replay: { strategy: 'applier' } }),
        ...extra,
      });
      assert.match(f.message, /replay\.strategy: .*(force|MariaDB-only)/);
    }
    assert.equal(await stat(datadir).catch(() => null), null, 'nothing restored');
  });
});

test('a worker and the restored mysqld killed mid-applier-replay: the next attempt resumes exactly once', async () => {
  const taskQueue = uniqueQueue('applier-kill');
  const env = { PATH: process.env.PATH!, KUBECTL_STANDIN_STATE: process.env.KUBECTL_STANDIN_STATE! };
  const first = await spawnWorker(taskQueue, env);
  spawned.push(first);
  const recoveryId = `applier-kill-${Date.now()}`;
  const datadir = join(acc.base, 'restore-kill', 'data');
  const i = perconaInput(acc, recoveryId, datadir, {
    verify: { schemas: ['shop'], expected: acc.truth },
    replay: { strategy: 'applier', parallelThreads: 1 },
    heartbeatTimeout: '4s',
  });
  const handle = await client.workflow.start(TYPE, {
    taskQueue,
    workflowId: recoveryId,
    args: [await catalogRequest(TYPE, i)],
  });

  const endpoint = temporaryServerOf(recoveryId, datadir);
  let stateAtKill = '';
  let backupGtid = '';
  for (let k = 0; k < 1200 && !stateAtKill; k++) {
    await new Promise((r) => setTimeout(r, 25));
    const p = await handle.query(progressQuery);
    if (p.currentStep !== 'replay-binlogs') continue;
    backupGtid ||= p.steps.find((s) => s.name === 'locate-binlogs')!.evidence[0]!.match(/GTID (\S+)\)/)![1]!;
    const [row] = await sql.query(endpoint, 'SELECT @@gtid_binlog_pos AS g').catch(() => [undefined]);
    const state = String(row?.g ?? '');
    if (state && !mariadbPositionIncludes(backupGtid, state)) stateAtKill = state;
  }
  assert.ok(stateAtKill, 'the applier replay started');
  // The restored mysqld dies first (its replication would otherwise finish alone), then the worker.
  // The throwaway source server lives on, as after a partial crash of the worker host.
  const mysqldPid = Number(
    (await readFile(join(runtimeDir({ recoveryId, datadir }), 'mysqld.pid'), 'utf8')).trim(),
  );
  process.kill(mysqldPid, 'SIGKILL');
  await first.kill();
  await sql.forget(endpoint);
  assert.ok(
    !mariadbPositionIncludes(stateAtKill, acc.lastGoodGtid),
    `killed before the end (state ${stateAtKill})`,
  );

  const second = await spawnWorker(taskQueue, env);
  spawned.push(second);
  const r = (await handle.result()) as PerconaResult;

  assert.deepEqual(r.tables, acc.truth, 'restored tables equal the source just before the DROP');
  const resumedFrom = parseMariadbGtid(r.replay!.stateBefore).seq;
  assert.ok(
    resumedFrom >= parseMariadbGtid(stateAtKill).seq,
    `resumed from ${r.replay!.stateBefore} (killed at ${stateAtKill})`,
  );
  assert.ok(
    resumedFrom < parseMariadbGtid(acc.lastGoodGtid).seq,
    'the second attempt really applied the rest',
  );
  const evidence = replayEvidence(r);
  assert.match(evidence, /the server had stopped: started it again/);
  assert.match(evidence, /replaced the replay source server pid \d+ an earlier attempt left/);
  // Exactly once: the second attempt applied precisely the transactions after its resume point, and
  // the run reports all of the window's transactions (both attempts), as the proof counted them.
  const byThisAttempt = /\((\d+) by this attempt\)/.exec(evidence)?.[1];
  assert.equal(BigInt(byThisAttempt ?? -1), parseMariadbGtid(acc.lastGoodGtid).seq - resumedFrom);
  const window = parseMariadbGtid(acc.lastGoodGtid).seq - parseMariadbGtid(backupGtid).seq;
  assert.equal(BigInt(r.replay!.transactionsApplied!), window);
  assert.equal(BigInt(r.proof!.applied + r.proof!.notLogged.count), window);
  assert.ok(r.proof!.holds);
  await assertNoReplicationLeft(datadir, r);
});
