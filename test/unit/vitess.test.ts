// The pure parts of vitessSnapshotRestore: which backup is chosen, the vttablet flags, the keyspace
// JSON, the snapshot keyspace's vschema, and what a valid request is (RFC 3339 UTC snapshot time, …).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseBackup, parseManifest, type BackupCandidate } from '../../activities/vitess/backups';
import { vttabletArgv, type TabletServe } from '../../activities/vitess/tablet';
import { canonicalJson, parseKeyspace, snapshotVSchema } from '../../activities/vitess/topology';
import { describeIssues, durationMs } from '../../workflows/schemas';
import {
  binlogTlsIssues,
  goDuration,
  isRfc3339UtcSecond,
  keyspaceLedgerDir,
  shardDir,
  tabletAlias,
  VitessSnapshotRestoreInput,
} from '../../workflows/schemas-vitess';

const T = '2026-03-01T12:00:00Z';

/** A prepared backup of commerce/-80 that started at `start` and finished at `end`, at GTID 0-1-<seq>. */
function backup(name: string, start: string, end: string | undefined, seq: number): BackupCandidate {
  const gtid = `0-1-${seq}`;
  return {
    name,
    dir: `/backups/commerce/-80/${name}`,
    manifest: {
      BackupMethod: 'mariadb-backup',
      Position: `MariaDB/${gtid}`,
      BackupTime: start,
      ...(end ? { FinishedTime: end } : {}),
      Keyspace: 'commerce',
      Shard: '-80',
      TabletAlias: 'zone1-0000000101',
    },
    inspected: {
      ok: true,
      info: {
        dir: `/backups/commerce/-80/${name}`,
        id: `${name}@1`,
        file: 'mysql-bin.000002',
        position: 400,
        gtid,
        tool: 'mariadb-backup',
      },
    },
  };
}

const choose = (cands: BackupCandidate[], time = T) => chooseBackup(cands, 'commerce', '-80', time);

