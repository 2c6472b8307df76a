// The host's rates file: samples kept per host and rate (the last five), read back as medians; a
// file that is not JSON or not a rates file is ignored with a note and written anew by the next run;
// a rate that cannot be recorded is a note. Neither throws (an estimate never fails a recovery).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RATE_SAMPLES, readRates, recordRates } from '../../activities/runtime/rates';

let base = '';
const saved = process.env.RUNBOOK_STATE_DIR;
let n = 0;
const freshStateDir = async () => {
  const dir = join(base, `state-${n++}`);
  await mkdir(dir, { mode: 0o700 });
  process.env.RUNBOOK_STATE_DIR = dir;
  return dir;
};
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'rates-test-'));
});
after(async () => {
  process.env.RUNBOOK_STATE_DIR = saved;
  await rm(base, { recursive: true, force: true });
});

test('a host with no rates file has no rates and no note', async () => {
  await freshStateDir();
  assert.deepEqual(await readRates('db1'), { host: 'db1', rates: {} });
});

test('recorded samples come back as the median of the last five, per host', async () => {
  const dir = await freshStateDir();
  for (const v of [10, 50, 20, 40, 30, 1000]) await recordRates({ host: 'db1', samples: { copy: v } });
  await recordRates({ host: 'db2', samples: { copy: 7, 'step.verify': 1.5 } });
  const db1 = await readRates('db1');
  // 10 fell out (five kept: 50 20 40 30 1000): the median is 40.
  assert.deepEqual(db1.rates, { copy: { value: 40, runs: RATE_SAMPLES } });
  assert.deepEqual((await readRates('db2')).rates, {
    copy: { value: 7, runs: 1 },
    'step.verify': { value: 1.5, runs: 1 },
  });
  const file = JSON.parse(await readFile(join(dir, 'rates.json'), 'utf8'));
  assert.deepEqual(file.hosts.db1.copy, [50, 20, 40, 30, 1000]);
});

test('samples that are not positive numbers are not recorded', async () => {
  await freshStateDir();
  const r = await recordRates({ host: 'db1', samples: { copy: 0, fetch: Number.NaN, 'step.verify': -1 } });
  assert.deepEqual(r.evidence, ['rates: nothing measured on this run']);
  assert.deepEqual((await readRates('db1')).rates, {});
});

for (const [what, text, why] of [
  [
    'not JSON',
    '{"version":1,"hosts":{',
    /is not JSON .*: ignored, defaults used; the next run writes it anew/,
  ],
  [
    'a wrong shape',
    '{"version":1,"hosts":{"db1":{"copy":[-5]}}}',
    /is not a rates file .*: ignored, defaults used/,
  ],
  ['another version', '{"version":2,"hosts":{}}', /is not a rates file/],
] as const)
  test(`a rates file that is ${what} is ignored with a note, then written anew`, async () => {
    const dir = await freshStateDir();
    await writeFile(join(dir, 'rates.json'), text);
    const r = await readRates('db1');
    assert.deepEqual(r.rates, {});
    assert.match(r.note ?? '', why);
    const rec = await recordRates({ host: 'db1', samples: { copy: 5 } });
    assert.match(rec.evidence[0]!, /rates: 1 rate\(s\) of host db1 recorded .*ignored/);
    assert.deepEqual(await readRates('db1'), { host: 'db1', rates: { copy: { value: 5, runs: 1 } } });
  });

test('a rates file that cannot be written is a note, not a failure', async () => {
  const dir = await freshStateDir();
  await chmod(dir, 0o500);
  try {
    const r = await recordRates({ host: 'db1', samples: { copy: 5 } });
    if (process.getuid?.() === 0) return; // root writes anyway
    assert.match(r.evidence[0]!, /^rates: not recorded \(.*\); the next plan uses the rates it had$/);
  } finally {
    await chmod(dir, 0o700);
  }
});

test('an unsafe state directory makes reading a note and recording a note', async () => {
  const dir = await freshStateDir();
  await chmod(dir, 0o777);
  try {
    assert.match(
      (await recordRates({ host: 'db1', samples: { copy: 5 } })).evidence[0]!,
      /not recorded .*open to other users/,
    );
  } finally {
    await chmod(dir, 0o700);
  }
  process.env.RUNBOOK_STATE_DIR = 'relative/dir';
  const r = await readRates('db1');
  assert.deepEqual(r.rates, {});
  assert.match(r.note ?? '', /RUNBOOK_STATE_DIR must be absolute/);
});
