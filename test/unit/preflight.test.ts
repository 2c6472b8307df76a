import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { checkReachable, checkSecretsResolve, secretRefsIn } from '../../activities/mysql/preflight';
import { connectionRefusalCode, type SqlPools } from '../../activities/mysql/sql';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'preflight-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SET = 'RUNBOOK_UNIT_PREFLIGHT_SET';
const UNSET = 'RUNBOOK_UNIT_PREFLIGHT_UNSET';

describe('secretRefsIn', () => {
  test('finds every reference with the path of its field, and nothing that only looks like one', () => {
    const input = {
      cluster: { connection: { socket: '/s', user: 'root', password: { env: 'A' } } },
      archive: { kind: 's3', accessKeyId: { env: 'B' }, secretAccessKey: { file: '/k' } },
      shards: [{ binlogSource: { password: { file: '/p' } } }],
      target: { type: 'position', file: 'mysql-bin.000001', position: 4 },
      notARef: { env: 'A', extra: 1 },
    };
    assert.deepEqual(secretRefsIn(input), [
      { path: 'cluster.connection.password', ref: { env: 'A' } },
      { path: 'archive.accessKeyId', ref: { env: 'B' } },
      { path: 'archive.secretAccessKey', ref: { file: '/k' } },
      { path: 'shards.0.binlogSource.password', ref: { file: '/p' } },
    ]);
  });
});

describe('checkSecretsResolve', () => {
  test('passes when every reference resolves, and returns the fields checked (no values)', async () => {
    process.env[SET] = 'pf-s3cret';
    const file = join(dir, 'pw');
    await writeFile(file, 'pf-file-s3cret\n');
    try {
      const checked = await checkSecretsResolve({ a: { password: { env: SET } }, b: { key: { file } } });
      assert.deepEqual(checked, ['a.password', 'b.key']);
      assert.ok(!JSON.stringify(checked).includes('s3cret'));
    } finally {
      delete process.env[SET];
    }
  });

  test('refuses for good a variable that is not set, naming the field and the variable', async () => {
    delete process.env[UNSET];
    await assert.rejects(checkSecretsResolve({ restore: { password: { env: UNSET } } }), (e: Error) => {
      assert.ok(e instanceof ApplicationFailure && e.nonRetryable);
      assert.equal(e.type, 'SecretUnavailable');
      assert.equal(
        e.message,
        `restore.password: secret not available: environment variable ${UNSET} is not set on this worker`,
      );
      return true;
    });
  });

  test('refuses an unreadable file, naming the field and the file', async () => {
    const file = join(dir, 'no-such-file');
    await assert.rejects(
      checkSecretsResolve({ replica: { connection: { password: { file } } } }),
      (e: Error) => {
        assert.ok(e instanceof ApplicationFailure && e.nonRetryable);
        assert.match(
          e.message,
          /^replica\.connection\.password: secret not available: cannot read .*no-such-file \(ENOENT\)/,
        );
        return true;
      },
    );
  });

  test('leaves out the fields another host reads', async () => {
    delete process.env[UNSET];
    const input = { cluster: { connection: { password: { env: UNSET } } }, restore: {} };
    assert.deepEqual(
      await checkSecretsResolve(input, { readElsewhere: (p) => p.startsWith('cluster.') }),
      [],
    );
  });
});

describe('checkReachable', () => {
  /** A stand-in for SqlPools whose query fails the way mysql2 does (SqlPools.query wraps it). */
  const failing = (err: Error) =>
    ({
      query: () => Promise.reject(new Error(`root@/x.sock: ${err.message}`, { cause: err })),
    }) as unknown as SqlPools;
  const driverError = (code: string, message: string) => Object.assign(new Error(message), { code });

  test('a connection refusal is final and names the field and the endpoint', async () => {
    const sql = failing(driverError('ENOENT', 'connect ENOENT /x.sock'));
    await assert.rejects(
      checkReachable(sql, { socket: '/x.sock', user: 'root' }, 'cluster.sqlNode'),
      (e: Error) => {
        assert.ok(e instanceof ApplicationFailure && e.nonRetryable);
        assert.equal(e.type, 'Unreachable');
        assert.match(
          e.message,
          /^cluster\.sqlNode: cannot connect to root@\/x\.sock \(connect ENOENT \/x\.sock\)/,
        );
        return true;
      },
    );
  });

  test('access denied is final; a timeout is left to the retries (the error as it was)', async () => {
    const denied = failing(
      driverError(
        'ER_ACCESS_DENIED_ERROR',
        "Access denied for user 'root'@'localhost' (using password: YES)",
      ),
    );
    await assert.rejects(
      checkReachable(denied, { host: 'db1', port: 3306, user: 'root' }, 'f'),
      (e: Error) => {
        assert.ok(e instanceof ApplicationFailure && e.nonRetryable);
        assert.match(
          e.message,
          /^f: cannot connect to root@db1:3306 \(ER_ACCESS_DENIED_ERROR: Access denied/,
        );
        return true;
      },
    );
    const slow = failing(driverError('ETIMEDOUT', 'connect ETIMEDOUT'));
    await assert.rejects(checkReachable(slow, { host: 'db1', user: 'root' }, 'f'), (e: Error) => {
      assert.ok(!(e instanceof ApplicationFailure));
      assert.match(e.message, /ETIMEDOUT/);
      return true;
    });
  });

  test('connectionRefusalCode looks through the cause chain', () => {
    const inner = driverError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1');
    assert.equal(connectionRefusalCode(new Error('outer', { cause: inner })), 'ECONNREFUSED');
    assert.equal(connectionRefusalCode(driverError('ER_CON_COUNT_ERROR', 'Too many connections')), undefined);
  });
});
