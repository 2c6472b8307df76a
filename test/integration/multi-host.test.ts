// perconaPointInTimeRecovery across two hosts: the cluster (the real MariaDB source, a process
// cluster) on host "a", the restore target on host "b", each served by its own host agent process
// (workers/host-agent.ts) — in a network namespace of its own when the machine allows it — and the
// workflows on a separate controller (workers/worker.ts, RUNBOOK_ROLE=controller). The history shows
// which agent ran each activity; the result must equal the same recovery run by one worker.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cp, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { approveUpdate, progressQuery, RunbookStepKey, type StepState } from '../../workflows/kit';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { ACTIVITY_PLACEMENT, type ActivityName } from '../../activities/index';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { recordAccident, type Accident } from '../support/percona-scenario';
import { startWorker, temporalAddress, testClient, uniqueQueue } from '../support/temporal';
import { runWorkflow, runWorkflowExpectingFailure } from '../support/workflows';
import { spawnHostAgent, spawnWorker, type WorkerProcess } from '../support/worker-process';
import { netnsOf, simulateHosts, type SimulatedHost, type SimulatedHosts } from '../support/netns';
import { catalogRequest } from '../support/fleet';

const TYPE = 'perconaPointInTimeRecovery';
/** The cluster's work runs where the cluster runs; everything else of a restore where it restores. */
const CLUSTER_WORK = new Set<string>(['checkCluster', 'pauseCluster', 'unpauseCluster']);

let acc: Accident;
let client: Client;
let closeClient: () => Promise<void>;
let sim: SimulatedHosts;
let hostA: SimulatedHost;
let hostB: SimulatedHost;
let rootB: string;
const queue = uniqueQueue('multi-host');
let controller: WorkerProcess;
const agents = new Map<string, WorkerProcess>();
/** The tables of the same recovery run by one worker with no host named. */
let singleHostTables: PerconaResult['tables'];
let n = 0;

async function startAgent(h: SimulatedHost): Promise<WorkerProcess> {
  const root = h.name === 'b' ? rootB : acc.base;
  await mkdir(join(root, `tmp-${h.name}`), { recursive: true });
  const agent = await spawnHostAgent(queue, h.name, {
    wrap: h.wrap,
    env: { TEMPORAL_ADDRESS: h.temporalAddress, TMPDIR: join(root, `tmp-${h.name}`) },
  });
  agents.set(h.name, agent);
  return agent;
}

/** Restores the accident to just before the DROP; `hosts` puts the cluster on a and the target on b. */
function input(hosts: boolean, extra: Record<string, unknown> = {}) {
  n++;
  const s = acc.source.server;
  return {
    recoveryId: `multi-host-${n}-${Date.now()}`,
    cluster: {
      adapter: 'process',
      name: 'shop',
      ...(hosts ? { host: 'a' } : {}),
      pidFile: s.pidFile,
      start: s.argv,
      connection: acc.source.endpoint,
    },
    backup: { dir: join(rootB, 'backup') },
    restore: { ...(hosts ? { host: 'b' } : {}), datadir: join(rootB, `restore-${n}`, 'data') },
    archive: { kind: 'fs', dir: join(rootB, 'archive') },
    target: { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
    verify: { schemas: ['shop'] },
    heartbeatTimeout: '10s',
    ...extra,
  };
}

interface Ran {
  activity: string;
  queue: string;
  identity: string;
}

/**
 * Every activity the run started (`all`: with the controller's own resolveRequest, which merges the
 * request with the fleet catalog): its task queue and the identity of the worker that took it.
 */
async function activitiesRun(handle: WorkflowHandle, all = false): Promise<Ran[]> {
  const scheduled = new Map<string, { activity: string; queue: string }>();
  const ran: Ran[] = [];
  for (const e of (await handle.fetchHistory()).events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), { activity: s.activityType!.name!, queue: s.taskQueue!.name! });
    const st = e.activityTaskStartedEventAttributes;
    if (st) ran.push({ ...scheduled.get(String(st.scheduledEventId))!, identity: st.identity ?? '' });
  }
  return all ? ran : ran.filter((x) => x.activity !== 'resolveRequest');
}

const hostOf = (activity: string) => (CLUSTER_WORK.has(activity) ? 'a' : 'b');

