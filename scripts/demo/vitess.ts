// The Vitess demo: keyspace `commerce` with two shards (-80, 80-), each a real MariaDB primary with
// binlogs and a real mariadb-backup in a Vitess file backup storage; more work after the backups; then,
// at a known second, an accident on both shards (a table dropped on -80, rows deleted on 80-).
// vitessSnapshotRestore restores every shard into a SNAPSHOT keyspace as of just before it: copy-back,
// the snapshot GTID found in each shard's binlogs, the replay up to it, and a vttablet serving each.
// Real: MariaDB, mariadb-backup, the binlogs (streamed from each shard's primary), the restored mysqlds.
// Stand-ins (test/fixtures/bin, each headed STAND-IN with the vendor sources it follows: vitessio/vitess
// v7–v12 and the point-in-time recovery docs): vtctlclient (the topology in a file) and vttablet.
import type { TableFingerprint } from '../../workflows/schemas';
import type { VitessResult } from '../../workflows/vitess-snapshot-restore';
import { SqlPools } from '../../activities/mysql/sql';
import { mariadbVersion } from '../lib/mariadb-server';
import { fingerprint, runWorkload, secondBoundary } from '../lib/scenario';
import { fixturesBin } from '../lib/stand-ins';
import { runMetadata } from '../lib/run-summary';
import { VitessWorld, type ShardState } from '../lib/worlds/vitess';
import { printComparison, type DemoSession } from './session';
import { printSteps, withStandIns } from './stand-in-env';

const KEYSPACE = 'commerce';
const SNAPSHOT = 'commerce_before';
const ACCIDENT: Record<string, string> = {
  '-80': 'DROP TABLE shop.orders',
  '80-': "DELETE FROM shop.customers WHERE tier = 'gold'",
};

/** One table list for the whole keyspace: `<shard>/<schema.table>`. */
const byShard = (shards: string[], tables: Record<string, TableFingerprint>[]) =>
  Object.fromEntries(
    shards.flatMap((shard, i) => Object.entries(tables[i] ?? {}).map(([t, f]) => [`${shard}/${t}`, f])),
  );
const describe = (t: Record<string, TableFingerprint>) =>
  Object.entries(t)
    .map(([name, f]) => `${name} ${f.rows} rows`)
    .join(', ') || 'no tables';

export async function vitessDemo(s: DemoSession): Promise<boolean> {
  return withStandIns(() => demo(s));
}

async function demo(s: DemoSession): Promise<boolean> {
  const { base, say } = s;
  say(
    `REAL: MariaDB (${await mariadbVersion()}) one primary per shard with binlogs, mariadb-backup, the restored mysqlds. ` +
      `STAND-INS for Vitess (cannot be installed here): vtctlclient, vttablet from ${fixturesBin}, following ` +
      'vitessio/vitess v7–v12 and its point-in-time recovery docs (see each file’s header)',
  );
  const world = await VitessWorld.build({
    base,
    keyspace: KEYSPACE,
    shards: Object.keys(ACCIDENT),
    binlogPassword: `demo-binlog-${process.pid}-${Date.now()}`,
    binlogPasswordEnv: 'VITESS_DEMO_BINLOG_PW',
    vschema: {
      sharded: true,
      vindexes: { hash: { type: 'hash' } },
      tables: { customers: { column_vindexes: [{ column: 'id', name: 'hash' }] } },
    },
  });
  try {
    return await run(s, world);
  } finally {
    await world.stop(); // the restored mysqlds and vttablets: the session's teardown (under base)
  }
}

