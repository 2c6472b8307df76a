// The incident webhook: `POST /v1/runbooks/:kind` starts a runbook from incident tooling.
// The body is signed (HMAC-SHA256 over the raw bytes; scripts/lib/signature.ts) with a key scoped to
// runbook kinds and catalog clusters (scripts/lib/webhook-keys.ts); it carries its incident (which
// names the run), the time it was signed (accepted for a few minutes) and a request for a cluster of
// the fleet catalog. A delivery is remembered on disk (scripts/lib/delivery-store.ts): repeated any
// number of times, it starts one run. Every run it starts waits for approval at each destructive
// step. Answers 202 as soon as the run is started (it does not wait for it). A caller without a valid
// signature learns nothing (not even which kinds exist).
//
//   npm run webhook      (env: RUNBOOK_WEBHOOK_KEYS_FILE, RUNBOOK_WEBHOOK_DELIVERIES, RUNBOOK_WEBHOOK_PORT,
//                         RUNBOOK_WEBHOOK_HOST, RUNBOOK_UI_URL, RUNBOOK_TASK_QUEUE, RUNBOOK_CATALOG and
//                         Temporal's own TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, …)
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { connectClient, loadTemporalTarget } from '../workers/temporal-connection';
import { ClusterKey, RecoveryTargetKey, RunbookKindKey, RunbookStepKey } from '../workflows/kit';
import { TASK_QUEUE } from '../workflows/routing';
import { dataConverterFromEnv } from '../workers/codec';
import { resolveRequest } from '../activities/trust/fleet-catalog';
import { statePath } from '../activities/runtime/state-dir';
import { deliveryDigest, DeliveryStore } from './lib/delivery-store';
import { keyAllows, parseKeyFile, signingKey, type WebhookKey } from './lib/webhook-keys';
import {
  DEFAULT_MAX_AGE_MS,
  deriveWorkflowId,
  parseDelivery,
  runbookKind,
  type RunbookFacts,
  type RunbookKind,
} from './lib/webhook-request';
import { BodyTooLarge, controlled, readBody, type ControlledServer } from './lib/http';
import { invokedDirectly, untilStopSignal } from './lib/entry';

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
/** The Temporal dev server's Web UI; set RUNBOOK_UI_URL for any other. */
export const DEFAULT_UI_URL = 'http://localhost:8233';
/** A run this process started counts as busy for its cluster until visibility has surely caught up. */
const RECENT_START_MS = 60_000;

export type LogFields = Record<string, string | number | boolean | undefined>;
export type WebhookLogger = (level: 'info' | 'warn' | 'error', msg: string, fields: LogFields) => void;

/** One JSON object a line on stdout. Callers pass only non-secret fields (never bodies, headers or keys). */
export const jsonLogger: WebhookLogger = (level, msg, fields) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
};

export interface WebhookServerOptions {
  /** Temporal client; its namespace is where runs start. */
  client: Client;
  /** Scoped HMAC keys (a function is asked on every request, so keys can be reloaded). */
  keys: readonly WebhookKey[] | (() => readonly WebhookKey[]);
  /** The deliveries already accepted (on disk). */
  deliveries: DeliveryStore;
  /** How long after `sentAt` a delivery is accepted. */
  maxAgeMs?: number;
  /** Open connections at once; more are refused by the server. */
  maxConnections?: number;
  taskQueue?: string;
  /** Web UI base for the `url` in responses. */
  uiUrl?: string;
  maxBodyBytes?: number;
  /** Deadline of each call to Temporal; past it the request gets 503. */
  temporalTimeoutMs?: number;
  log?: WebhookLogger;
}

export type WebhookServer = ControlledServer;

interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
  fields?: LogFields;
}

