// The opt-in timing record of external commands (RUNBOOK_COMMAND_TIMINGS), used by `npm run bench:scale`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand, runPipe } from '../../activities/runtime/command';
import { waitUntil } from '../../activities/runtime/processes';

let dir = '';
let file = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'command-timings-'));
  file = join(dir, 'timings.jsonl');
});
after(async () => {
  delete process.env.RUNBOOK_COMMAND_TIMINGS;
  await rm(dir, { recursive: true, force: true });
});

const records = async () =>
  (await readFile(file, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { program: string; start: number; end: number; ms: number });

test('without RUNBOOK_COMMAND_TIMINGS nothing is recorded', async () => {
  delete process.env.RUNBOOK_COMMAND_TIMINGS;
  await runCommand([process.execPath, '-e', '0']);
  assert.deepEqual(await records(), []);
});

test('each command, pipe and wait appends one line naming the program only, never its arguments', async () => {
  process.env.RUNBOOK_COMMAND_TIMINGS = file;
  const t0 = Date.now();
  await runCommand([process.execPath, '-e', 'setTimeout(() => {}, 150)', 'hunter2']);
  await runPipe(
    [process.execPath, '-e', 'console.log(1)'],
    [process.execPath, '-e', 'process.stdin.resume()'],
  );
  let n = 0;
  await waitUntil('the answer', async () => ++n > 1, 5_000, 10);
  const r = await records();
  const node = process.execPath.split('/').at(-1)!;
  assert.deepEqual(
    r.map((x) => x.program),
    [node, `${node} | ${node}`, 'wait for the answer'],
  );
  assert.ok(
    r[0]!.ms >= 150 && r[0]!.end - r[0]!.start === r[0]!.ms && r[0]!.start >= t0,
    JSON.stringify(r[0]),
  );
  assert.ok(!(await readFile(file, 'utf8')).includes('hunter2'));
});
