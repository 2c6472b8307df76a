// The fast kit tests' harness: the fixture workflows (test/kit/fixtures/kit-workflows.ts) on a worker
// of the test file's own task queue, on the run's real dev server (TEMPORAL_ADDRESS), with activities
// that are in-process mocks. Each run's mocks and calls are kept by its workflow id, so the tests of a
// file share one bundle and one worker.
import { Context } from '@temporalio/activity';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type ActivityInterceptorsFactory,
  type WorkflowBundle,
} from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { APPROVALS_HEADER } from '../../workflows/approval-header';
import {
  hostWorkStartedSignal,
  progressQuery,
  type ApprovalRecord,
  type RunbookProgress,
  type StepOutcome,
  type StepState,
} from '../../workflows/kit';
import { hostQueueName } from '../../workflows/routing';
export { updateRejection } from '../support/workflows';
import type { KitActivities, KitActivityName, KitCall, KitInput } from './fixtures/kit-workflows';

const fixturePath = fileURLToPath(new URL('./fixtures/kit-workflows.ts', import.meta.url));
const approvalHeaderPath = fileURLToPath(new URL('../../workflows/approval-header.ts', import.meta.url));
const runMetadataPath = fileURLToPath(new URL('../../workflows/run-metadata.ts', import.meta.url));

/** One activity the workers were handed: which, for which run, on which queue, with which approvals. */
export interface MockCall {
  activity: KitActivityName;
  workflowId: string;
  taskQueue: string;
  args: KitCall;
  /** The run's accepted approvals from the activity's header (workflows/approval-header.ts). */
  approvals?: ApprovalRecord[];
  /** The worker that took it. */
  identity: string;
}
export type Mock = (call: MockCall) => StepOutcome | Promise<StepOutcome>;
export type Mocks = Partial<Record<KitActivityName, Mock>>;

const ACTIVITIES: KitActivityName[] = ['inspect', 'pause', 'restore', 'resume'];

export interface KitRun {
  handle: WorkflowHandle;
  workflowId: string;
  /** The run's first execution run id (what a signed approval names). */
  runId: string;
  /** What the workers were handed for this run so far, in order. */
  calls(): MockCall[];
}

export interface KitHarness {
  client: Client;
  taskQueue: string;
  start(input: KitInput, mocks?: Mocks, workflowType?: string): Promise<KitRun>;
  /** A host agent: a worker on the host's queue that announces each activity (hostWorkStarted), then runs the mock. */
  startAgent(host: string, identity: string): Promise<{ stop(): Promise<void> }>;
  stop(): Promise<void>;
}

let runtimeInstalled = false;
const quiet = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error: (message: string) => console.error(message),
};

