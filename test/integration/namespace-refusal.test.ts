// A namespace without the runbooks' search attributes: the production worker and the `runbook` CLI
// refuse it at start (exit ≠ 0, the missing names and `setup-namespace` named) instead of letting every
// run hang at its first step; nothing is started on it; once `setup-namespace` ran, both start.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Client, Connection } from '@temporalio/client';
import { projectRoot } from '../../scripts/lib/tools';
import { startDevServer, type DevServer } from '../../scripts/lib/temporal-dev-server';
import { uniqueQueue } from '../support/temporal';
import '../support/fleet'; // this process's own catalog directory, read by the worker it starts

let server: DevServer;
let dir: string;
let connection: Connection;
const taskQueue = uniqueQueue('ns-refusal');
const MISSING = /lacks the search attribute\(s\) RunbookKind, RunbookStep, RecoveryTarget, Cluster/;
const FIX = /npm run runbook -- setup-namespace/;

const env = () => ({
  TEMPORAL_ADDRESS: server.address,
  RUNBOOK_TASK_QUEUE: taskQueue,
  RUNBOOK_CATALOG: process.env.RUNBOOK_CATALOG ?? '',
  RUNBOOK_STATE_DIR: join(dir, 'state'),
});

function runbook(...args: string[]) {
  return execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'scripts/runbook.ts'), ...args], {
    cwd: projectRoot,
    reject: false,
    env: env(),
  });
}

/** workers/worker.ts until it prints that it polls (then SIGTERM) or exits by itself. */
async function workerRun(): Promise<{ exitCode: number | undefined; output: string; polled: boolean }> {
  const proc = execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'workers/worker.ts')], {
    cwd: projectRoot,
    env: env(),
    reject: false,
    all: true,
    buffer: false,
  });
  let output = '';
  let polled = false;
  proc.all?.on('data', (b: Buffer) => {
    output += b.toString();
    if (!polled && output.includes('runbook worker polling')) {
      polled = true;
      proc.kill('SIGTERM');
    }
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  const r = await proc;
  clearTimeout(timer);
  return { exitCode: r.exitCode, output, polled };
}

async function executionsOnNamespace(): Promise<number> {
  const client = new Client({ connection });
  let n = 0;
  for await (const _ of client.workflow.list()) n++;
  return n;
}

async function pollersOfQueue(): Promise<number> {
  const r = await connection.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: taskQueue },
    taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
  });
  return r.pollers?.length ?? 0;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ns-refusal-'));
  server = await startDevServer({ headless: true, searchAttributes: false });
  connection = await Connection.connect({ address: server.address });
});

after(async () => {
  await connection?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a namespace without the search attributes', () => {
  test('the worker process refuses at start: exit 1, the missing attributes and the fix named, it never polls', async () => {
    const r = await workerRun();
    assert.equal(r.polled, false, r.output);
    assert.equal(r.exitCode, 1, r.output);
    assert.match(r.output, /worker: namespace default lacks/);
    assert.match(r.output, MISSING);
    assert.match(r.output, FIX);
    assert.equal(await pollersOfQueue(), 0, 'no poller on the task queue');
  });

  test('runbook plan and start refuse: exit 2, the missing attributes and the fix named, nothing started', async () => {
    const file = join(dir, 'request.json');
    await writeFile(file, JSON.stringify({ cluster: 'shop', target: { type: 'latest' } }));
    for (const command of ['plan', 'start']) {
      const r = await runbook(command, 'perconaPointInTimeRecovery', '--input', file);
      assert.equal(r.exitCode, 2, `${command}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, MISSING, command);
      assert.match(r.stderr, FIX, command);
      assert.doesNotMatch(r.stdout, /started/, command);
    }
    assert.equal(await executionsOnNamespace(), 0, 'no workflow on the namespace');
  });

  test('after setup-namespace, the worker polls and runbook start starts', async () => {
    const setup = await runbook('setup-namespace');
    assert.equal(setup.exitCode, 0, setup.stderr);
    const w = await workerRun();
    assert.equal(w.polled, true, w.output);
    assert.doesNotMatch(w.output, /lacks/);

    const file = join(dir, 'request.json');
    const r = await runbook('start', 'perconaPointInTimeRecovery', '--input', file, '--id', 'ns-ready');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /started perconaPointInTimeRecovery ns-ready/);
    assert.equal(await executionsOnNamespace(), 1);
  });
});
