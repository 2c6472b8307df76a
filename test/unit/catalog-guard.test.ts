// The worker-side guard (activities/trust/catalog-guard.ts): whoever can reach the Temporal namespace could
// run workflow code of their own and ask a host agent's activities for any argv, pid file, datadir,
// endpoint or secret. Each attack below is such a request; the activity must refuse it without running.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { guardedByCatalog, outsideCatalog } from '../../activities/trust/catalog-guard';

const shop = {
  cluster: {
    adapter: 'process',
    name: 'shop',
    pidFile: '/run/mysqld/shop.pid',
    start: ['mariadbd', '--defaults-file=/etc/mysql/shop.cnf'],
    connection: { host: 'db1.internal', port: 3306, user: 'runbook', password: { env: 'SHOP_PW' } },
  },
  backup: { dir: '/backups/shop-full' },
  restore: { host: 'db1', datadir: '/var/lib/mysql-shop', user: 'root' },
  archive: {
    kind: 's3',
    bucket: 'binlogs',
    prefix: 'shop',
    endpoint: 'https://s3.internal',
    accessKeyId: { env: 'S3_KEY_ID' },
    secretAccessKey: { file: '/etc/mysql-runbooks/s3.secret' },
  },
};
const vitess = {
  vtctld: {
    server: 'vtctld.internal:15999',
    topo: {
      implementation: 'etcd2',
      globalServerAddress: 'etcd.internal:2379',
      globalRoot: '/vitess/global',
    },
  },
  baseKeyspace: 'commerce',
  backup: { fileBackupStorageRoot: '/vt/backups' },
  tablets: { root: '/vt/vtdataroot' },
  shards: [
    {
      name: '-80',
      tabletUid: 101,
      binlogSource: { host: 'vt1.internal', port: 3306, user: 'vt_repl', tls: { ca: '/etc/vitess/ca.pem' } },
    },
  ],
};

let dir: string;
const saved = process.env.RUNBOOK_CATALOG;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'catalog-guard-'));
  process.env.RUNBOOK_CATALOG = dir;
  await writeFile(
    join(dir, 'shop.json'),
    JSON.stringify({
      runbooks: { perconaPointInTimeRecovery: { input: shop } },
      approval: { required: false },
    }),
    { mode: 0o600 },
  );
  // An invalid entry (a relative datadir) names nothing the guard trusts, and does not stop it.
  await writeFile(
    join(dir, 'broken.json'),
    JSON.stringify({
      runbooks: { perconaPointInTimeRecovery: { input: { ...shop, restore: { datadir: 'x' } } } },
    }),
    { mode: 0o600 },
  );
  await writeFile(
    join(dir, 'commerce.json'),
    JSON.stringify({ runbooks: { vitessSnapshotRestore: { input: vitess } }, approval: { required: false } }),
    { mode: 0o600 },
  );
});
after(async () => {
  if (saved === undefined) delete process.env.RUNBOOK_CATALOG;
  else process.env.RUNBOOK_CATALOG = saved;
  await rm(dir, { recursive: true, force: true });
});

describe('what the catalog named passes', () => {
  test("the catalog's own argv, pid file, endpoints, secret references and datadir", async () => {
    assert.deepEqual(await outsideCatalog([shop.cluster]), []);
    assert.deepEqual(
      await outsideCatalog([shop.archive, { recoveryId: 'r1', datadir: shop.restore.datadir }]),
      [],
    );
  });

  test('a datadir under a catalog data root; a binlog position under "start" is not argv', async () => {
    assert.deepEqual(await outsideCatalog([{ datadir: '/vt/vtdataroot/snap/-80/data' }]), []);
    assert.deepEqual(await outsideCatalog([{ start: { file: 'mysql-bin.000002', position: 342 } }]), []);
  });

  test('endpoints on a unix socket are judged by the activity itself, not here', async () => {
    assert.deepEqual(
      await outsideCatalog([{ socket: '/var/lib/mysql-runbooks/run/x/mysqld.sock', user: 'root' }]),
      [],
    );
  });
});

describe('what it never named is refused', () => {
  const cases: [string, unknown, RegExp][] = [
    [
      'a shell as the start command',
      { ...shop.cluster, start: ['/bin/sh', '-c', 'id'] },
      /^start \["\/bin\/sh"/,
    ],
    [
      'another pid file (signal any process)',
      { ...shop.cluster, pidFile: '/run/sshd.pid' },
      /^pidFile "\/run\/sshd\.pid"/,
    ],
    [
      'a secret sent to a server of the attacker',
      { host: 'attacker.example', user: 'root', password: { env: 'SHOP_PW' } },
      /^MySQL server attacker\.example:3306/,
    ],
    [
      'the catalog server on another port',
      { host: 'db1.internal', port: 3307, user: 'runbook' },
      /^MySQL server db1\.internal:3307/,
    ],
    [
      'another variable of the worker as a secret',
      { password: { env: 'RUNBOOK_CODEC_KEY' } },
      /^secret reference \{"env":"RUNBOOK_CODEC_KEY"\}/,
    ],
    [
      'a file of the host as a secret',
      { password: { file: '/etc/shadow' } },
      /^secret reference \{"file":"\/etc\/shadow"\}/,
    ],
    [
      'the S3 credentials sent to another endpoint',
      { ...shop.archive, endpoint: 'http://attacker.example' },
      /^S3 endpoint http:\/\/attacker\.example/,
    ],
    ['/etc as a datadir', { datadir: '/etc' }, /^datadir \/etc/],
    [
      'a datadir beside a data root (prefix trick)',
      { datadir: '/vt/vtdataroot-evil/data' },
      /^datadir \/vt\/vtdataroot-evil/,
    ],
    ["the invalid entry's datadir", { datadir: 'x' }, /^datadir x/],
  ];
  for (const [name, arg, expected] of cases)
    test(name, async () => {
      const problems = await outsideCatalog([arg]);
      assert.ok(
        problems.some((p) => expected.test(p)),
        problems.join('; '),
      );
    });
});

test('a guarded activity refuses before it runs: nothing is done, and the refusal is final', async () => {
  let ran = 0;
  const activities = guardedByCatalog(
    {
      pauseCluster: async (_c: unknown) => {
        ran++;
        return 'paused';
      },
      resolveRequest: async (_r: unknown) => 'resolved',
    },
    ['resolveRequest'],
  );
  await assert.rejects(
    activities.pauseCluster({ ...shop.cluster, pidFile: '/run/sshd.pid' }),
    (err: Error) => {
      assert.match(
        err.message,
        /^pauseCluster refused: not in this worker's fleet catalog: pidFile "\/run\/sshd\.pid"\. Nothing was done$/,
      );
      assert.equal((err as { nonRetryable?: boolean }).nonRetryable, true);
      return true;
    },
  );
  assert.equal(ran, 0);
  assert.equal(await activities.pauseCluster(shop.cluster), 'paused');
  assert.equal(await activities.resolveRequest({ anything: { env: 'X' } }), 'resolved');
});