describe('choosing the backup', () => {
  test('the most recent backup that finished before the snapshot time, not a newer one', () => {
    const r = choose([
      backup('2026-03-01.100000.zone1-101', '2026-03-01T10:00:00Z', '2026-03-01T10:00:09Z', 100),
      backup('2026-03-01.113000.zone1-101', '2026-03-01T11:30:00Z', '2026-03-01T11:30:07Z', 200),
      backup('2026-03-01.120500.zone1-101', '2026-03-01T12:05:00Z', '2026-03-01T12:05:08Z', 300),
    ]);
    assert.equal(r.chosen?.name, '2026-03-01.113000.zone1-101');
    assert.equal(r.chosen?.dialect, 'mariadb');
    assert.equal(r.chosen?.consistentAt, '2026-03-01T11:30:07.000Z');
    assert.deepEqual(
      r.passedOver.map((p) => p.name),
      ['2026-03-01.120500.zone1-101', '2026-03-01.100000.zone1-101'],
    );
    assert.match(
      r.passedOver[0]!.reason,
      /finished at 2026-03-01T12:05:08.000Z, not before the snapshot time/,
    );
  });

  test('a backup still running at the snapshot time is passed over: it may hold later transactions', () => {
    const r = choose([
      backup('old', '2026-03-01T09:00:00Z', '2026-03-01T09:00:05Z', 50),
      backup('straddling', '2026-03-01T11:59:50Z', '2026-03-01T12:00:10Z', 90),
    ]);
    assert.equal(r.chosen?.name, 'old');
    assert.match(r.passedOver.find((p) => p.name === 'straddling')!.reason, /not before the snapshot time/);
  });

  test('a backup finished exactly at the snapshot time is not earlier than it', () => {
    assert.equal(choose([backup('b', '2026-03-01T11:59:00Z', T, 5)]).chosen, null);
  });

  test('without FinishedTime (older manifests) BackupTime is used', () => {
    assert.equal(choose([backup('b', '2026-03-01T11:00:00Z', undefined, 5)]).chosen?.name, 'b');
  });

  test('unusable backups are passed over with the reason: unprepared, other shard, no MANIFEST, disagreeing position', () => {
    const unprepared = backup('unprepared', '2026-03-01T11:50:00Z', '2026-03-01T11:50:05Z', 400);
    unprepared.inspected = { ok: false, problem: 'backup … is not prepared (backup_type = full-backuped)' };
    const otherShard = backup('other', '2026-03-01T11:51:00Z', '2026-03-01T11:51:05Z', 401);
    otherShard.manifest!.Shard = '80-';
    const noManifest = {
      ...backup('bare', '2026-03-01T11:52:00Z', '2026-03-01T11:52:05Z', 402),
      manifest: null,
    };
    const disagreeing = backup('moved', '2026-03-01T11:53:00Z', '2026-03-01T11:53:05Z', 403);
    disagreeing.manifest!.Position = 'MariaDB/0-1-999';
    const mysql = backup('mysql', '2026-03-01T11:54:00Z', '2026-03-01T11:54:05Z', 404);
    mysql.manifest!.Position = 'FilePos/mysql-bin.000001:4';
    const good = backup('good', '2026-03-01T08:00:00Z', '2026-03-01T08:00:05Z', 10);
    const r = choose([unprepared, otherShard, noManifest, disagreeing, mysql, good]);
    assert.equal(r.chosen?.name, 'good');
    const reasons = Object.fromEntries(r.passedOver.map((p) => [p.name, p.reason]));
    assert.match(reasons.unprepared!, /not prepared/);
    assert.match(reasons.other!, /MANIFEST is for commerce\/80-/);
    assert.match(reasons.bare!, /no readable MANIFEST/);
    assert.match(reasons.moved!, /disagrees with the backup's own binlog position \(GTID 0-1-403\)/);
    assert.match(reasons.mysql!, /neither MariaDB\/… nor MySQL56\/…/);
  });

  test('a snapshot time before every backup chooses nothing, and says why for each', () => {
    const r = choose(
      [backup('a', '2026-03-01T10:00:00Z', '2026-03-01T10:00:05Z', 1)],
      '2026-03-01T09:00:00Z',
    );
    assert.equal(r.chosen, null);
    assert.deepEqual(r.passedOver, [
      { name: 'a', reason: 'finished at 2026-03-01T10:00:05.000Z, not before the snapshot time' },
    ]);
  });

  test('a MySQL56 position selects the MySQL dialect', () => {
    const b = backup('m', '2026-03-01T10:00:00Z', '2026-03-01T10:00:05Z', 1);
    const uuid = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
    b.manifest!.Position = `MySQL56/${uuid}:1-5`;
    if (b.inspected.ok) b.inspected.info.gtid = `${uuid}:1-5`;
    assert.equal(choose([b]).chosen?.dialect, 'mysql');
  });

  test('MANIFEST parsing refuses what is not a manifest', () => {
    assert.equal(parseManifest('not json'), null);
    assert.equal(parseManifest('{"Position":"MariaDB/0-1-1"}'), null);
    assert.equal(
      parseManifest(
        '{"Position":"MariaDB/0-1-1","BackupTime":"2026-01-01T00:00:00Z","Keyspace":"k","Shard":"0"}',
      )?.Keyspace,
      'k',
    );
  });
});

describe('vttablet flags', () => {
  const spec: TabletServe = {
    alias: 'zone1-0000000201',
    keyspace: 'restoreks',
    shard: '-80',
    dbName: 'vt_commerce',
    topo: { implementation: 'etcd2', globalServerAddress: 'etcd-1:2379', globalRoot: '/vitess/global' },
    socket: '/tmp/runbook-abc/mysqld.sock',
    user: 'vt_dba',
    credentialsFile: '/var/lib/mysql-runbooks/vttablet/zone1-0000000201/db-credentials.json',
    port: 15201,
    grpcPort: 16201,
  };

  test('serve the restored mysqld: topology, tablet, ports, socket, users, in Go flag syntax', () => {
    const argv = vttabletArgv(spec);
    const flag = (name: string) => argv[argv.indexOf(name) + 1];
    assert.equal(argv[0], 'vttablet');
    assert.equal(flag('-topo_implementation'), 'etcd2');
    assert.equal(flag('-topo_global_server_address'), 'etcd-1:2379');
    assert.equal(flag('-topo_global_root'), '/vitess/global');
    assert.equal(flag('-tablet-path'), 'zone1-0000000201');
    assert.equal(flag('-init_keyspace'), 'restoreks');
    assert.equal(flag('-init_shard'), '-80');
    assert.equal(flag('-init_db_name_override'), 'vt_commerce');
    assert.equal(flag('-port'), '15201');
    assert.equal(flag('-grpc_port'), '16201');
    assert.equal(flag('-db_socket'), '/tmp/runbook-abc/mysqld.sock');
    assert.equal(flag('-db_dba_user'), 'vt_dba');
    assert.equal(flag('-db-credentials-file'), spec.credentialsFile);
  });

  test('never restore, never replay, never carry a password (the runbook owns the restore)', () => {
    const argv = vttabletArgv(spec).join(' ');
    assert.doesNotMatch(argv, /restore_from_backup|-binlog_|backup_storage|pitr_gtid|password/);
  });

  test('no credentials file when the tablet user has no password', () => {
    const argv = vttabletArgv({ ...spec, credentialsFile: undefined });
    assert.ok(!argv.some((a) => a.startsWith('-db-credentials')), argv.join(' '));
  });

  test('durations are written the way Go parses them', () => {
    assert.equal(goDuration('2d'), '48h');
    assert.equal(goDuration('1500ms'), '1500ms');
    assert.equal(durationMs('1m'), 60_000);
    assert.equal(durationMs('1ms'), 1);
  });

  test('aliases are zero-padded; each snapshot keyspace and shard has its own directory', () => {
    assert.equal(tabletAlias('zone1', 201), 'zone1-0000000201');
    assert.equal(shardDir('/vt/', 'restoreks', '-80'), '/vt/restoreks/-80');
    assert.equal(keyspaceLedgerDir('/vt', 'restoreks'), '/vt/restoreks.runbook-ledger');
    assert.notEqual(shardDir('/vt', 'restoreks1', '-80'), shardDir('/vt', 'restoreks2', '-80'));
  });
});

describe('keyspaces and vschemas', () => {
  test('GetKeyspace JSON: enum by name or number, snapshot time from seconds', () => {
    assert.deepEqual(
      parseKeyspace(
        '{"keyspace_type":"SNAPSHOT","base_keyspace":"commerce","snapshot_time":{"seconds":"1595010320","nanoseconds":0}}',
      ),
      { type: 'SNAPSHOT', baseKeyspace: 'commerce', snapshotTime: '2020-07-17T18:25:20Z' },
    );
    assert.equal(
      parseKeyspace('{"keyspace_type":1,"base_keyspace":"k","snapshot_time":{"seconds":1}}').type,
      'SNAPSHOT',
    );
    assert.deepEqual(parseKeyspace('{"served_froms":[]}'), {
      type: 'NORMAL',
      baseKeyspace: null,
      snapshotTime: null,
    });
  });

  test("the snapshot keyspace gets the base's vschema, or the input's, always with require_explicit_routing", () => {
    const base = { sharded: true, vindexes: { hash: { type: 'hash' } } };
    assert.deepEqual(snapshotVSchema(base), { ...base, require_explicit_routing: true });
    const mine = { sharded: false, tables: { orders: {} }, require_explicit_routing: false };
    assert.deepEqual(snapshotVSchema(base, mine), {
      sharded: false,
      tables: { orders: {} },
      require_explicit_routing: true,
    });
  });

  test('vschemas compare by content, not key order', () => {
    assert.equal(
      canonicalJson({ b: [1, { d: 1, c: 2 }], a: null }),
      canonicalJson({ a: null, b: [1, { c: 2, d: 1 }] }),
    );
    assert.notEqual(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }));
  });
});

