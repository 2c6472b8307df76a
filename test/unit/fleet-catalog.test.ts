// The fleet catalog (activities/trust/fleet-catalog.ts): a request names a cluster and sets only what a
// request may set; the rest comes from files on the workers that nobody else can write. Each attack
// here is a request or a catalog someone hostile wrote; each must lose.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { entryIssues, loadCatalog, resolveRequest } from '../../activities/trust/fleet-catalog';

const KIND = 'perconaPointInTimeRecovery';
const shopInput = {
  cluster: { adapter: 'process', name: 'shop', pidFile: '/run/mysqld/shop.pid', start: ['mariadbd'] },
  backup: { dir: '/backups/shop-full' },
  restore: { datadir: '/var/lib/mysql-shop', password: { env: 'SHOP_PW' } },
  archive: { kind: 'fs', dir: '/var/lib/binlog-archive/shop' },
};

const ANA = {
  name: 'ana',
  publicKey: Buffer.from(ed25519.getPublicKey(ed25519.utils.randomSecretKey())).toString('base64'),
};
const approval = { approvers: [ANA] };

let dir: string;
const saved = process.env.RUNBOOK_CATALOG;

async function entry(name: string, body: unknown, mode = 0o600): Promise<void> {
  const path = join(dir, `${name}.json`);
  await writeFile(path, JSON.stringify(body));
  await chmod(path, mode);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-catalog-'));
  process.env.RUNBOOK_CATALOG = dir;
  await entry('shop', { runbooks: { [KIND]: { input: shopInput } }, approval });
  const bob = { ...ANA, name: 'bob' };
  await entry('shop-two', {
    runbooks: { [KIND]: { input: shopInput } },
    approval: { approvers: [ANA, bob] },
  });
  await entry('drill', {
    runbooks: { [KIND]: { input: shopInput, allow: ['target', 'requireApproval'] } },
    approval: { required: false },
  });
});
after(async () => {
  if (saved === undefined) delete process.env.RUNBOOK_CATALOG;
  else process.env.RUNBOOK_CATALOG = saved;
  await rm(dir, { recursive: true, force: true });
});

/** The refusal's message (it must be a non-retryable InvalidInput). */
async function refusal(kind: string, request: unknown): Promise<string> {
  try {
    await resolveRequest(kind, request);
  } catch (err) {
    const e = err as { message: string; nonRetryable?: boolean; type?: string };
    assert.equal(e.nonRetryable, true, e.message);
    assert.equal(e.type, 'InvalidInput');
    return e.message;
  }
  throw new Error('the request was resolved, not refused');
}

