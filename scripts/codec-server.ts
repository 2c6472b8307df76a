// The codec endpoint for the Temporal Web UI and the `temporal` CLI: with RUNBOOK_CODEC_KEY set, the
// runbooks' payloads are encrypted in history (workers/codec.ts), and this server decrypts them for
// whoever is allowed to see them. It speaks Temporal's remote codec protocol: POST …/encode and
// POST …/decode, a body `{ "payloads": [ { "metadata": { k: base64 }, "data": base64 } ] }` (Payloads as
// proto3 JSON), answered in the same shape; only the last part of the path counts.
//
//   npm run codec-server   (env: RUNBOOK_CODEC_KEY, RUNBOOK_CODEC_KEYS, RUNBOOK_CODEC_PORT (8888),
//                           RUNBOOK_CODEC_HOST (127.0.0.1), RUNBOOK_CODEC_CORS_ORIGIN (the Web UI's
//                           origin(s), comma-separated; default the dev server's http://localhost:8233),
//                           RUNBOOK_CODEC_AUTH_TOKEN (required: requests need `Authorization: Bearer <it>`;
//                           only RUNBOOK_CODEC_NO_AUTH=local-dev on a loopback address runs without one))
//
// Then `temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8888`, or the Web UI's
// "Data Encoder" settings, or `temporal workflow show --codec-endpoint … [--codec-auth 'Bearer …']`.
import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { codecFromEnv } from '../workers/codec';
import { BodyTooLarge, controlled, readBody, type ControlledServer } from './lib/http';
import { invokedDirectly, untilStopSignal } from './lib/entry';

export const DEFAULT_CORS_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export type CodecLogger = (
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields: Record<string, string | number | boolean | undefined>,
) => void;

/** One JSON object a line; never a payload, a header value or a key. */
export const jsonLogger: CodecLogger = (level, msg, fields) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
};

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Origins the browser may call from (the Web UI's); `*` allows any. */
  corsOrigins?: readonly string[];
  /** /encode and /decode need `Authorization: Bearer <token>`; `null` only for a local dev server. */
  authToken: string | null;
  maxBodyBytes?: number;
  log?: CodecLogger;
}

export type CodecServer = ControlledServer;

/** A Payload as proto3 JSON: bytes are base64. */
export interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

class BadRequest extends Error {}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function bytesFromBase64(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value)) throw new BadRequest(`${what} is not base64`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}

export function payloadFromJson(p: unknown, i: number): Payload {
  if (!p || typeof p !== 'object' || Array.isArray(p))
    throw new BadRequest(`payloads[${i}] is not an object`);
  const { metadata, data } = p as JsonPayload;
  if (metadata != null && (typeof metadata !== 'object' || Array.isArray(metadata)))
    throw new BadRequest(`payloads[${i}].metadata is not an object`);
  return {
    metadata: Object.fromEntries(
      Object.entries(metadata ?? {}).map(([k, v]) => [k, bytesFromBase64(v, `payloads[${i}].metadata.${k}`)]),
    ),
    data: data == null ? new Uint8Array() : bytesFromBase64(data, `payloads[${i}].data`),
  };
}

export function payloadToJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [
        k,
        Buffer.from(v ?? new Uint8Array()).toString('base64'),
      ]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export class CodecServerConfigError extends Error {
  override name = 'CodecServerConfigError';
}

export const MIN_TOKEN_LENGTH = 24;
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * Where the server listens and who may use it, from the environment. A server that decrypts history
 * for anyone who reaches it is refused: a token is required, unless RUNBOOK_CODEC_NO_AUTH=local-dev
 * says so explicitly for a server on a loopback address.
 */
export function codecServerSettings(env: NodeJS.ProcessEnv): {
  host: string;
  port: number;
  corsOrigins: string[];
  authToken: string | null;
} {
  const host = env.RUNBOOK_CODEC_HOST ?? '127.0.0.1';
  const port = Number(env.RUNBOOK_CODEC_PORT ?? 8888);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CodecServerConfigError('RUNBOOK_CODEC_PORT must be a port number');
  const corsOrigins = (env.RUNBOOK_CODEC_CORS_ORIGIN ?? DEFAULT_CORS_ORIGINS.join(','))
    .split(',')
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  const token = env.RUNBOOK_CODEC_AUTH_TOKEN || null;
  if (token && token.length < MIN_TOKEN_LENGTH)
    throw new CodecServerConfigError(
      `RUNBOOK_CODEC_AUTH_TOKEN is too short (at least ${MIN_TOKEN_LENGTH} characters, e.g. openssl rand -hex 32)`,
    );
  if (!token) {
    if (env.RUNBOOK_CODEC_NO_AUTH !== 'local-dev')
      throw new CodecServerConfigError(
        'RUNBOOK_CODEC_AUTH_TOKEN is not set: the codec server decrypts history for whoever reaches it, so it needs a bearer token (RUNBOOK_CODEC_NO_AUTH=local-dev runs without one on a loopback address, for a dev machine)',
      );
    if (!LOOPBACK.test(host))
      throw new CodecServerConfigError(
        `RUNBOOK_CODEC_NO_AUTH=local-dev only listens on a loopback address, not ${host}: set RUNBOOK_CODEC_AUTH_TOKEN`,
      );
  }
  return { host, port, corsOrigins, authToken: token };
}