async function waitForStep(
  handle: WorkflowHandle,
  step: string,
  ok: (s: StepState) => boolean,
): Promise<StepState> {
  for (let i = 0; i < 600; i++) {
    const s = (await handle.query(progressQuery)).steps.find((x) => x.name === step);
    if (s && ok(s)) return s;
    await acc.sleep(100);
  }
  throw new Error(`step ${step} did not reach the expected state`);
}

before(async () => {
  acc = await recordAccident();
  // Host b's data root: its own copy of the base backup and of the binlog archive, as shipped to it.
  rootB = await mkdtemp(join(tmpdir(), 'host-b-'));
  await cp(acc.backupDir, join(rootB, 'backup'), { recursive: true });
  await cp(acc.source.archiveDir, join(rootB, 'archive'), { recursive: true });
  sim = await simulateHosts(['a', 'b'], temporalAddress());
  [hostA, hostB] = sim.hosts as [SimulatedHost, SimulatedHost];
  console.log(`# multi-host: hosts a and b as ${sim.kind}`);
  ({ client, close: closeClient } = await testClient());
  // The reference: one worker, no host named, everything on this machine.
  const single = await startWorker(uniqueQueue('single-host'));
  try {
    const r = await runWorkflow<PerconaResult>(client, TYPE, single.taskQueue, input(false));
    singleHostTables = r.tables;
  } finally {
    await single.stop();
  }
  controller = await spawnWorker(queue, { RUNBOOK_ROLE: 'controller' });
  await Promise.all([startAgent(hostA), startAgent(hostB)]);
});

after(async () => {
  for (const a of agents.values()) await a.stop();
  await controller?.stop();
  await closeClient?.();
  await acc?.cleanup(); // stops the cluster's mysqld, restarted inside host a by its agent
  await sim?.close();
  if (rootB) await removeTestDir(rootB);
});

