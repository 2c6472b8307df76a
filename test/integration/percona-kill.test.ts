// Checkpoints that hold: the worker is SIGKILLed in the middle of the replay (after the base restore);
// a new worker finishes the run with one copy-back only, a replay that resumes from the restored
// server's own GTID state, and tables equal to the source's just before the accident.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { progressQuery } from '../../workflows/kit';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { Ledger } from '../../activities/runtime/ledger';
import { SqlPools } from '../../activities/mysql/sql';
import { mariadbPositionIncludes, parseMariadbGtid } from '../../workflows/gtid';
import {
  perconaInput,
  recordAccident,
  standInCluster,
  temporaryServerOf,
  useStandIns,
  type Accident,
} from '../support/percona-scenario';
import { testClient, uniqueQueue } from '../support/temporal';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';
import { catalogRequest } from '../support/fleet';

useStandIns();
let acc: Accident;
let client: Client;
let closeClient: () => Promise<void>;
const workers: WorkerProcess[] = [];
const sql = new SqlPools();

before(async () => {
  acc = await recordAccident({ afterBackup: 15_000 });
  await standInCluster(join(acc.base, 'k8s'), 'shop');
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  for (const w of workers) await w.kill();
  await sql.closeAll();
  await closeClient?.();
  await acc?.cleanup();
});

test('a worker killed mid-replay: the next worker resumes from the GTID state, copies back once, and matches the source', async () => {
  const taskQueue = uniqueQueue('kill');
  const env = { PATH: process.env.PATH!, KUBECTL_STANDIN_STATE: process.env.KUBECTL_STANDIN_STATE! };
  const first = await spawnWorker(taskQueue, env);
  workers.push(first);
  const recoveryId = `kill-${Date.now()}`;
  const datadir = join(acc.base, 'restore-kill', 'data');
  const input = perconaInput(acc, recoveryId, datadir, {
    verify: { schemas: ['shop'], expected: acc.truth },
    heartbeatTimeout: '4s',
  });
  const handle = await client.workflow.start('perconaPointInTimeRecovery', {
    taskQueue,
    workflowId: recoveryId,
    args: [await catalogRequest('perconaPointInTimeRecovery', input)],
  });

  // Wait until the replay is under way and has committed some transactions, then kill the worker.
  const endpoint = temporaryServerOf(recoveryId, datadir);
  let stateAtKill = '';
  let backupGtid = '';
  for (let i = 0; i < 600 && !stateAtKill; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const p = await handle.query(progressQuery);
    if (p.currentStep !== 'replay-binlogs') continue;
    // The probe may meet the temporary server between its restarts (the applier reconfigures it):
    // a dropped connection is forgotten and the probe tries again.
    let state = '';
    try {
      backupGtid ||= await sql
        .query(endpoint, 'SELECT 1')
        .then(
          () => p.steps.find((s) => s.name === 'locate-binlogs')!.evidence[0]!.match(/GTID (\S+)\)/)![1]!,
        );
      const [row] = await sql.query(endpoint, 'SELECT @@gtid_binlog_pos AS g');
      state = String(row?.g ?? '');
    } catch {
      await sql.forget(endpoint);
      continue;
    }
    if (state && !mariadbPositionIncludes(backupGtid, state)) stateAtKill = state;
  }
  assert.ok(stateAtKill, 'the replay started');
  await first.kill();
  await sql.forget(endpoint);
  assert.ok(
    !mariadbPositionIncludes(stateAtKill, acc.lastGoodGtid),
    `killed before the replay ended (state ${stateAtKill})`,
  );

  const second = await spawnWorker(taskQueue, env);
  workers.push(second);
  const r = (await handle.result()) as PerconaResult;

  assert.deepEqual(r.tables, acc.truth, 'restored tables equal the source just before the DROP');
  const journal = await Ledger.besideDatadir(datadir).readJournal(recoveryId);
  assert.equal(journal.filter((l) => l.includes('copy-back finished')).length, 1, 'exactly one copy-back');
  // The successful attempt started from the state the killed one left, not from the backup.
  const resumedFrom = parseMariadbGtid(r.replay!.stateBefore).seq;
  assert.ok(
    resumedFrom >= parseMariadbGtid(stateAtKill).seq,
    `resumed from ${r.replay!.stateBefore} (killed at ${stateAtKill})`,
  );
  assert.ok(resumedFrom > parseMariadbGtid(backupGtid).seq, 'did not start over from the backup');
  assert.deepEqual(r.replay!.forcedErrors, []);

  // The history shows the fault: the replay activity was attempted more than once.
  const history = await handle.fetchHistory();
  const attempts = (history.events ?? [])
    .filter((e) => e.activityTaskStartedEventAttributes)
    .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
  assert.ok(Math.max(...attempts) >= 2, 'an activity was retried after the kill');
  const restoreSteps = r.steps.find((s) => s.name === 'restore-backup');
  assert.equal(restoreSteps?.status, 'done');
});
