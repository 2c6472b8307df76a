// The bad-input catalog's machinery, the same for every runbook: run a request that must be refused,
// prove the refusal was final (non-retryable, no activity retried, no destructive step started) from
// the run's own history and progress, and keep one row per case for the table printed at the end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { progressQuery, type RunbookProgress, type StepStatus } from '../../workflows/kit';
import { temporalAddress } from './temporal';
import { catalogRequest } from './fleet';

/** What a refused run tells the operator, and the checks of "refused for good, before anything". */
export interface Refusal {
  workflowId: string;
  message: string;
  type: string | undefined;
  /** Checks passed (each a short phrase for the table). */
  checks: string[];
}

/** One row of the printed table. */
export interface CatalogRow {
  runbook: string;
  name: string;
  error: string;
  checks: string[];
  ok: boolean;
  /** The product bug the case is known to show (a todo). */
  knownBug?: string;
}

export const catalogRows: CatalogRow[] = [];

/** A destructive step in these states did nothing (skipped: its checkpoint says it is already done). */
const NOT_STARTED: StepStatus[] = ['pending', 'skipped-by-checkpoint'];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls the run while it is open. An activity on its second attempt means the error was retryable; a
 * destructive step that started (the catalog runs with requireApproval, so it would be waiting
 * at the gate) means the request got past the plan. Either way the run is terminated at once — it
 * could retry for minutes, or change the world for the cases after it — and the case fails.
 */
async function watchRun(handle: WorkflowHandle, done: () => boolean): Promise<string | null> {
  while (!done()) {
    const d = await handle.describe().catch(() => null);
    const retried = d?.raw.pendingActivities?.find((a) => (a.attempt ?? 1) > 1);
    const progress = await handle.query(progressQuery).catch(() => null);
    const gate = progress?.steps.find((s) => s.destructive && !NOT_STARTED.includes(s.status));
    const problem = retried
      ? `activity ${retried.activityType?.name} was retried (attempt ${retried.attempt}): ${
          retried.lastFailure?.message ?? '(no failure recorded)'
        }`
      : gate
        ? `not refused: the run reached the destructive step ${gate.name} (${gate.status})`
        : null;
    if (problem) {
      await handle.terminate(`bad-input catalog: ${problem}`).catch(() => {});
      return problem;
    }
    await sleep(250);
  }
  return null;
}

/** The outermost application failure: what the operator reads (`<step>: <what went wrong>`). */
function operatorFailure(err: WorkflowFailedError): ApplicationFailure | undefined {
  let cause: unknown = err.cause;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure)) cause = cause.cause;
  return cause instanceof ApplicationFailure ? cause : undefined;
}

/** No step marked destructive started (a run refused at input has no progress at all). */
async function destructiveStepsUntouched(handle: WorkflowHandle): Promise<string> {
  let progress: RunbookProgress;
  try {
    progress = await handle.query(progressQuery);
  } catch (err) {
    // parseInput refuses before the runbook (and its query handler) exists: nothing can have started.
    if (/query|not registered|unknown/i.test(String(err))) return 'refused before any step';
    throw err;
  }
  const started = progress.steps.filter((s) => s.destructive && !NOT_STARTED.includes(s.status));
  if (started.length)
    throw new Error(`destructive step(s) started: ${started.map((s) => `${s.name}=${s.status}`).join(', ')}`);
  const failed = progress.steps.find((s) => s.status === 'failed')?.name ?? 'none';
  return `no destructive step started (failed at ${failed})`;
}

/** Runs `type` with `input`, which must be refused; returns the refusal after checking it was final. */
export async function runRefusal(
  client: Client,
  type: string,
  taskQueue: string,
  input: unknown,
  workflowId = `${type}-catalog-${randomUUID().slice(0, 8)}`,
): Promise<Refusal> {
  const handle = await client.workflow.start(type, {
    taskQueue,
    workflowId,
    args: [await catalogRequest(type, input)],
  });
  let finished = false;
  let failure: WorkflowFailedError | undefined;
  const result = handle.result().then(
    () => {
      throw new Error(`workflow ${workflowId} was expected to be refused but completed`);
    },
    (err: unknown) => {
      if (!(err instanceof WorkflowFailedError)) throw err;
      failure = err;
    },
  );
  const watch = watchRun(handle, () => finished);
  try {
    await result;
  } finally {
    finished = true;
  }
  const retried = await watch;
  if (retried) throw new Error(retried);
  const app = operatorFailure(failure!);
  const message = app?.message ?? failure!.message;
  if (!app?.nonRetryable) throw new Error(`the refusal is not marked non-retryable: ${message}`);

  const checks = ['non-retryable'];
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const attempts = events
    .map((e) => e.activityTaskStartedEventAttributes?.attempt)
    .filter((a): a is number => typeof a === 'number');
  if (attempts.some((a) => a > 1)) throw new Error(`an activity ran more than once: attempts ${attempts}`);
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  if ((started?.attempt ?? 1) !== 1) throw new Error(`the run is attempt ${started?.attempt}`);
  if (!events.at(-1)?.workflowExecutionFailedEventAttributes)
    throw new Error('the run did not end with WorkflowExecutionFailed');
  checks.push(`failed on attempt 1 (${attempts.length} activit${attempts.length === 1 ? 'y' : 'ies'})`);
  checks.push(await destructiveStepsUntouched(handle));
  return { workflowId, message, type: app.type ?? undefined, checks };
}

