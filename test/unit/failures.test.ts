// The failure catalogue (workflows/failures.ts): every throw goes through it, every entry is used and
// says what to do next, and the CLI finds the next action of the innermost catalogued failure.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { FAILURES, failure } from '../../workflows/failures';
import { nextAction } from '../../scripts/runbook';
import { projectRoot } from '../../scripts/lib/tools';

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const productFiles = async () =>
  (
    await Promise.all(
      ['activities', 'workflows', 'workers', 'scripts'].map((d) => sources(join(projectRoot, d))),
    )
  ).flat();

test('no product code makes its own non-retryable failure: every throw takes its type and retry from the catalogue', async () => {
  const offenders: string[] = [];
  for (const f of await productFiles()) {
    if (f.endsWith(join('workflows', 'failures.ts'))) continue;
    const text = await readFile(f, 'utf8');
    if (/ApplicationFailure\.(nonRetryable|retryable)\(/.test(text)) offenders.push(relative(projectRoot, f));
  }
  assert.deepEqual(offenders, []);
});

test("no activity throws a plain Error: whether a retry helps is the catalogue's to say, not the default", async () => {
  const offenders: string[] = [];
  for (const f of await sources(join(projectRoot, 'activities'))) {
    const lines = (await readFile(f, 'utf8')).split('\n');
    lines.forEach((l, i) => {
      if (/throw new Error\(|return new Error\(/.test(l))
        offenders.push(`${relative(projectRoot, f)}:${i + 1}`);
    });
  }
  assert.deepEqual(offenders, []);
});

test('every catalogued type is thrown somewhere and tells the operator what to do next', async () => {
  const uses = await Promise.all(
    (await productFiles())
      .filter((f) => !f.endsWith(join('workflows', 'failures.ts')))
      .map((f) => readFile(f, 'utf8')),
  );
  const all = uses.join('\n');
  for (const [type, spec] of Object.entries(FAILURES)) {
    assert.ok(spec.next.length > 20, `${type}: no next action`);
    assert.ok(all.includes(`'${type}'`), `${type} is catalogued but never thrown`);
  }
});

test('failure() follows the catalogue: non-retryable, typed, details kept', () => {
  const f = failure('DatadirInUse', 'refusing: pid 7 uses it', { pid: 7 });
  assert.ok(f instanceof ApplicationFailure);
  assert.equal(f.type, 'DatadirInUse');
  assert.equal(f.nonRetryable, true);
  assert.deepEqual(f.details, [{ pid: 7 }]);
});

test("the CLI's next action is the innermost catalogued type's (a step's wrapper names the step, the cause says why)", () => {
  const inner = failure('ArchiveGap', 'a hole between mysql-bin.000003 and 000005');
  const wrapped = ApplicationFailure.create({
    message: 'replay-binlogs: …',
    type: 'StepFailed',
    cause: inner,
  });
  assert.equal(nextAction(wrapped), FAILURES.ArchiveGap.next);
  assert.equal(nextAction(failure('StepFailed', 'x')), FAILURES.StepFailed.next);
  assert.equal(nextAction(new Error('plain')), undefined);
});
