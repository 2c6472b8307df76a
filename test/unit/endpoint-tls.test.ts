// TLS to MySQL servers over TCP (activities/mysql/endpoint-tls.ts): a password never crosses a network in
// clear. Unit level: which endpoints get TLS, and the options the pools and clients receive.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { clientTlsArgs, mysql2Tls, tlsRequired } from '../../activities/mysql/endpoint-tls';
import { Endpoint } from '../../workflows/schemas';

const ep = (raw: object) => Endpoint.parse(raw);

test('every TCP endpoint gets verified TLS, loopback too, unless the catalog disables it there; sockets never need it', () => {
  assert.equal(tlsRequired(ep({ host: 'db1.internal', port: 3306 })), true);
  assert.equal(tlsRequired(ep({ host: '10.0.0.7' })), true);
  assert.equal(tlsRequired(ep({ host: '127.0.0.1', port: 3306 })), true);
  assert.equal(tlsRequired(ep({ host: 'localhost' })), true);
  assert.equal(tlsRequired(ep({ socket: '/run/mysqld/mysqld.sock' })), false);
  assert.equal(tlsRequired(ep({ host: '127.0.0.1', tls: { mode: 'verify' } })), true);
  assert.equal(tlsRequired(ep({ host: '127.0.0.1', tls: { mode: 'disabled' } })), false);
});

test('TLS cannot be disabled for a server on another host (refused with the field named)', () => {
  const r = Endpoint.safeParse({ host: 'db1.internal', tls: { mode: 'disabled' } });
  assert.ok(!r.success);
  assert.deepEqual(r.error.issues[0]?.path, ['tls', 'mode']);
  assert.match(r.error.issues[0]!.message, /only for a server on a loopback address/);
  // A name that merely starts like a loopback address is not one.
  assert.ok(!Endpoint.safeParse({ host: '127.0.0.1.attacker.example', tls: { mode: 'disabled' } }).success);
});

test('the pools verify the certificate against the CA file and the name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tls-'));
  try {
    const ca = join(dir, 'ca.pem');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    assert.deepEqual(await mysql2Tls(ep({ host: 'db1.internal', tls: { ca, serverName: 'db1' } })), {
      rejectUnauthorized: true,
      ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      servername: 'db1',
    });
    assert.deepEqual(await mysql2Tls(ep({ host: 'db1.internal' })), { rejectUnauthorized: true });
    assert.equal(await mysql2Tls(ep({ host: '127.0.0.1', tls: { mode: 'disabled' } })), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the command-line clients get the same policy, in each dialect', () => {
  const remote = ep({ host: 'db1.internal', tls: { ca: '/etc/ssl/db-ca.pem' } });
  assert.deepEqual(clientTlsArgs(remote, 'mariadb'), [
    '--ssl',
    '--ssl-verify-server-cert',
    '--ssl-ca=/etc/ssl/db-ca.pem',
  ]);
  assert.deepEqual(clientTlsArgs(remote, 'mysql'), [
    '--ssl-mode=VERIFY_IDENTITY',
    '--ssl-ca=/etc/ssl/db-ca.pem',
  ]);
  assert.deepEqual(clientTlsArgs(ep({ host: '127.0.0.1', tls: { mode: 'disabled' } }), 'mariadb'), []);
  assert.deepEqual(clientTlsArgs(ep({ host: '127.0.0.1' }), 'mariadb'), [
    '--ssl',
    '--ssl-verify-server-cert',
  ]);
});
