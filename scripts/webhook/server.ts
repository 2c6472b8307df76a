// The webhook's HTTP server: routing, the body limit, authentication before anything else, the
// request's checks, the deliveries already accepted, and the reply (logged one JSON line each).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { TASK_QUEUE } from '../../workflows/routing';
import { resolveRequest } from '../../activities/trust/fleet-catalog';
import { deliveryDigest, type DeliveryStore } from '../lib/delivery-store';
import { keyAllows, signingKey, type WebhookKey } from '../lib/webhook-keys';
import {
  DEFAULT_MAX_AGE_MS,
  deriveWorkflowId,
  parseDelivery,
  runbookKind,
  type RunbookFacts,
} from '../lib/webhook-request';
import { BodyTooLarge, controlled, readBody, type ControlledServer } from '../lib/http';
import { jsonLogger, type LogFields, type Reply, type WebhookLogger } from './reply';
import { runStarter } from './start-run';

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
/** The Temporal dev server's Web UI; set RUNBOOK_UI_URL for any other. */
export const DEFAULT_UI_URL = 'http://localhost:8233';

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

  const runUrl = (workflowId: string, runId?: string) =>
    `${uiBase}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}` +
    (runId ? `/${encodeURIComponent(runId)}/history` : '');
  const { existingRun, startRun } = runStarter({ client, taskQueue, timeoutMs, runUrl });

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
