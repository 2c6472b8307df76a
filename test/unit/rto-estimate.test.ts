// The RTO estimate: per step from the plan's facts and the host's measured rates, defaults named when
// a rate was never measured, rounded to tenths below 10 s; estimate vs actual from the steps' times;
// the samples a run gives its host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareRto,
  DEFAULT_RATES,
  describeEstimate,
  estimateRto,
  ratesFromRun,
  roundSeconds,
  type RtoFacts,
} from '../../workflows/rto-estimate';

const MiB = 1024 * 1024;
const facts: RtoFacts = {
  steps: ['locate-binlogs', 'pause-cluster', 'restore-backup', 'replay-binlogs', 'verify'],
  restoreBytes: 17 * MiB,
  fetchBytes: null,
  replayBytes: 2 * MiB,
  transactions: 600,
  strategy: 'applier',
};

test('with no rates measured every step uses a default, and each default is named', () => {
  const e = estimateRto(facts, { host: 'db1', rates: {} });
  const by = Object.fromEntries(e.steps.map((s) => [s.step, s.seconds]));
  assert.equal(by['restore-backup'], roundSeconds((17 * MiB) / DEFAULT_RATES.copy!));
  // The applier default: 2 MiB at 10 MiB/s (0.2 s) is slower than 600 transactions at 20,000/s (0.03 s).
  assert.equal(by['replay-binlogs'], 0.2);
  assert.equal(by['verify'], 0.4); // 2 MiB at 5 MiB/s
  assert.equal(by['pause-cluster'], DEFAULT_RATES.step);
  assert.deepEqual(e.defaults.sort(), [
    'copy',
    'replay.applier.bytes',
    'replay.applier.transactions',
    'step.locate-binlogs',
    'step.pause-cluster',
    'verify',
  ]);
  assert.match(
    describeEstimate(e),
    /^estimate: ~4\.8 s on host db1 \(restore 0\.2 s from 17 MiB at 100 MiB\/s \(default\), replay 0\.2 s from 2 MiB at 10 MiB\/s \(applier, default\), verify 0\.4 s from 2 MiB at 5 MiB\/s \(default\), 2 other step\(s\) 4 s; defaults: copy, replay\.applier\.bytes, replay\.applier\.transactions, verify, 2 step time\(s\) at 2 s\)$/,
  );
});

test('measured rates replace the defaults, and the estimate says over how many runs', () => {
  const e = estimateRto(facts, {
    host: 'db1',
    rates: {
      copy: { value: 8.5 * MiB, runs: 3 },
      'replay.applier.bytes': { value: 1 * MiB, runs: 3 },
      'replay.applier.transactions': { value: 100, runs: 3 },
      'step.locate-binlogs': { value: 1.25, runs: 3 },
      'step.pause-cluster': { value: 0.44, runs: 1 },
      verify: { value: (2 * MiB) / 12.6, runs: 3 },
    },
  });
  const by = Object.fromEntries(e.steps.map((s) => [s.step, s]));
  assert.equal(by['restore-backup']!.seconds, 2); // 17 / 8.5
  // 600 transactions at 100/s (6 s) is the slower of the two (2 MiB at 1 MiB/s: 2 s).
  assert.equal(by['replay-binlogs']!.seconds, 6);
  assert.match(by['replay-binlogs']!.basis, /600 transactions at 100\/s \(applier, measured over 3 runs\)/);
  assert.equal(by['pause-cluster']!.seconds, 0.4);
  assert.equal(by['verify']!.seconds, 13); // 12.6 s: whole seconds from 10 s on
  assert.deepEqual(e.defaults, []);
  assert.equal(e.totalSeconds, roundSeconds(1.3 + 0.4 + 2 + 6 + 13));
  assert.match(describeEstimate(e), /restore 2 s from 17 MiB at 8\.5 MiB\/s \(measured over 3 runs\)/);
  assert.doesNotMatch(describeEstimate(e), /defaults:/);
});

test('a strategy never measured does not borrow the other strategy’s rates', () => {
  const e = estimateRto(
    { ...facts, strategy: 'pipe' },
    { host: 'h', rates: { 'replay.applier.bytes': { value: 1, runs: 5 } } },
  );
  assert.ok(e.defaults.includes('replay.pipe.bytes'));
  assert.ok(e.defaults.includes('replay.pipe.transactions'));
});

test('a rates file that was ignored is named in the estimate', () => {
  const e = estimateRto(facts, { host: 'h', rates: {}, note: 'rates file /x/rates.json is not JSON' });
  assert.match(describeEstimate(e), /; rates file \/x\/rates\.json is not JSON\)$/);
});

test('estimate vs actual: per step from the kit’s times, total, error in percent', () => {
  const e = estimateRto(facts, { host: 'h', rates: {} });
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
  const steps = [
    { name: 'locate-binlogs', status: 'done', startedAt: at(0), endedAt: at(1.5) },
    { name: 'pause-cluster', status: 'done', startedAt: at(100), endedAt: at(101) }, // approval wait before it
    { name: 'restore-backup', status: 'done', startedAt: at(101), endedAt: at(103) },
    { name: 'replay-binlogs', status: 'done', startedAt: at(103), endedAt: at(104) },
    { name: 'verify', status: 'done', startedAt: at(104), endedAt: at(106) },
    { name: 'unpause-cluster', status: 'pending' },
  ];
  const c = compareRto(e, steps);
  assert.equal(c.actualSeconds, 7.5);
  assert.equal(c.estimatedSeconds, e.totalSeconds);
  assert.equal(c.errorPercent, Math.round(((e.totalSeconds - 7.5) / 7.5) * 1000) / 10);
  assert.deepEqual(
    c.steps.map((s) => [s.step, s.actualSeconds]),
    [
      ['locate-binlogs', 1.5],
      ['pause-cluster', 1],
      ['restore-backup', 2],
      ['replay-binlogs', 1],
      ['verify', 2],
    ],
  );
});

test('a run gives its host a rate per data step it did, and seconds for every other step it took', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
  const samples = ratesFromRun(facts, [
    { name: 'locate-binlogs', status: 'done', startedAt: at(0), endedAt: at(2) },
    { name: 'restore-backup', status: 'done', startedAt: at(2), endedAt: at(4) },
    { name: 'replay-binlogs', status: 'done', startedAt: at(4), endedAt: at(8) },
    { name: 'verify', status: 'skipped-by-checkpoint', startedAt: at(8), endedAt: at(8.1) },
    // A copy (or proof) found done by its checkpoint moved no data: no rate from it.
    { name: 'restore-backup', status: 'skipped-by-checkpoint', startedAt: at(9), endedAt: at(9.1) },
    { name: 'pause-cluster', status: 'done', startedAt: at(10), endedAt: at(10) },
    { name: 'unpause-cluster', status: 'pending' },
  ]);
  assert.deepEqual(samples, {
    'step.locate-binlogs': 2,
    copy: (17 * MiB) / 2,
    'replay.applier.bytes': (2 * MiB) / 4,
    'replay.applier.transactions': 150,
    'step.pause-cluster': 0.01,
  });
});
