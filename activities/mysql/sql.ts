// mysql2 pools keyed by endpoint, with credentials resolved from references on this worker.
import { ApplicationFailure } from '@temporalio/common';
import mysql from 'mysql2/promise';
import type { Endpoint } from '../../workflows/schemas';
import { mysql2Tls } from './endpoint-tls';
import { resolveSecret } from '../trust/secrets';
import { failureFrom } from '../../workflows/failures';

export type Pool = mysql.Pool;
export type Row = mysql.RowDataPacket;

export function describeEndpoint(e: Endpoint): string {
  return e.socket ? `${e.user}@${e.socket}` : `${e.user}@${e.host}:${e.port ?? 3306}`;
}

/**
 * Errors of connecting that a retry will not cure: nothing listens there, no such socket or host,
 * the account is refused. (A timeout or "too many connections" may pass, so they are not here.)
 */
const CONNECTION_REFUSALS = new Set([
  'ECONNREFUSED',
  'ENOENT', // no such unix socket
  'EACCES', // the socket is not ours to open
  'ENOTFOUND', // unknown host
  'ER_ACCESS_DENIED_ERROR', // 1045
  'ER_HOST_NOT_PRIVILEGED', // 1130
]);

/** The code of a connection refusal anywhere in `err`'s cause chain, or undefined. */
export function connectionRefusalCode(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_REFUSALS.has(code)) return code;
  }
  return undefined;
}

export class SqlPools {
  private readonly pools = new Map<string, mysql.Pool>();

  async get(e: Endpoint): Promise<mysql.Pool> {
    const key = JSON.stringify([e.socket, e.host, e.port, e.user, e.password, e.tls]);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = mysql.createPool({
        socketPath: e.socket,
        host: e.socket ? undefined : e.host,
        port: e.socket ? undefined : (e.port ?? 3306),
        user: e.user,
        password: await resolveSecret(e.password),
        ssl: await mysql2Tls(e),
        connectionLimit: 4,
        connectTimeout: 10_000,
        supportBigNumbers: true,
        bigNumberStrings: true,
        dateStrings: true,
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Runs one statement; errors name the server (never the password). */
  async query<T extends Row = Row>(e: Endpoint, sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      const pool = await this.get(e);
      const [rows] = await pool.query(sql, params);
      return rows as T[];
    } catch (err) {
      // A secret that does not resolve stays final (and keeps its type); it gets the server's name.
      // No cause: the step's error shows the innermost message, which would drop the name.
      if (err instanceof ApplicationFailure)
        throw ApplicationFailure.create({
          message: `${describeEndpoint(e)}: ${err.message}`,
          type: err.type ?? undefined,
          nonRetryable: err.nonRetryable === true,
        });
      const code = (err as { code?: string }).code;
      const msg = err instanceof Error ? err.message : String(err);
      throw failureFrom(
        'Transient',
        `${describeEndpoint(e)}: ${code && !msg.includes(code) ? `${code}: ` : ''}${msg}`,
        err,
      );
    }
  }

  /** Drops a pool (after the server it points at was restarted or stopped). */
  async forget(e: Endpoint): Promise<void> {
    const key = JSON.stringify([e.socket, e.host, e.port, e.user, e.password]);
    const pool = this.pools.get(key);
    this.pools.delete(key);
    await pool?.end().catch(() => {});
  }

  async closeAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.end().catch(() => {})));
  }
}
