// `npm run dev` as a new user meets it: the command runs as a child process, its printed commands are
// typed as printed (plan, a signed start, an approval of every gate, status, the temporal wrapper),
// and Ctrl-C (SIGINT) stops everything it started.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mkdtemp, readdir, readFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { projectRoot } from '../../scripts/lib/tools';
import { PERCONA_PITR } from '../../workflows/runbooks';

let dir = '';
let dev: ResultPromise | undefined;
let output = '';

after(async () => {
  if (dev && dev.exitCode === null) dev.kill('SIGKILL');
  if (dir) await removeTestDir(dir);
});

/** Processes whose argv or working directory names the dev directory (what it must not leave behind). */
async function processesUnder(d: string): Promise<string[]> {
  const left: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (argv.includes(d) || cwd === d || cwd.startsWith(`${d}/`)) left.push(`${pid} ${argv.slice(0, 120)}`);
  }
  return left;
}

/** Listens on `port` (null when something else already does). */
function occupy(port: number): Promise<Server | null> {
  return new Promise((ok) => {
    const server = createServer();
    server.once('error', () => ok(null));
    server.listen(port, '127.0.0.1', () => ok(server));
  });
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; dev output:\n${output}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('npm run dev: the printed commands plan, start, approve every gate and complete; Ctrl-C leaves nothing running', async () => {
  dir = await mkdtemp(join(tmpdir(), 'devenv-'));
  // Temporal's default ports taken (here, or already by something else): the dev server picks free ones.
  const squatters = await Promise.all([7233, 8233].map(occupy));
  after(() => squatters.forEach((s) => s?.close()));
  const proc = execa(
    process.execPath,
    ['--import', 'tsx', join(projectRoot, 'scripts/dev.ts'), '--dir', dir],
    {
      cwd: projectRoot,
      reject: false,
      buffer: false,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  dev = proc;
  proc.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  proc.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  await waitFor('the ready line', () => output.includes('dev environment ready'), 180_000);

  const printed = output
    .split('\n')
    .filter((l) => l.startsWith('  '))
    .map((l) => l.trim());
  const address = /^export TEMPORAL_ADDRESS=(\S+)$/m.exec(printed.join('\n'))?.[1];
  assert.ok(address, `the address is printed:\n${output}`);
  assert.match(output, /Web UI http:\/\/127\.0\.0\.1:\d+/);
  assert.ok(
    !/:(7233|8233)\b/.test(`${address} ${/Web UI (\S+)/.exec(output)?.[1]}`),
    'free ports, not the busy defaults',
  );
  const workerPid = Number(/runbook worker polling .* pid (\d+)/.exec(output)?.[1]);
  assert.ok(workerPid > 0, 'the production worker started');

  // Each printed command, typed as printed (no shell: the paths have no spaces).
  const type = async (prefix: string) => {
    const line = printed.find((l) => l.startsWith(prefix));
    assert.ok(line, `a printed command starts with "${prefix}"`);
    const [cmd, ...args] = line.split(/\s+/);
    const r = await execa(cmd!, args, {
      cwd: projectRoot,
      reject: false,
      env: { TEMPORAL_ADDRESS: address, RUNBOOK_TASK_QUEUE: 'mysql-runbooks' },
    });
    assert.equal(r.exitCode, 0, `${line}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  const planOut = await type('npm run runbook -- plan perconaPointInTimeRecovery');
  const plan = JSON.parse(planOut.slice(planOut.indexOf('{'))) as {
    mode: string;
    destructiveSteps: string[];
    plan: { replay: { gaps: unknown[] } };
  };
  assert.equal(plan.mode, 'plan');
  assert.deepEqual(plan.plan.replay.gaps, []);
  const gates = PERCONA_PITR.steps.filter((s) => s.destructive).map((s) => s.name);
  assert.deepEqual(plan.destructiveSteps, gates);

  await type('npm run runbook -- start perconaPointInTimeRecovery');
  const approvals = printed.filter((l) => l.startsWith('npm run runbook -- approve'));
  assert.deepEqual(
    approvals.map((l) => /--step (\S+)/.exec(l)?.[1]),
    gates,
    'an approve command for every gate, in order',
  );
  for (const [i, gate] of gates.entries()) {
    await waitFor(
      `${gate} to wait for approval`,
      async () => new RegExp(`${gate}\\s+waiting-approval`).test(await type('npm run runbook -- status ')),
      60_000,
    );
    await type(approvals[i]!);
  }
  await waitFor(
    'the run to complete',
    async () => /status: COMPLETED/.test(await type('npm run runbook -- status ')),
    120_000,
  );
  assert.match(await type('npm run temporal -- workflow list'), /pitr-shop-dev/);

  proc.kill('SIGINT');
  const r = await Promise.race([
    proc,
    new Promise((_, no) => setTimeout(() => no(new Error('no exit 60 s after SIGINT')), 60_000)),
  ]);
  assert.equal((r as { exitCode?: number }).exitCode, 0, output);
  assert.match(output, /\[dev\] stopped/);
  assert.deepEqual(await processesUnder(dir), [], 'nothing the dev environment started is left running');
  assert.throws(() => process.kill(workerPid, 0), 'the worker is gone');
  const left = await execa(
    process.execPath,
    [
      '-e',
      `require('net').connect(${address.split(':')[1]}, '127.0.0.1').on('connect', () => process.exit(3)).on('error', () => process.exit(0))`,
    ],
    { reject: false },
  );
  assert.equal(left.exitCode, 0, 'the Temporal server no longer listens');
});