describe('resolving a request', () => {
  test("the catalog's part and the request's fields make the input; approval required by default", async () => {
    const r = await resolveRequest(KIND, { cluster: 'shop', target: { type: 'latest' }, mode: 'plan' });
    assert.deepEqual(r.input, {
      ...shopInput,
      target: { type: 'latest' },
      mode: 'plan',
      requireApproval: true,
    });
    assert.deepEqual(r.approval, { approvers: [ANA], quorum: 1, starterMayApprove: false });
  });

  test('a request that sets argv, a pid file, a datadir, an endpoint or a secret reference loses, naming each field', async () => {
    const message = await refusal(KIND, {
      cluster: 'shop',
      target: { type: 'latest' },
      start: ['/bin/sh', '-c', 'id > /tmp/owned'],
      restore: { datadir: '/etc' },
      archive: { kind: 's3', bucket: 'b', prefix: '', endpoint: 'http://attacker.example' },
      backup: { dir: '/' },
      dialect: 'mysql',
    });
    for (const field of ['start', 'restore', 'archive', 'backup', 'dialect'])
      assert.match(
        message,
        new RegExp(`${field}: set by the fleet catalog on the workers, not by a request`),
      );
  });

  test('the cluster is a catalog name: an object, a path or an unknown name is refused', async () => {
    assert.match(
      await refusal(KIND, { cluster: { adapter: 'process', name: 'x', pidFile: '/p', start: ['sh'] } }),
      /cluster: the name of a cluster in the fleet catalog/,
    );
    assert.match(await refusal(KIND, { cluster: '../../etc/passwd' }), /cluster: the name of a cluster/);
    assert.match(await refusal(KIND, { cluster: 'nowhere' }), /cluster: nowhere is not in the fleet catalog/);
  });

  test('an entry serves only the runbooks it names', async () => {
    assert.match(
      await refusal('perconaRollback', { cluster: 'shop', recoveryId: 'x' }),
      /the catalog entry shop does not serve perconaRollback \(it serves perconaPointInTimeRecovery\)/,
    );
  });

  test('a request cannot waive the approval the catalog requires; a drill entry may', async () => {
    assert.match(
      await refusal(KIND, { cluster: 'shop', target: { type: 'latest' }, requireApproval: false }),
      /requireApproval: the catalog requires approval for shop/,
    );
    const drill = await resolveRequest(KIND, { cluster: 'drill', target: { type: 'latest' } });
    assert.equal(drill.input.requireApproval, undefined, "the runbook's own default applies");
  });

  test('an unsigned start that only one approver could approve is refused: its starter may be that approver', async () => {
    // The self-approval: ana starts the run without signing and approves it alone. With quorum 1 and
    // one approver nobody else could ever approve, so the start is refused before any step.
    assert.match(
      await refusal(KIND, { cluster: 'shop', target: { type: 'latest' } }),
      /startedBy: shop needs 1 approval\(s\) by someone other than the starter.*would need 2 distinct approvers while the catalog names 1: start it signed/,
    );
    // A plan changes nothing, a signed start proves its starter, a second approver makes it approvable.
    await resolveRequest(KIND, { cluster: 'shop', target: { type: 'latest' }, mode: 'plan' });
    const signed = { name: 'ana', expiresAt: '2030-01-01T00:00:00Z', signature: 'verified by the workflow' };
    await resolveRequest(KIND, { cluster: 'shop', target: { type: 'latest' }, startedBy: signed });
    const BOB = { ...ANA, name: 'bob' };
    await entry('shop-two', {
      runbooks: { [KIND]: { input: shopInput } },
      approval: { approvers: [ANA, BOB] },
    });
    await resolveRequest(KIND, { cluster: 'shop-two', target: { type: 'latest' } });
  });

  test("an entry's allow list narrows what a request may set", async () => {
    assert.match(
      await refusal(KIND, { cluster: 'drill', target: { type: 'latest' }, force: true }),
      /force: this cluster's catalog entry does not let a request set it/,
    );
  });

  test('a bad value is named with the field, and said to come from the catalog when it does', async () => {
    await entry('broken', {
      runbooks: { [KIND]: { input: { ...shopInput, restore: { datadir: 'relative' } } } },
      approval,
    });
    try {
      const message = await refusal(KIND, { cluster: 'broken', target: { type: 'latest' } });
      assert.match(
        message,
        /^invalid input: restore\.datadir: must be an absolute path.*\(restore from the fleet catalog entry broken\)$/,
      );
      assert.match(
        await refusal(KIND, { cluster: 'shop', target: { type: 'gtid', gtid: '0-1' } }),
        /^invalid input: target\.gtid: not a MariaDB GTID/,
      );
    } finally {
      await rm(join(dir, 'broken.json'));
    }
  });
});

describe('checks beyond the schema', () => {
  test('a Vitess binlog source that vttablet would reach in clear (no CA) makes the entry unusable', () => {
    const vitess = {
      vtctld: {
        server: 'vtctld:15999',
        topo: { implementation: 'etcd2', globalServerAddress: 'etcd:2379', globalRoot: '/vitess/global' },
      },
      baseKeyspace: 'commerce',
      snapshotKeyspace: 'restoreks',
      backup: { fileBackupStorageRoot: '/backups' },
      tablets: { root: '/vt' },
      shards: [
        { name: '-80', tabletUid: 201, binlogSource: { host: 'b1.internal', port: 3306, user: 'vt_repl' } },
      ],
    };
    const entryOf = (input: object) => ({
      runbooks: { vitessSnapshotRestore: { input } },
      approval: { required: false },
    });
    assert.match(
      entryIssues('vt', entryOf(vitess)).join(),
      /catalog entry vt: vitessSnapshotRestore\.input\.shards\.0\.binlogSource\.tls: .*give tls\.ca/,
    );
    const withCa = {
      ...vitess,
      shards: [
        {
          ...vitess.shards[0],
          binlogSource: { ...vitess.shards[0]!.binlogSource, tls: { ca: '/etc/vt/ca.pem' } },
        },
      ],
    };
    assert.deepEqual(entryIssues('vt', entryOf(withCa)), []);
    // vttablet exits at once without a topology server (go/vt/topo/server.go): the catalog must name one.
    assert.match(
      entryIssues('vt', entryOf({ ...withCa, vtctld: { server: 'vtctld:15999' } })).join(),
      /vtctld\.topo: the topology server vttablet registers in/,
    );
  });
});