async function run(s: DemoSession, world: VitessWorld): Promise<boolean> {
  const { say } = s;
  const shards = world.shards.map((x) => x.name);
  say(`keyspace ${KEYSPACE}: shards ${shards.join(', ')} (topology: ${world.topoFile})`);
  // Each shard its own rows: a different number of transactions on each.
  await world.each((x, i) => runWorkload(x.source.server, 10 + i, 400 + 100 * i));
  await world.each((x) => world.backup(x, 'nightly'));
  say(
    `workload 1: 400 and 500 transactions; backups ${world.shards.map((x) => x.backups.nightly).join(', ')}`,
  );
  await world.each((x, i) => runWorkload(x.source.server, 20 + i, 400));
  await world.each((x) => x.source.server.query('FLUSH BINARY LOGS'));
  await world.each((x, i) => runWorkload(x.source.server, 30 + i, 300));
  say('workload 2: 700 more transactions a shard after the backups, over two binlog files');

  // Binlog times are whole seconds: the accident goes into a later second than the last good work.
  const snapshotTime = await secondBoundary();
  const truth: ShardState[] = await world.capture();
  await world.each((x) => x.source.server.query(ACCIDENT[x.name]!));
  for (const x of world.shards) say(`ACCIDENT on ${x.name} after ${snapshotTime}: ${ACCIDENT[x.name]}`);
  const damaged = await world.capture();
  for (const [i, x] of world.shards.entries())
    say(`  ${x.name}: before ${describe(truth[i]!.tables)}; now ${describe(damaged[i]!.tables)}`);
  await world.stopArchivers(); // the recovery streams each shard's binlogs from its primary

  const { snapshotKeyspace: _k, snapshotTime: _t, ...fixed } = world.input(SNAPSHOT, snapshotTime, 201);
  await s.catalogEntry('demo-vitess', {
    runbooks: { vitessSnapshotRestore: { input: fixed } },
    approval: { required: false },
  });
  const id = `demo-vitess-${Date.now()}`;
  const started = Date.now();
  say(`starting vitessSnapshotRestore of ${KEYSPACE} into ${SNAPSHOT} at ${snapshotTime} — ${s.runUrl(id)}`);
  const request = {
    cluster: 'demo-vitess',
    snapshotKeyspace: SNAPSHOT,
    snapshotTime,
    pitrGtidLookupTimeout: '20s',
  };
  const handle = await s.client.workflow.start('vitessSnapshotRestore', {
    taskQueue: s.taskQueue,
    workflowId: id,
    args: [request],
    ...runMetadata({ kind: 'vitessSnapshotRestore', workflowId: id, request, startedBy: 'npm run demo' }),
  });
  const r = (await handle.result()) as VitessResult;
  printSteps(say, r.steps);
  for (const shard of r.shards ?? []) {
    say(`  shard ${shard.shard} (tablet ${shard.tablet}, mysqld ${shard.endpoint.socket}):`);
    printSteps((m) => say(`  ${m}`), shard.steps);
  }
  say(`recovery finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // The snapshot read back from the restored servers themselves, against each shard's own source.
  const sql = new SqlPools();
  let recovered: Record<string, TableFingerprint>[];
  try {
    recovered = await Promise.all((r.shards ?? []).map((x) => fingerprint(sql, x.endpoint)));
  } finally {
    await sql.closeAll();
  }
  const ok = printComparison(
    byShard(
      shards,
      truth.map((t) => t.tables),
    ),
    [
      {
        label: SNAPSHOT,
        tables: byShard(
          (r.shards ?? []).map((x) => x.shard),
          recovered,
        ),
      },
    ],
  );
  let gtidsMatch = (r.shards ?? []).length === shards.length;
  for (const [i, name] of shards.entries()) {
    const got = r.shards?.find((x) => x.shard === name)?.replay.stateAfter;
    const match = got === truth[i]!.gtid;
    gtidsMatch &&= match;
    console.log(
      `${name}: GTID just before the accident ${truth[i]!.gtid}, snapshot at ${got ?? 'missing'} — ${match ? 'yes' : 'NO'}`,
    );
  }
  const keyspace = JSON.parse((await world.vtctl('GetKeyspace', SNAPSHOT)).stdout) as {
    keyspace_type?: string;
    base_keyspace?: string;
    snapshot_time?: { seconds?: string };
  };
  const seconds = Number(keyspace.snapshot_time?.seconds) * 1000;
  const topoOk =
    keyspace.keyspace_type === 'SNAPSHOT' &&
    keyspace.base_keyspace === KEYSPACE &&
    seconds === Date.parse(snapshotTime);
  console.log(
    `topology: ${SNAPSHOT} is ${keyspace.keyspace_type} of ${keyspace.base_keyspace} at ` +
      `${Number.isFinite(seconds) ? new Date(seconds).toISOString() : 'no time'} — ${topoOk ? 'yes' : 'NO'}`,
  );
  return ok && gtidsMatch && topoOk;
}
