// Running runbooks in tests: start, wait, and read a failure down to the message an operator sees.
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { catalogRequest } from './fleet';

export async function runWorkflow<T>(
  client: Client,
  type: string,
  taskQueue: string,
  input: unknown,
  workflowId = `${type}-${randomUUID().slice(0, 8)}`,
): Promise<T> {
  const handle = await client.workflow.start(type, {
    taskQueue,
    workflowId,
    args: [await catalogRequest(type, input)],
  });
  return (await handle.result()) as T;
}

export interface RunFailure {
  message: string;
  type: string | undefined;
  workflowId: string;
}

/** The message an Update's validator or handler rejected it with. */
export async function updateRejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
  }
  throw new Error('the Update was expected to be rejected');
}

/** Runs a workflow that must fail; returns the innermost application failure's message and type. */
export async function runWorkflowExpectingFailure(
  client: Client,
  type: string,
  taskQueue: string,
  input: unknown,
): Promise<RunFailure> {
  const workflowId = `${type}-bad-${randomUUID().slice(0, 8)}`;
  const handle = await client.workflow.start(type, {
    taskQueue,
    workflowId,
    args: [await catalogRequest(type, input)],
  });
  try {
    await handle.result();
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    // The outermost application failure is what the operator sees: `<step>: <what went wrong>`.
    let cause: unknown = err.cause;
    while (cause instanceof Error && !(cause instanceof ApplicationFailure)) cause = cause.cause;
    const message = cause instanceof Error ? cause.message : err.message;
    const failureType = cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
    return { message, type: failureType, workflowId };
  }
  throw new Error(`workflow ${workflowId} was expected to fail but completed`);
}