describe('approvals are proven, not typed', () => {
  const cases: [string, unknown, RegExp][] = [
    ['approval required and no approver named', {}, /names at least `quorum` approvers/],
    ['a quorum of 2 with one approver', { approvers: [ANA], quorum: 2 }, /names at least `quorum` approvers/],
    [
      'a public key that is not Ed25519',
      { approvers: [{ name: 'bob', publicKey: 'ssh-rsa AAAAB3Nza' }] },
      /not an Ed25519 public key/,
    ],
    ['two approvers with one name', { approvers: [ANA, ANA] }, /two approvers share a name/],
  ];
  for (const [name, policy, expected] of cases)
    test(`an entry is unusable: ${name}`, async () => {
      await entry('policy', { runbooks: { [KIND]: { input: shopInput } }, approval: policy });
      try {
        assert.match(await refusal(KIND, { cluster: 'policy', target: { type: 'latest' } }), expected);
      } finally {
        await rm(join(dir, 'policy.json'));
      }
    });
});

describe('a catalog someone else could write is not trusted', () => {
  test('an entry writable by group or others is refused', async () => {
    await entry('loose', { runbooks: { [KIND]: { input: shopInput } }, approval }, 0o666);
    try {
      assert.match(
        await refusal(KIND, { cluster: 'loose', target: { type: 'latest' } }),
        /loose\.json is writable by others \(mode 666\)/,
      );
      await assert.rejects(loadCatalog(dir), /writable by others/);
    } finally {
      await rm(join(dir, 'loose.json'));
    }
  });

  test('a catalog directory writable by others is refused (an entry could be planted in it)', async () => {
    const open = await mkdtemp(join(tmpdir(), 'fleet-open-'));
    try {
      await chmod(open, 0o777);
      await assert.rejects(loadCatalog(open), /writable by others \(mode 777\)/);
    } finally {
      await rm(open, { recursive: true, force: true });
    }
  });
});

describe('a worker loads the whole catalog at start', () => {
  test('every valid entry, and a missing directory is an empty catalog', async () => {
    const c = await loadCatalog(dir);
    assert.deepEqual([...c.keys()].sort(), ['drill', 'shop', 'shop-two']);
    assert.equal((await loadCatalog(join(dir, 'absent'))).size, 0);
  });

  test('an invalid entry stops it, naming the entry, the runbook and the field; so does a file name that is not a name', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'fleet-bad-'));
    try {
      await writeFile(
        join(bad, 'shop.json'),
        JSON.stringify({ runbooks: { [KIND]: { input: { ...shopInput, cluster: { adapter: 'ssh' } } } } }),
        { mode: 0o600 },
      );
      await writeFile(join(bad, 'typo.json'), JSON.stringify({ runbook: KIND }), { mode: 0o600 });
      await writeFile(join(bad, 'odd name.json'), '{}', { mode: 0o600 });
      await writeFile(join(bad, 'notes.txt'), 'ignored', { mode: 0o600 });
      await mkdir(join(bad, 'sub.d'));
      await assert.rejects(loadCatalog(bad), (err: Error) => {
        assert.match(err.message, /catalog entry shop: perconaPointInTimeRecovery\.input\.cluster\.adapter/);
        assert.match(err.message, /catalog entry typo: .*runbook/);
        assert.match(err.message, /odd name\.json: not a catalog name/);
        return true;
      });
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });
});