/**
 * A request Temporal itself refuses at the door (larger than the gRPC message limit): no run exists.
 * Sent on a connection of its own without the SDK's retry interceptor, which would retry the
 * RESOURCE_EXHAUSTED answer for half a minute.
 */
export async function startRefusal(
  _client: Client,
  type: string,
  taskQueue: string,
  input: unknown,
): Promise<Refusal> {
  const workflowId = `${type}-catalog-${randomUUID().slice(0, 8)}`;
  const connection = await Connection.connect({ address: temporalAddress(), interceptors: [] });
  const client = new Client({ connection });
  try {
    await client.workflow.start(type, { taskQueue, workflowId, args: [await catalogRequest(type, input)] });
  } catch (err) {
    // The SDK's "Failed to start Workflow" says little; the server's reason is in the cause.
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    const message = `${err instanceof Error ? err.message : String(err)}${cause}`;
    const exists = await client.workflow
      .getHandle(workflowId)
      .describe()
      .then(
        () => true,
        () => false,
      );
    await connection.close();
    if (exists) throw new Error(`the start failed (${message}) but run ${workflowId} exists`);
    return { workflowId, message, type: undefined, checks: ['refused at start', 'no run created'] };
  }
  await client.workflow
    .getHandle(workflowId)
    .terminate('bad-input catalog')
    .catch(() => {});
  await connection.close();
  throw new Error(`workflow ${workflowId} was started although its input should be refused at the door`);
}

/** The table of every case, one line each (markdown, so it can be pasted into a note). */
export function formatCatalogTable(rows: CatalogRow[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const firstLine = (s: string) => {
    const line = s.split('\n')[0] ?? '';
    return line.length > 160 ? `${line.slice(0, 157)}...` : line;
  };
  const lines = [
    '| # | runbook | case | error (first line) | nothing-changed checks passed |',
    '|---|---|---|---|---|',
    // Grouped by runbook (cases finish in any order when they run at the same time).
    ...[...rows]
      .sort((a, b) => a.runbook.localeCompare(b.runbook))
      .map(
        (r, i) =>
          `| ${i + 1} | ${r.runbook} | ${cell(r.name)} | ${cell(firstLine(r.error))} | ${
            r.ok
              ? cell(r.checks.join('; '))
              : `${r.knownBug ? `KNOWN PRODUCT BUG (todo): ${cell(r.knownBug)}. Observed: ` : 'FAILED: '}${cell(r.checks.join('; '))}`
          } |`,
      ),
  ];
  const ok = rows.filter((r) => r.ok).length;
  const bugs = rows.filter((r) => !r.ok && r.knownBug).length;
  return `${lines.join('\n')}\n${ok} of ${rows.length} case(s) refused with nothing changed; ${bugs} known product bug(s) (todo)`;
}

/** A world a runbook's cases run against: it proves, after each case, that nothing in it changed. */
export interface CatalogWorld {
  /** Throws if anything differs from the world as built; returns the checks that passed. */
  nothingChanged(input: unknown): Promise<string[]>;
}

export interface CatalogCase<W> {
  name: string;
  /** The request (built once the world exists); may prepare files of its own first. */
  input: (world: W) => unknown;
  /** The error the operator must read (matched against the whole message). */
  expect: RegExp;
  /** Temporal refuses the request at the door (no run): e.g. a payload over its size limit. */
  atStart?: boolean;
  /** The run's workflow id, when the case is about it (default: a fresh, well-formed one). */
  workflowId?: string;
  /** Puts back what `input` damaged on purpose (before the world is checked). */
  restore?: (world: W) => Promise<void>;
  /** A product bug this case reveals: it still runs and shows in the table, as a todo, not a pass. */
  knownBug?: string;
}

/** Registers one test per case (inside the caller's describe); each adds its row to the table. */
export function catalogTests<W extends CatalogWorld>(spec: {
  runbook: string;
  world: () => W;
  client: () => Client;
  taskQueue: () => string;
  cases: CatalogCase<W>[];
  /** Secrets that must never appear in an error message. */
  secrets?: () => string[];
}): void {
  for (const c of spec.cases)
    test(c.name, c.knownBug ? { todo: c.knownBug } : {}, async () => {
      const row: CatalogRow = {
        runbook: spec.runbook,
        name: c.name,
        error: '',
        checks: [],
        ok: false,
        knownBug: c.knownBug,
      };
      catalogRows.push(row);
      try {
        const world = spec.world();
        // Every request asks for approval: one that wrongly gets past the plan stops at the gate.
        const raw = await c.input(world);
        const input = raw && typeof raw === 'object' ? { requireApproval: true, ...raw } : raw;
        const refusal = await (
          c.atStart
            ? startRefusal(spec.client(), spec.runbook, spec.taskQueue(), input)
            : runRefusal(spec.client(), spec.runbook, spec.taskQueue(), input, c.workflowId)
        ).finally(() => c.restore?.(world));
        row.error = refusal.message;
        assert.match(refusal.message, c.expect);
        for (const s of spec.secrets?.() ?? [])
          assert.ok(!refusal.message.includes(s), 'a secret is in the error message');
        row.checks = [...refusal.checks, ...(await world.nothingChanged(input))];
        row.ok = true;
      } catch (err) {
        row.checks.push(err instanceof Error ? err.message.split('\n')[0]! : String(err));
        throw err;
      }
    });
}