describe('VitessSnapshotRestoreInput', () => {
  const minimal = (over: Record<string, unknown> = {}) => ({
    vtctld: { server: 'vtctld:15999' },
    baseKeyspace: 'commerce',
    snapshotKeyspace: 'restoreks',
    snapshotTime: '2020-07-17T18:25:20Z',
    backup: { fileBackupStorageRoot: '/backups' },
    tablets: { root: '/vt' },
    shards: [
      {
        name: '-80',
        tabletUid: 201,
        binlogSource: { host: 'b1', port: 3306, user: 'vt_repl', tls: { ca: '/etc/vitess/ca.pem' } },
      },
    ],
    ...over,
  });
  const issues = (input: unknown) => {
    const r = VitessSnapshotRestoreInput.safeParse(input);
    assert.equal(r.success, false, `expected a refusal: ${JSON.stringify(input)}`);
    return r.success ? '' : describeIssues(r.error);
  };

  test('a minimal request is accepted with the defaults of the procedure', () => {
    const r = VitessSnapshotRestoreInput.parse(minimal());
    assert.equal(r.pitrGtidLookupTimeout, '1m');
    assert.equal(r.backup.implementation, 'file');
    assert.equal(r.tablets.cell, 'zone1');
    assert.equal(r.mode, 'run');
  });

  for (const bad of [
    '2020-07-17T20:25:20+02:00',
    '2020-07-17 18:25:20Z',
    '2020-07-17T18:25:20',
    '2020-07-17T18:25:20.5Z',
    '2021-02-30T00:00:00Z',
    '2020-07-17T24:00:00Z',
    '17/07/2020',
  ])
    test(`snapshot time ${bad} is refused: RFC 3339 UTC to the second`, () => {
      assert.match(issues(minimal({ snapshotTime: bad })), /snapshotTime: must be an RFC 3339 UTC time/);
    });

  test('RFC 3339 UTC check', () => {
    assert.ok(isRfc3339UtcSecond('2020-02-29T23:59:59Z'));
    assert.ok(!isRfc3339UtcSecond('2021-02-29T23:59:59Z'));
  });

  test('a snapshot time in the future is refused', () => {
    assert.match(
      issues(minimal({ snapshotTime: '2999-01-01T00:00:00Z' })),
      /snapshotTime: 2999-01-01T00:00:00Z is in the future/,
    );
  });

  test('the snapshot keyspace must differ from the base keyspace', () => {
    assert.match(
      issues(minimal({ snapshotKeyspace: 'commerce' })),
      /snapshotKeyspace: the snapshot keyspace must be a new keyspace/,
    );
  });

  test('shards and tablet uids are unique; shard names are key ranges or names', () => {
    const s = {
      name: '-80',
      tabletUid: 201,
      binlogSource: { host: 'b1', port: 3306, user: 'u', tls: { ca: '/etc/vitess/ca.pem' } },
    };
    assert.match(
      issues(minimal({ shards: [s, { ...s, tabletUid: 202 }] })),
      /shards.1.name: shard -80 is listed twice/,
    );
    assert.match(
      issues(minimal({ shards: [s, { ...s, name: '80-' }] })),
      /shards.1.tabletUid: tablet uid 201 is used by two shards/,
    );
    assert.match(
      issues(minimal({ shards: [{ ...s, name: '../x' }] })),
      /shards.0.name: a shard is a key range/,
    );
    assert.match(issues(minimal({ shards: [{ ...s, name: '-8G' }] })), /shards.0.name/);
  });

  test('the binlog server is reached over verified TLS: a CA is needed, clear text only on loopback', () => {
    const s = (binlogSource: object) => minimal({ shards: [{ name: '-80', tabletUid: 201, binlogSource }] });
    // No CA: refused where inputs enter (catalog) and by the activities, not by the schema (old runs replay).
    assert.match(
      binlogTlsIssues(s({ host: 'b1', port: 3306, user: 'u' })).join(),
      /shards.0.binlogSource.tls: .*give tls.ca/,
    );
    assert.deepEqual(binlogTlsIssues(s({ host: 'b1', port: 3306, user: 'u', tls: { ca: '/ca.pem' } })), []);
    assert.match(
      issues(s({ host: 'b1', port: 3306, user: 'u', tls: { mode: 'disabled' } })),
      /shards.0.binlogSource.tls.mode: TLS can be disabled only for a binlog server on a loopback address/,
    );
    assert.ok(
      VitessSnapshotRestoreInput.safeParse(
        s({ host: '127.0.0.1', port: 3306, user: 'u', tls: { mode: 'disabled' } }),
      ).success,
    );
  });

  test('the binlog password only by reference', () => {
    const s = {
      name: '-80',
      tabletUid: 201,
      binlogSource: {
        host: 'b1',
        port: 3306,
        user: 'u',
        password: 'hunter2',
        tls: { ca: '/etc/vitess/ca.pem' },
      },
    };
    assert.match(issues(minimal({ shards: [s] })), /secrets are given by reference/);
  });

  test('keyspace names cannot carry paths; the vtctld server is host:port; unknown fields are refused', () => {
    assert.match(issues(minimal({ snapshotKeyspace: '../etc' })), /snapshotKeyspace: a keyspace name/);
    assert.match(issues(minimal({ vtctld: { server: 'vtctld' } })), /vtctld.server: must be host:port/);
    assert.match(issues(minimal({ snapshot_time: 'x' })), /snapshot_time/);
    assert.match(
      issues(minimal({ backup: { fileBackupStorageRoot: '/b', implementation: 's3' } })),
      /only "file"/,
    );
    assert.match(
      issues(minimal({ pitrGtidLookupTimeout: '1 minute' })),
      /pitrGtidLookupTimeout: use a duration/,
    );
  });
});
