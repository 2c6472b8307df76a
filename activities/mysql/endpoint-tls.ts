// TLS to MySQL servers over TCP, decided in one place for the mysql2 pools and the command-line
// clients: every TCP connection is TLS with the certificate and name verified, unless its endpoint
// is on a loopback address and the catalog says `tls.mode: "disabled"` (the schema refuses it
// elsewhere). A unix socket never leaves the host.
import { readFile } from 'node:fs/promises';
import type { SslOptions } from 'mysql2';
import type { Endpoint } from '../../workflows/schemas';

/** Whether this endpoint's connections must be TLS, verified. */
export function tlsRequired(e: Endpoint): boolean {
  if (e.socket) return false;
  return e.tls?.mode !== 'disabled'; // the schema allows `disabled` on loopback only
}

/** mysql2's `ssl` option: the CA file read on this worker, certificate and name checked. */
export async function mysql2Tls(e: Endpoint): Promise<SslOptions | undefined> {
  if (!tlsRequired(e)) return undefined;
  return {
    rejectUnauthorized: true,
    ...(e.tls?.ca ? { ca: await readFile(e.tls.ca, 'utf8') } : {}),
    ...(e.tls?.serverName ? { servername: e.tls.serverName } : {}),
  } as SslOptions;
}

/** The client's TLS options (mariadb, mariadb-binlog; mysql, mysqlbinlog) for this endpoint. */
export function clientTlsArgs(e: Endpoint, dialect: 'mariadb' | 'mysql'): string[] {
  if (!tlsRequired(e)) return [];
  const ca = e.tls?.ca ? [`--ssl-ca=${e.tls.ca}`] : [];
  return dialect === 'mysql'
    ? ['--ssl-mode=VERIFY_IDENTITY', ...ca]
    : ['--ssl', '--ssl-verify-server-cert', ...ca];
}
