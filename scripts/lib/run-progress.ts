// A run's steps, whatever state it is in: from the `progress` query while it runs, from its result once
// it completed, and from the query again (a replay on a worker) once it failed. Shared by
// `runbook status` and `runbook report`.
import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { progressQuery, type RunbookProgress, type StepState } from '../../workflows/kit';

export interface RunProgress {
  description: WorkflowExecutionDescription;
  /** Null when the run has no steps to show (no worker to answer the query of a failed run). */
  progress: RunbookProgress | null;
  /** A completed run's result. */
  result?: unknown;
  /** A failed, cancelled, terminated or timed-out run's error, as handle.result() threw it. */
  error?: unknown;
}

export async function readRunProgress(handle: WorkflowHandle): Promise<RunProgress> {
  const description = await handle.describe();
  const query = () => handle.query(progressQuery).catch(() => null);
  if (description.status.name === 'RUNNING')
    return { description, progress: await handle.query(progressQuery) };
  try {
    const result = (await handle.result()) as {
      steps?: StepState[];
      recoveryId?: string;
      mode?: 'run' | 'plan';
    };
    const progress: RunbookProgress | null = result?.steps
      ? {
          kind: description.type,
          recoveryId: result.recoveryId ?? description.workflowId,
          mode: result.mode ?? 'run',
          currentStep: null,
          steps: result.steps,
        }
      : null;
    return { description, progress, result };
  } catch (error) {
    return { description, progress: await query(), error };
  }
}
