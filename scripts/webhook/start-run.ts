// The start of a run from a verified delivery: one check-and-start at a time per cluster, a conflict
// (409) when another run is recovering the cluster (visibility, or a run started here moments ago),
// the run an incident already names when it is delivered again, and every call to Temporal bounded.
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { ClusterKey, RecoveryTargetKey, RunbookKindKey, RunbookStepKey } from '../../workflows/kit';
import type { RunbookFacts, RunbookKind } from '../lib/webhook-request';
import type { LogFields, Reply } from './reply';
import { runMetadata } from '../lib/run-summary';

/** A run this process started counts as busy for its cluster until visibility has surely caught up. */
const RECENT_START_MS = 60_000;

/** A visibility query string literal. */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export interface RunStarterOptions {
  client: Client;
  taskQueue: string;
  /** Deadline of each call to Temporal. */
  timeoutMs: number;
  /** The Web UI address of a run (the `url` in replies). */
  runUrl: (workflowId: string, runId?: string) => string;
}

export function runStarter({ client, taskQueue, timeoutMs, runUrl }: RunStarterOptions) {
  const recentStarts = new Map<string, { workflowId: string; at: number }>();
  const clusterLocks = new Map<string, Promise<unknown>>();

  /**
   * A call to Temporal bounded by the deadline: the gRPC deadline and an abort signal, and a timer
   * besides, since reaching an unreachable server is not always bounded by either.
   */
  function temporal<T>(fn: () => Promise<T>): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    const call = client.withAbortSignal(signal, () => client.withDeadline(Date.now() + timeoutMs, fn));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer from Temporal within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    call.catch(() => {}); // a call that loses the race may still fail later
    return Promise.race([call, late]).finally(() => clearTimeout(timer));
  }

  /** One check-and-start at a time per cluster in this process (visibility alone lags behind). */
  function withClusterLock<T>(cluster: string, fn: () => Promise<T>): Promise<T> {
    const prev = clusterLocks.get(cluster) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    clusterLocks.set(cluster, tail);
    void tail.then(() => {
      if (clusterLocks.get(cluster) === tail) clusterLocks.delete(cluster);
    });
    return next;
  }

  /** Another run recovering this cluster: running in visibility, or started here moments ago and still running. */
  async function otherRun(cluster: string, workflowId: string) {
    const query =
      `${ClusterKey.name} = ${quote(cluster)} AND ExecutionStatus = "Running" ` +
      `AND WorkflowId != ${quote(workflowId)}`;
    const found = await temporal(async () => {
      for await (const wf of client.workflow.list({ query, pageSize: 10 }))
        return { workflowId: wf.workflowId, runId: wf.runId, type: wf.type };
      return undefined;
    });
    if (found) return found;
    const recent = recentStarts.get(cluster);
    if (!recent || recent.workflowId === workflowId) return undefined;
    if (Date.now() - recent.at > RECENT_START_MS) {
      recentStarts.delete(cluster);
      return undefined;
    }
    const d = await temporal(() => client.workflow.getHandle(recent.workflowId).describe()).catch(
      () => undefined,
    );
    return d?.status.name === 'RUNNING'
      ? { workflowId: d.workflowId, runId: d.runId, type: d.type }
      : undefined;
  }

  /** The run a workflow id already names (open or closed), if any. */
  async function existingRun(workflowId: string) {
    try {
      const d = await temporal(() => client.workflow.getHandle(workflowId).describe());
      return { runId: d.runId, status: d.status.name };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  async function startRun(
    kind: RunbookKind,
    workflowId: string,
    req: {
      request: Record<string, unknown>;
      facts: RunbookFacts;
      incidentId: string;
      incidentTitle?: string;
      keyId: string;
    },
  ): Promise<Reply> {
    const { cluster, target } = req.facts;
    const fields: LogFields = { kind: kind.type, workflowId, cluster, key: req.keyId };
    return withClusterLock(cluster, async () => {
      const other = await otherRun(cluster, workflowId);
      if (other) {
        // A repeated delivery of an incident whose run already ended is still that run, not a conflict.
        const own = await existingRun(workflowId);
        if (own)
          return {
            status: 202,
            body: { workflowId, runId: own.runId, url: runUrl(workflowId, own.runId), status: own.status },
            fields: { ...fields, runId: own.runId, existing: true },
          };
        return {
          status: 409,
          body: {
            error: `another run is already recovering cluster ${cluster}`,
            cluster,
            running: { workflowId: other.workflowId, runId: other.runId, type: other.type },
            url: runUrl(other.workflowId, other.runId),
          },
          fields: { ...fields, conflictWith: other.workflowId },
        };
      }
      let runId: string;
      let status = 'RUNNING';
      try {
        const handle = await temporal(() =>
          client.workflow.start(kind.type, {
            taskQueue,
            workflowId,
            args: [req.request],
            // A running run with this id is returned as is; a closed one is never replaced.
            workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
            // Set at start so visibility (the conflict check, the Web UI) sees them before a worker
            // picks the run up; the workflow upserts the same values (and the current step) itself.
            typedSearchAttributes: [
              { key: RunbookKindKey, value: kind.type },
              { key: ClusterKey, value: cluster },
              { key: RecoveryTargetKey, value: target },
              { key: RunbookStepKey, value: 'queued' },
            ],
            // What the Web UI shows of the run before a worker takes it (scripts/lib/run-summary.ts).
            ...runMetadata({
              kind: kind.type,
              workflowId,
              request: req.request,
              incident: {
                id: req.incidentId,
                ...(req.incidentTitle ? { title: req.incidentTitle } : {}),
              },
              startedBy: `incident webhook (key ${req.keyId})`,
            }),
            memo: {
              trigger: 'webhook',
              webhookKey: req.keyId,
              incidentId: req.incidentId,
              ...(req.incidentTitle ? { incidentTitle: req.incidentTitle } : {}),
            },
          }),
        );
        runId = handle.firstExecutionRunId;
        recentStarts.set(cluster, { workflowId, at: Date.now() });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        const own = await existingRun(workflowId);
        if (!own) throw err;
        runId = own.runId;
        status = own.status;
      }
      return {
        status: 202,
        body: { workflowId, runId, url: runUrl(workflowId, runId), status },
        fields: { ...fields, runId },
      };
    });
  }

  return { existingRun, startRun };
}
