// The RTO estimate on real Percona runs (real MariaDB, real Temporal): a first run on a host with no
// rates plans with stated defaults and records the rates it measured in the worker's state directory;
// the next plan on that host estimates from them (its figures derived from the recorded rates), and a
// run's result carries estimate vs actual per step. A corrupt rates file is ignored with a note.
// Not a timing test: the bounds on the estimate are wide on purpose (the bench measures the error).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { roundSeconds } from '../../workflows/rto-estimate';
import { readRates } from '../../activities/runtime/rates';
import { recordAccident, standInCluster, useStandIns, type Accident } from '../support/percona-scenario';
import {
  startWorker,
  temporalAddress,
  testClient,
  uniqueQueue,
  type RunningWorker,
} from '../support/temporal';
import { saveHistory } from '../../scripts/lib/history';
import { historiesDir } from '../support/histories';
import { catalogRequest } from '../support/fleet';

useStandIns();

const TYPE = 'perconaPointInTimeRecovery';
let acc: Accident;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
let stateDir = '';
const savedStateDir = process.env.RUNBOOK_STATE_DIR;
let n = 0;

function input(mode: 'plan' | 'run') {
  n++;
  return {
    mode,
    cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'shop' },
    backup: { dir: acc.backupDir },
    restore: { datadir: join(acc.base, `restore-rto-${n}`, 'data') },
    archive: { kind: 'fs', dir: acc.source.archiveDir },
    verify: { schemas: ['shop'], expected: acc.truth },
    heartbeatTimeout: '10s',
    target: { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
    requireApproval: false,
  };
}

let lastId = '';
async function execute(mode: 'plan' | 'run'): Promise<PerconaResult> {
  lastId = `rto-${mode}-${n}-${Date.now()}`;
  return (await client.workflow.execute(TYPE, {
    taskQueue: worker.taskQueue,
    workflowId: lastId,
    args: [await catalogRequest(TYPE, input(mode))],
  })) as PerconaResult;
}

const estimateLine = (r: PerconaResult) =>
  r.steps.find((s) => s.name === 'locate-binlogs')!.evidence.find((l) => l.startsWith('estimate: '));