/** A visibility query string literal. */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function createWebhookServer(opts: WebhookServerOptions): WebhookServer {
  const { client } = opts;
  const namespace = client.options.namespace;
  const taskQueue = opts.taskQueue ?? TASK_QUEUE;
  const uiBase = (opts.uiUrl ?? DEFAULT_UI_URL).replace(/\/+$/, '');
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const timeoutMs = opts.temporalTimeoutMs ?? 5_000;
  const log = opts.log ?? jsonLogger;
  const keys = typeof opts.keys === 'function' ? opts.keys : () => opts.keys as readonly WebhookKey[];
  const maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const recentStarts = new Map<string, { workflowId: string; at: number }>();
  const clusterLocks = new Map<string, Promise<unknown>>();

  const runUrl = (workflowId: string, runId?: string) =>
    `${uiBase}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}` +
    (runId ? `/${encodeURIComponent(runId)}/history` : '');
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

  async function route(req: http.IncomingMessage): Promise<Reply> {
    const path = new URL(req.url ?? '/', 'http://webhook').pathname;
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD'))
      return { status: 200, body: { ok: true } };
    const m = /^\/v1\/runbooks\/([^/]+)$/.exec(path);
    if (!m?.[1]) return { status: 404, body: { error: 'not found' } };
    if (req.method !== 'POST')
      return { status: 405, body: { error: 'use POST' }, headers: { Allow: 'POST' } };
    let raw: Buffer;
    try {
      raw = await readBody(req, maxBody);
    } catch (err) {
      if (err instanceof BodyTooLarge)
        return {
          status: 413,
          body: { error: `body larger than ${maxBody} bytes` },
          headers: { Connection: 'close' },
        };
      throw err;
    }
    // Authentication comes first: without a valid signature a caller learns nothing, not even
    // whether the kind exists (and which header, key or signature failed is not said either).
    const key = signingKey(raw, req.headers, keys());
    if (!key) return { status: 401, body: { error: 'invalid or missing signature' } };

    let kindName = '';
    try {
      kindName = decodeURIComponent(m[1]);
    } catch {
      /* not a kind */
    }
    const kind = runbookKind(kindName);
    if (!kind) return { status: 404, body: { error: 'unknown runbook kind' }, fields: { key: key.id } };
    const fields: LogFields = { kind: kind.type, key: key.id };

    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      return { status: 400, body: { error: 'body is not valid JSON' }, fields };
    }
    const parsed = parseDelivery(kind, json, Date.now(), maxAgeMs);
    if (!parsed.ok)
      return {
        status: 400,
        body: { error: 'invalid request', issues: parsed.issues },
        fields: { ...fields, issues: parsed.issues.length },
      };
    if (!keyAllows(key, kind.type, parsed.cluster))
      return {
        status: 403,
        body: { error: `this key may not start ${kind.type} for cluster ${parsed.cluster}` },
        fields: { ...fields, cluster: parsed.cluster },
      };
    const workflowId = deriveWorkflowId(kind.type, parsed.incidentId);
    const digest = deliveryDigest(raw);
    const earlier = opts.deliveries.get(digest);
    if (earlier) {
      // The same signed delivery again: the run it started, never a new one.
      const own = await existingRun(earlier);
      return {
        status: 202,
        body: {
          workflowId: earlier,
          ...(own ? { runId: own.runId, url: runUrl(earlier, own.runId), status: own.status } : {}),
        },
        fields: { ...fields, workflowId: earlier, existing: true },
      };
    }
    // Whoever holds a webhook key does not approve: every run it starts waits at each destructive step.
    const request = { ...parsed.request, requireApproval: true };
    let facts: RunbookFacts;
    try {
      facts = kind.facts(kind.schema.parse((await resolveRequest(kind.type, request)).input));
    } catch (err) {
      return {
        status: 400,
        body: { error: 'invalid request', issues: [err instanceof Error ? err.message : String(err)] },
        fields,
      };
    }
    const reply = await startRun(kind, workflowId, {
      request,
      facts,
      incidentId: parsed.incidentId,
      ...(parsed.incidentTitle ? { incidentTitle: parsed.incidentTitle } : {}),
      keyId: key.id,
    });
    if (reply.status === 202) await opts.deliveries.remember(digest, workflowId);
    return reply;
  }

  // Timeouts are checked every second (Node's default is every 30 s).
  const server = http.createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => {
    const t0 = performance.now();
    const requestId = randomUUID().slice(0, 8);
    // The path only: a query string is no part of the API and could carry anything.
    const base: LogFields = { requestId, method: req.method, path: req.url?.split('?')[0]?.slice(0, 200) };
    const send = (r: Reply) => {
      if (res.headersSent || res.destroyed) return;
      const text = JSON.stringify(r.body);
      res.writeHead(r.status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(text),
        'Cache-Control': 'no-store',
        ...r.headers,
      });
      res.end(text);
      const level = r.status >= 500 ? 'error' : r.status >= 400 ? 'warn' : 'info';
      log(level, 'request', {
        ...base,
        ...r.fields,
        status: r.status,
        ms: Math.round(performance.now() - t0),
      });
    };
    route(req).then(send, (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (res.destroyed || !res.socket || res.socket.destroyed) {
        log('warn', 'request aborted by the client', { ...base, error: message.slice(0, 300) });
        return;
      }
      // Temporal unreachable or too slow: the sender should retry later (same incident, same run).
      send({
        status: 503,
        body: { error: 'Temporal is unavailable, retry later' },
        fields: { error: message.slice(0, 300) },
      });
    });
  });
  // A slow or greedy client is bounded: headers within 5 s, the whole request within 15 s, few
  // headers, a bounded number of connections at once.
  server.headersTimeout = 5_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;
  server.maxConnections = opts.maxConnections ?? 64;

  return controlled(server);
}

