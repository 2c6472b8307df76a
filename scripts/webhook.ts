// The incident webhook: `POST /v1/runbooks/:kind` starts a runbook from incident tooling.
// The body is signed (HMAC-SHA256 over the raw bytes; scripts/lib/signature.ts), validated with the
// runbook's own zod schema, and names its incident, which names the run: a delivery repeated any
// number of times starts one run. Answers 202 as soon as the run is started (it does not wait for it).
//
//   npm run webhook      (env: RUNBOOK_WEBHOOK_KEYS or RUNBOOK_WEBHOOK_KEYS_FILE, RUNBOOK_WEBHOOK_PORT,
//                         RUNBOOK_WEBHOOK_HOST, RUNBOOK_UI_URL, RUNBOOK_TASK_QUEUE, and Temporal's own
//                         TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, … via @temporalio/envconfig)
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type ConnectionOptions,
} from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { ClusterKey, RecoveryTargetKey, RunbookKindKey, RunbookStepKey } from '../workflows/kit';
import { TASK_QUEUE } from '../workflows/routing';
import { dataConverterFromEnv } from '../workers/codec';
import { parseKeys, verifySignature } from './lib/signature';
import {
  deriveWorkflowId,
  parseRequest,
  RUNBOOK_KINDS,
  runbookKind,
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
  /** HMAC keys (a function is asked on every request, so keys can be reloaded). */
  keys: readonly string[] | (() => readonly string[]);
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

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function createWebhookServer(opts: WebhookServerOptions): WebhookServer {
  const { client } = opts;
  const namespace = client.options.namespace;
  const taskQueue = opts.taskQueue ?? TASK_QUEUE;
  const uiBase = (opts.uiUrl ?? DEFAULT_UI_URL).replace(/\/+$/, '');
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const timeoutMs = opts.temporalTimeoutMs ?? 5_000;
  const log = opts.log ?? jsonLogger;
  const keys = typeof opts.keys === 'function' ? opts.keys : () => opts.keys as readonly string[];
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
    req: Extract<ReturnType<typeof parseRequest>, { ok: true }>,
  ): Promise<Reply> {
    const { cluster, target } = req.facts;
    const fields: LogFields = { kind: kind.type, workflowId, cluster };
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
            args: [req.input],
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
    let kindName = '';
    try {
      kindName = decodeURIComponent(m[1]);
    } catch {
      /* not a kind */
    }
    const kind = runbookKind(kindName);
    if (!kind) return { status: 404, body: { error: 'unknown runbook kind', kinds: [...RUNBOOK_KINDS] } };

    let raw: Buffer;
    try {
      raw = await readBody(req, maxBody);
    } catch (err) {
      if (err instanceof BodyTooLarge)
        return {
          status: 413,
          body: { error: `body larger than ${maxBody} bytes` },
          headers: { Connection: 'close' },
          fields: { kind: kind.type },
        };
      throw err;
    }
    if (!verifySignature(raw, req.headers, keys()))
      // Which header, key or signature failed is not said: it would help a forger.
      return { status: 401, body: { error: 'invalid or missing signature' }, fields: { kind: kind.type } };

    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      return { status: 400, body: { error: 'body is not valid JSON' }, fields: { kind: kind.type } };
    }
    const parsed = parseRequest(kind, json, headerText(req.headers['x-webhook-id']));
    if (!parsed.ok)
      return {
        status: 400,
        body: { error: 'invalid request', issues: parsed.issues },
        fields: { kind: kind.type, issues: parsed.issues.length },
      };
    const workflowId = deriveWorkflowId(kind.type, parsed.incidentId);
    return startRun(kind, workflowId, parsed);
  }

  const server = http.createServer((req, res) => {
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
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  return controlled(server);
}

async function main(): Promise<void> {
  const keysFile = process.env.RUNBOOK_WEBHOOK_KEYS_FILE;
  const loadKeys = () =>
    parseKeys(process.env.RUNBOOK_WEBHOOK_KEYS, keysFile ? readFileSync(keysFile, 'utf8') : undefined);
  let keys = loadKeys();
  const config = loadClientConnectConfig();
  const address = config.connectionOptions.address ?? 'localhost:7233';
  const namespace = config.namespace ?? 'default';
  let connection: Connection;
  try {
    connection = await Connection.connect({
      ...(config.connectionOptions as ConnectionOptions),
      address,
    });
  } catch (err) {
    throw new Error(
      `cannot reach Temporal at ${address} (namespace ${namespace}): ${(err as Error).message}`,
    );
  }
  const webhook = createWebhookServer({
    // Inputs are encrypted like the workers' when RUNBOOK_CODEC_KEY is set.
    client: new Client({ connection, namespace, dataConverter: dataConverterFromEnv() }),
    keys: () => keys,
    taskQueue: process.env.RUNBOOK_TASK_QUEUE ?? TASK_QUEUE,
    uiUrl: process.env.RUNBOOK_UI_URL ?? DEFAULT_UI_URL,
  });
  const url = await webhook.listen(
    Number(process.env.RUNBOOK_WEBHOOK_PORT ?? 8787),
    process.env.RUNBOOK_WEBHOOK_HOST ?? '127.0.0.1',
  );
  jsonLogger('info', 'webhook listening', {
    url: `${url}/v1/runbooks/:kind`,
    temporal: address,
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