export function createCodecServer(o: CodecServerOptions): CodecServer {
  const origins = o.corsOrigins ?? DEFAULT_CORS_ORIGINS;
  const maxBody = o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = o.log ?? jsonLogger;
  const allowed = (origin: string) => origins.includes('*') || origins.includes(origin);

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = Date.now();
    const path = new URL(req.url ?? '/', 'http://codec').pathname.replace(/\/+$/, '');
    const action = path.endsWith('/encode') ? 'encode' : path.endsWith('/decode') ? 'decode' : null;
    const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
    const headers: Record<string, string> = {};
    if (origin && allowed(origin)) {
      headers['Access-Control-Allow-Origin'] = origin;
      headers['Access-Control-Allow-Credentials'] = 'true';
      headers.Vary = 'Origin';
    }
    const reply = (
      status: number,
      body: unknown,
      extra: Record<string, string | number | undefined> = {},
    ) => {
      res.writeHead(status, { ...headers, 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
      log(status < 400 ? 'info' : 'warn', 'codec request', {
        method: req.method,
        path,
        status,
        namespace: typeof req.headers['x-namespace'] === 'string' ? req.headers['x-namespace'] : undefined,
        ms: Date.now() - started,
        ...extra,
      });
    };

    if (origin && !allowed(origin)) return reply(403, { error: `origin ${origin} is not allowed` });
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...headers,
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, X-Namespace, Authorization',
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    if (!action) return reply(404, { error: 'POST …/encode or …/decode' });
    if (req.method !== 'POST') return reply(405, { error: 'use POST' });
    if (o.authToken !== null && !tokenMatches(req.headers.authorization, o.authToken))
      return reply(401, { error: 'missing or wrong bearer token' });

    let payloads: Payload[];
    try {
      const body = JSON.parse((await readBody(req, maxBody)).toString('utf8')) as { payloads?: unknown };
      if (!body || !Array.isArray(body.payloads))
        throw new BadRequest('the body must be { "payloads": [...] }');
      payloads = body.payloads.map(payloadFromJson);
    } catch (err) {
      if (err instanceof BodyTooLarge) return reply(413, { error: `the body is over ${maxBody} bytes` });
      if (err instanceof SyntaxError) return reply(400, { error: 'the body is not JSON' });
      if (err instanceof BadRequest) return reply(400, { error: err.message });
      throw err;
    }
    try {
      const out = action === 'encode' ? await o.codec.encode(payloads) : await o.codec.decode(payloads);
      reply(200, { payloads: out.map(payloadToJson) }, { payloads: payloads.length });
    } catch (err) {
      // The caller learns that the payloads could not be handled, not which key ids exist: those are
      // in the server's own log (the codec's messages carry no plaintext and no key).
      reply(
        400,
        { error: `cannot ${action} these payloads (the codec server's log says why)` },
        { payloads: payloads.length, error: err instanceof Error ? err.message : String(err) },
      );
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log('error', 'codec request failed', { error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal error' }));
    });
  });

  return controlled(server);
}

async function main(): Promise<void> {
  const codec = codecFromEnv();
  if (!codec) throw new Error('RUNBOOK_CODEC_KEY is not set: there is nothing to encrypt or decrypt with');
  const { host, port, corsOrigins, authToken } = codecServerSettings(process.env);
  const codecServer = createCodecServer({ codec, corsOrigins, authToken });
  const url = await codecServer.listen(port, host);
  jsonLogger('info', 'codec server listening', {
    url,
    keyId: codec.keyId,
    corsOrigins: corsOrigins.join(','),
    auth: authToken ? 'bearer' : 'none (local dev)',
    webUi: `temporal server start-dev --ui-codec-endpoint ${url}`,
  });
  await untilStopSignal();
  await codecServer.close();
}

if (invokedDirectly(import.meta.url))
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      jsonLogger('error', 'codec server stopped', {
        error: err instanceof Error ? err.message : String(err),
      });
      process.exit(1);
    },
  );