async function main(): Promise<void> {
  if (process.env.RUNBOOK_WEBHOOK_KEYS)
    throw new Error(
      'RUNBOOK_WEBHOOK_KEYS is no longer read: keys are scoped; list them in the JSON file RUNBOOK_WEBHOOK_KEYS_FILE names',
    );
  const keysFile = process.env.RUNBOOK_WEBHOOK_KEYS_FILE;
  if (!keysFile) throw new Error('RUNBOOK_WEBHOOK_KEYS_FILE is not set: the scoped webhook keys (JSON)');
  const loadKeys = () => parseKeyFile(readFileSync(keysFile, 'utf8'));
  let keys = loadKeys();
  const deliveries = await DeliveryStore.open(
    process.env.RUNBOOK_WEBHOOK_DELIVERIES ?? statePath('webhook', 'deliveries.jsonl'),
    // Kept a little longer than a delivery is accepted, so clock skew cannot reopen the window.
    2 * DEFAULT_MAX_AGE_MS,
  );
  // The workers' configuration (workers/temporal-connection.ts): the same checks, no silent localhost.
  const target = loadTemporalTarget();
  const connection = await connectClient(target);
  const namespace = target.namespace;
  const webhook = createWebhookServer({
    // Inputs are encrypted like the workers' when RUNBOOK_CODEC_KEY is set.
    client: new Client({ connection, namespace, dataConverter: dataConverterFromEnv() }),
    keys: () => keys,
    deliveries,
    taskQueue: process.env.RUNBOOK_TASK_QUEUE ?? TASK_QUEUE,
    uiUrl: process.env.RUNBOOK_UI_URL ?? DEFAULT_UI_URL,
  });
  const url = await webhook.listen(
    Number(process.env.RUNBOOK_WEBHOOK_PORT ?? 8787),
    process.env.RUNBOOK_WEBHOOK_HOST ?? '127.0.0.1',
  );
  jsonLogger('info', 'webhook listening', {
    url: `${url}/v1/runbooks/:kind`,
    temporal: target.address,
    namespace,
    keys: keys.length,
  });
  process.on('SIGHUP', () => {
    try {
      keys = loadKeys();
      jsonLogger('info', 'webhook keys reloaded', { keys: keys.length });
    } catch (err) {
      jsonLogger('error', 'webhook keys not reloaded; the old keys stay', { error: (err as Error).message });
    }
  });
  await untilStopSignal();
  await webhook.close();
  await connection.close();
}

if (invokedDirectly(import.meta.url))
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      jsonLogger('error', 'webhook stopped', { error: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    },
  );
