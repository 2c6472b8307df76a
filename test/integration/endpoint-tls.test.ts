// Against a real MariaDB without a certificate we trust: an endpoint that requires verified TLS does
// not connect (and sends no password in clear), through mysql2 and through the mariadb client; the
// same server on loopback in clear answers. A server that cannot prove itself loses the password.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { clientOptions } from '../../activities/mysql/client-options';
import { runCommand } from '../../activities/runtime/command';
import { SqlPools } from '../../activities/mysql/sql';
import { startMariadbServer, type MariadbServer } from '../../scripts/lib/mariadb-server';
import { Endpoint } from '../../workflows/schemas';
import { removeTestDir } from '../../scripts/lib/cleanup';

let base: string;
let server: MariadbServer;
const sql = new SqlPools();

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'endpoint-tls-'));
  server = await startMariadbServer({ baseDir: join(base, 'db'), serverId: 1 });
});
after(async () => {
  await sql.closeAll();
  await server?.stop().catch(() => {});
  if (base) await removeTestDir(base);
});

test('verified TLS required: mysql2 and the client refuse to talk; in clear on loopback it answers', async () => {
  const clear = Endpoint.parse({
    host: '127.0.0.1',
    port: server.port,
    user: 'root',
    tls: { mode: 'disabled' },
  });
  const [row] = await sql.query(clear, 'SELECT 1 AS one');
  assert.equal(Number(row?.one), 1);

  const verified = Endpoint.parse({
    host: '127.0.0.1',
    port: server.port,
    user: 'root',
    tls: { mode: 'verify' },
  });
  await assert.rejects(sql.query(verified, 'SELECT 1'), (err: Error) => {
    assert.match(err.message, /^root@127\.0\.0\.1:\d+: /);
    assert.match(err.message, /secure connection|SSL|TLS|certificate|self[- ]signed/i);
    return true;
  });

  const client = await clientOptions(verified, 'mariadb');
  try {
    await assert.rejects(
      runCommand(['mariadb', ...client.args, '-e', 'SELECT 1']),
      /SSL|TLS|certificate|secure/i,
    );
  } finally {
    await client.cleanup();
  }
});