describe('a recovery across two hosts', () => {
  test('the one-machine reference run restored the source just before the DROP', () => {
    assert.deepEqual(singleHostTables, acc.truth);
  });

  test('each activity runs on the agent of its host, and the result equals the one-machine run', async () => {
    assert.match(controller.output(), /controller only/);
    if (hostA.netns) {
      assert.equal(await netnsOf(agents.get('a')!.pid), hostA.netns);
      assert.equal(await netnsOf(agents.get('b')!.pid), hostB.netns);
    }
    const id = `multi-host-${Date.now()}`;
    const r = await runWorkflow<PerconaResult>(client, TYPE, queue, input(true), id);
    assert.deepEqual(r.tables, singleHostTables);
    assert.deepEqual(r.tables, acc.truth);

    const resolved = (await activitiesRun(client.workflow.getHandle(id), true))[0];
    assert.deepEqual([resolved?.activity, resolved?.queue], ['resolveRequest', queue], 'on the controller');
    assert.doesNotMatch(resolved!.identity, /host-agent/);
    const ran = await activitiesRun(client.workflow.getHandle(id));
    const names = ran.map((x) => x.activity);
    for (const must of [
      'planPerconaRecovery',
      'checkCluster',
      'pauseCluster',
      'restoreBackup',
      'unpauseCluster',
    ])
      assert.ok(names.includes(must), `${must} ran`);
    for (const x of ran) {
      const host = hostOf(x.activity);
      assert.equal(
        ACTIVITY_PLACEMENT[x.activity as ActivityName],
        x.activity === 'verifyRestore' ? 'sql' : 'host',
      );
      assert.equal(x.queue, `${queue}.host.${host}`, `${x.activity} scheduled on host ${host}'s queue`);
      assert.match(
        x.identity,
        new RegExp(`^host-agent:${host}:${agents.get(host)!.pid}@`),
        `${x.activity} ran on ${host}`,
      );
    }
    // Each agent told the workflow as it started each activity (what ends `waiting-host` in progress).
    const signals = ((await client.workflow.getHandle(id).fetchHistory()).events ?? []).filter(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'hostWorkStarted',
    );
    assert.equal(signals.length, ran.length);
    // The restored server (a unix socket on host b) was verified on host b, not by the controller.
    assert.ok(ran.some((x) => x.activity === 'verifyRestore' && x.identity.startsWith('host-agent:b:')));
  });

  test("with host b's agent stopped mid-run, the step waits on b's queue and resumes when it returns", async () => {
    const id = `multi-host-wait-${Date.now()}`;
    const handle = await client.workflow.start(TYPE, {
      taskQueue: queue,
      workflowId: id,
      args: [await catalogRequest(TYPE, input(true, { requireApproval: true, hostTimeout: '5m' }))],
    });
    await waitForStep(handle, 'pause-cluster', (s) => s.status === 'waiting-approval');
    await agents.get('b')!.stop(); // host b goes away after the plan ran there
    for (const step of ['pause-cluster', 'restore-backup'])
      await handle.executeUpdate(approveUpdate, { args: [{ step, approver: 'test', reason: 'multi-host' }] });

    // Host a paused its cluster; the pause is then recorded beside the datadir on host b, which is down.
    const waiting = await waitForStep(
      handle,
      'pause-cluster',
      (s) => s.status === 'waiting-host' && !!s.waitingOn?.startsWith('host b'),
    );
    assert.equal(waiting.waitingOn, `host b (task queue ${queue}.host.b)`);
    assert.deepEqual(
      waiting.hostWork?.map((w) => [w.host, w.activity, w.state]),
      [['b', 'recordBeforeRun', 'waiting']],
    );
    const sa = (await handle.describe()).typedSearchAttributes;
    assert.equal(sa.get(RunbookStepKey), 'pause-cluster:waiting-host:b');
    // It keeps waiting: the controller and host a's agent are up, and neither takes it.
    await acc.sleep(3000);
    const still = (await handle.query(progressQuery)).steps.find((s) => s.name === 'pause-cluster')!;
    assert.equal(still.status, 'waiting-host');
    assert.equal((await handle.describe()).raw.pendingActivities?.[0]?.state, 1); // SCHEDULED, not started

    const back = await startAgent(hostB);
    const r = (await handle.result()) as PerconaResult;
    assert.deepEqual(r.tables, singleHostTables);
    const restore = (await activitiesRun(handle)).filter((x) => x.activity === 'restoreBackup');
    assert.deepEqual(
      restore.map((x) => x.identity.split('@')[0]),
      [`host-agent:b:${back.pid}`],
      'one copy-back, by the agent that came back',
    );
  });

  test('with no agent on host b, the step fails after hostTimeout naming the host, and nothing ran', async () => {
    await agents.get('b')!.stop();
    agents.delete('b');
    const f = await runWorkflowExpectingFailure(client, TYPE, queue, input(true, { hostTimeout: '4s' }));
    assert.match(
      f.message,
      new RegExp(
        `^locate-binlogs: host b did not take planPerconaRecovery within 4s: no agent polls its task queue ${queue}\\.host\\.b`,
      ),
    );
    assert.deepEqual(await activitiesRun(client.workflow.getHandle(f.workflowId)), []);
    assert.notEqual(await acc.source.server.pid(), null, 'the cluster on host a was not paused');
  });

  test('the controller runs no host work: an input that names no host fails at once, saying so', async () => {
    const f = await runWorkflowExpectingFailure(client, TYPE, queue, input(false));
    assert.match(
      f.message,
      /^locate-binlogs: planPerconaRecovery works on a host's files or processes, and the input names no host for it: this controller \(RUNBOOK_ROLE=controller\) runs no host work/,
    );
    const ran = await activitiesRun(client.workflow.getHandle(f.workflowId));
    assert.deepEqual(
      ran.map((x) => [x.activity, x.queue]),
      [['planPerconaRecovery', queue]],
      'one attempt, on the controller, which refused it',
    );
    assert.notEqual(await acc.source.server.pid(), null, 'the cluster was not paused');
  });

  test('an agent without RUNBOOK_HOST, or credentials without a namespace, refuses to start', async () => {
    await assert.rejects(spawnHostAgent(queue, ''), /RUNBOOK_HOST is not set/);
    await assert.rejects(
      spawnWorker(queue, { TEMPORAL_API_KEY: 'not-a-real-key' }),
      /API key credentials are configured but TEMPORAL_NAMESPACE is not/,
    );
  });
});