export async function startKitHarness(): Promise<KitHarness> {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address)
    throw new Error('TEMPORAL_ADDRESS is not set: run the tests with `npx tsx scripts/run-tests.ts kit`');
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  }
  const taskQueue = `kit-${randomUUID().slice(0, 8)}`;
  const bundle: WorkflowBundle = await bundleWorkflowCode({
    workflowsPath: fixturePath,
    workflowInterceptorModules: [approvalHeaderPath, runMetadataPath],
    logger: quiet,
  });
  const mocks = new Map<string, Mocks>();
  const calls = new Map<string, MockCall[]>();

  // Every activity call is recorded as the worker is handed it, with the approvals its header carries.
  const recorder =
    (identity: string): ActivityInterceptorsFactory =>
    (ctx) => ({
      inbound: {
        execute(input, next) {
          const header = input.headers[APPROVALS_HEADER];
          const info = ctx.info;
          const workflowId = info.workflowExecution?.workflowId ?? '';
          const call: MockCall = {
            activity: info.activityType as KitActivityName,
            workflowId,
            taskQueue: info.taskQueue,
            args: input.args[0] as KitCall,
            identity,
            ...(header
              ? {
                  approvals: defaultPayloadConverter.fromPayload<{ approvals: ApprovalRecord[] }>(header)
                    .approvals,
                }
              : {}),
          };
          let list = calls.get(workflowId);
          if (!list) calls.set(workflowId, (list = []));
          list.push(call);
          return next(input);
        },
      },
    });
  const mocked = (announce?: { host: string; agent: string }): KitActivities =>
    Object.fromEntries(
      ACTIVITIES.map((activity) => [
        activity,
        async (args: KitCall): Promise<StepOutcome> => {
          const ctx = Context.current();
          const workflowId = ctx.info.workflowExecution?.workflowId ?? '';
          if (announce)
            await ctx.client.workflow
              .getHandle(workflowId)
              .signal(hostWorkStartedSignal, { host: announce.host, activity, agent: announce.agent });
          const mock = mocks.get(workflowId)?.[activity];
          const call = calls.get(workflowId)?.at(-1);
          return mock && call ? mock(call) : { evidence: [`${activity} done (${args.step})`] };
        },
      ]),
    ) as unknown as KitActivities;

  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: bundle,
    activities: mocked(),
    interceptors: { activity: [recorder('kit-controller')] },
    identity: 'kit-controller',
  });
  const running = worker.run();
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection });
  const agents = new Set<() => Promise<void>>();

  return {
    client,
    taskQueue,
    async start(input, runMocks = {}, workflowType = 'kitRunbook') {
      const workflowId = `kit-${randomUUID().slice(0, 8)}`;
      mocks.set(workflowId, runMocks);
      const handle = await client.workflow.start(workflowType, {
        taskQueue,
        workflowId,
        args: [input],
        workflowRunTimeout: '2m',
      });
      return {
        handle,
        workflowId,
        runId: handle.firstExecutionRunId,
        calls: () => [...(calls.get(workflowId) ?? [])],
      };
    },
    async startAgent(host, identity) {
      const agent = await Worker.create({
        connection,
        taskQueue: hostQueueName(taskQueue, host),
        activities: mocked({ host, agent: identity }),
        interceptors: { activity: [recorder(identity)] },
        identity,
      });
      const agentRunning = agent.run();
      const stop = async () => {
        agents.delete(stop);
        if (agent.getState() === 'RUNNING') agent.shutdown();
        await agentRunning;
      };
      agents.add(stop);
      return { stop };
    },
    async stop() {
      for (const stopAgent of [...agents]) await stopAgent();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await clientConnection.close();
      await connection.close();
    },
  };
}

/** Polls `progress` until the named step satisfies `ok`; fails with the last progress seen. */
export async function waitForStep(
  handle: WorkflowHandle,
  step: string,
  ok: (s: StepState) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<{ step: StepState; progress: RunbookProgress }> {
  const deadline = Date.now() + timeoutMs;
  let last: RunbookProgress | undefined;
  for (;;) {
    last = await handle.query(progressQuery);
    const s = last.steps.find((x) => x.name === step);
    if (s && ok(s)) return { step: s, progress: last };
    if (Date.now() > deadline)
      throw new Error(`step ${step} not ${what} within ${timeoutMs} ms; progress: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The statuses of a progress's steps, by name. */
export function statuses(p: { steps: StepState[] }): Record<string, string> {
  return Object.fromEntries(p.steps.map((s) => [s.name, s.status]));
}

export interface FailureLink {
  name: string;
  type?: string;
  message: string;
  details?: unknown[];
}

/** Waits for a run that must fail; returns its failure chain, outermost first (below WorkflowFailedError). */
export async function failureOf(handle: WorkflowHandle): Promise<FailureLink[]> {
  try {
    await handle.result();
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const chain: FailureLink[] = [];
    for (let e: unknown = err.cause; e instanceof Error; e = e.cause)
      chain.push({
        name: e.name,
        message: e.message,
        ...(e instanceof ApplicationFailure
          ? { ...(e.type ? { type: e.type } : {}), ...(e.details?.length ? { details: [...e.details] } : {}) }
          : {}),
      });
    return chain;
  }
  throw new Error(`workflow ${handle.workflowId} was expected to fail but completed`);
}