before(async () => {
  // A state directory of this file's own: rates recorded by other files' runs never reach these plans.
  stateDir = await mkdtemp(join(savedStateDir ?? '/tmp', 'rto-'));
  process.env.RUNBOOK_STATE_DIR = stateDir;
  acc = await recordAccident();
  await standInCluster(join(acc.base, 'k8s'), 'shop');
  worker = await startWorker(uniqueQueue('rto'));
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  await worker?.stop();
  await closeClient?.();
  await acc?.cleanup();
  process.env.RUNBOOK_STATE_DIR = savedStateDir;
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('RTO estimate', () => {
  let first: PerconaResult;

  test('a plan on a host that never ran a recovery estimates from stated defaults', async () => {
    const plan = await execute('plan');
    const e = plan.rto!.estimate;
    assert.equal(e.host, 'local');
    assert.deepEqual(
      e.steps.map((s) => s.step),
      [
        'locate-binlogs',
        'pause-cluster',
        'restore-backup',
        'start-temporary-mysqld',
        'replay-binlogs',
        'verify',
        'stop-temporary-mysqld',
        'unpause-cluster',
      ],
    );
    for (const d of ['copy', 'replay.applier.bytes', 'verify', 'step.start-temporary-mysqld'])
      assert.ok(e.defaults.includes(d), d);
    assert.match(
      estimateLine(plan) ?? '',
      /^estimate: ~[\d.]+ s on host local \(restore [\d.]+ s from [\d.]+ MiB at 100 MiB\/s \(default\), .*; defaults: copy, replay\.applier\.bytes, replay\.applier\.transactions, verify, 5 step time\(s\) at 2 s\)$/,
    );
    assert.equal(plan.rto!.actual, undefined);
  });

  test('a completed run records estimate vs actual per step and its rates on the restore host', async () => {
    first = await execute('run');
    assert.deepEqual(first.tables, acc.truth);
    // With RECORD_HISTORIES=1: a history that took the rto-rates patch's path, for the replay suite.
    if (process.env.RECORD_HISTORIES === '1')
      await saveHistory(temporalAddress(), lastId, join(historiesDir, 'percona-pitr-rto.json'));
    const rto = first.rto!;
    assert.ok(rto.actual, 'the result carries the actual times');
    const ran = first.steps.filter((s) => s.status === 'done').map((s) => s.name);
    assert.deepEqual(
      rto.actual.steps.filter((s) => ran.includes(s.step)).map((s) => s.step),
      ran,
    );
    for (const s of rto.actual.steps) {
      const st = first.steps.find((x) => x.name === s.step)!;
      const secs = (Date.parse(st.endedAt!) - Date.parse(st.startedAt!)) / 1000;
      assert.equal(s.actualSeconds, roundSeconds(secs), s.step);
    }
    assert.equal(rto.actual.estimatedSeconds, rto.estimate.totalSeconds);
    assert.match(rto.recorded![0]!, /^rates: \d+ rate\(s\) of host local recorded in .*rates\.json$/);

    // The rates file holds what the steps measured: the copy rate is the backup's bytes over the step's time.
    const rates = await readRates('local');
    const restore = first.steps.find((s) => s.name === 'restore-backup')!;
    const restoreSecs = (Date.parse(restore.endedAt!) - Date.parse(restore.startedAt!)) / 1000;
    const planFacts = first.plan as { sizes?: { restoreBytes: number } };
    assert.ok(planFacts.sizes!.restoreBytes > 1024 * 1024);
    assert.equal(rates.rates.copy!.runs, 1);
    assert.ok(Math.abs(rates.rates.copy!.value - planFacts.sizes!.restoreBytes / restoreSecs) < 1);
    assert.ok(rates.rates['replay.applier.transactions']!.value > 0);
    assert.ok(rates.rates.verify!.value > 0);
    assert.ok(rates.rates['step.start-temporary-mysqld']!.value > 0);
  });

  test('the next plan on that host estimates from the recorded rates, no longer from defaults', async () => {
    const plan = await execute('plan');
    const e = plan.rto!.estimate;
    const rates = await readRates('local');
    assert.deepEqual(e.defaults, []);
    const sizes = (plan.plan as { sizes?: { restoreBytes: number } }).sizes!;
    const restore = e.steps.find((s) => s.step === 'restore-backup')!;
    assert.equal(restore.seconds, roundSeconds(sizes.restoreBytes / rates.rates.copy!.value));
    assert.equal(
      e.steps.find((s) => s.step === 'start-temporary-mysqld')!.seconds,
      roundSeconds(rates.rates['step.start-temporary-mysqld']!.value),
    );
    assert.match(
      estimateLine(plan) ?? '',
      /restore [\d.]+ s from [\d.]+ MiB at [\d.]+ MiB\/s \(measured over 1 run\)/,
    );
    assert.doesNotMatch(estimateLine(plan) ?? '', /defaults:/);
    // Same recovery, same host: the estimate is the first run's actual, give or take the rounding of each step.
    const actual = first.rto!.actual!.actualSeconds;
    assert.ok(Math.abs(e.totalSeconds - actual) <= 0.5 * e.steps.length, `${e.totalSeconds} vs ${actual}`);
  });

  test('a rates file that is not JSON is ignored with a note: the plan uses defaults and the run still completes', async () => {
    await writeFile(join(stateDir, 'rates.json'), '{"version":1,"hosts":{"local":');
    const plan = await execute('plan');
    assert.match(estimateLine(plan) ?? '', /rates file .*rates\.json is not JSON .*: ignored, defaults used/);
    assert.ok(plan.rto!.estimate.defaults.includes('copy'));
    const run = await execute('run');
    assert.deepEqual(run.tables, acc.truth);
    assert.match(run.rto!.recorded![0]!, /recorded .*is not JSON/);
    const file = JSON.parse(await readFile(join(stateDir, 'rates.json'), 'utf8'));
    assert.equal(file.hosts.local.copy.length, 1, 'written anew');
  });
});
