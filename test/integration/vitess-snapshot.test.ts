// vitessSnapshotRestore on real MariaDB servers. The base keyspace `commerce` has two shards, each a
// real MariaDB source with binlogs (its own archive too), real prepared mariadb-backup backups with a
// Vitess MANIFEST in a file backup storage, and snapshot times cut between workloads. Ground truth is
// read from each source at each snapshot time; restored data is read back from the restored servers.
// vtctlclient and vttablet are stand-ins (test/fixtures/bin): the topology in a file, and vttablet a
// long-running server of the restored mysqld, as the real one is.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { Ledger } from '../../activities/runtime/ledger';
import { isAlive } from '../../activities/runtime/processes';
import { SqlPools } from '../../activities/mysql/sql';
import { killProcessesUnder } from '../../scripts/lib/cleanup';
import { saveHistory } from '../../scripts/lib/history';
import { fingerprint, runWorkload, secondBoundary } from '../../scripts/lib/scenario';
import { rfc, VitessWorld, type ShardState } from '../../scripts/lib/worlds/vitess';
import type { TableFingerprint } from '../../workflows/schemas';
import type { VitessResult } from '../../workflows/vitess-snapshot-restore';
import { historiesDir } from '../support/histories';
import { useStandIns } from '../support/percona-scenario';
import {
  startWorker,
  temporalAddress,
  testClient,
  uniqueQueue,
  type RunningWorker,
} from '../support/temporal';
import { runWorkflow } from '../support/workflows';

useStandIns();

const TYPE = 'vitessSnapshotRestore';
const KS = 'commerce';
const BINLOG_PW = `binlog-pw-${process.pid}-x9`;

let world: VitessWorld;
let topoFile: string;
let tabletsRoot: string;
/** T0 before every backup; T1 and T2 between workloads; T3 after the last write. */
const at: Record<'t0' | 't1' | 't2' | 't3', string> = { t0: '', t1: '', t2: '', t3: '' };
/** Each shard's tables and GTID position at T1 and T2, read from its source. */
const truth: Record<'t1' | 't2', ShardState[]> = { t1: [], t2: [] };
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
let uid = 300;

function input(snapshotKeyspace: string, snapshotTime: string, over: Record<string, unknown> = {}) {
  const first = uid;
  uid += world.shards.length;
  return world.input(snapshotKeyspace, snapshotTime, first, over);
}

interface Topo {
  keyspaces: Record<
    string,
    { keyspace_type: string; base_keyspace?: string; snapshot_time?: { seconds: string } }
  >;
  vschemas: Record<string, Record<string, unknown>>;
  tablets: Record<
    string,
    {
      tablet: { keyspace: string; shard: string; type: string };
      standin: { pid: number; db_socket: string; binlog_password_set: boolean };
    }
  >;
}
const topo = async (): Promise<Topo> => JSON.parse(await readFile(topoFile, 'utf8')) as Topo;
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** The restored tables, read from the restored servers themselves (not from the workflow's result). */
async function readBack(r: VitessResult): Promise<Record<string, TableFingerprint>[]> {
  const sql = new SqlPools();
  try {
    return await Promise.all(r.shards!.map((s) => fingerprint(sql, s.endpoint)));
  } finally {
    await sql.closeAll();
  }
}

const BASE_VSCHEMA = {
  sharded: true,
  vindexes: { hash: { type: 'hash' } },
  tables: { customers: { column_vindexes: [{ column: 'id', name: 'hash' }] } },
};

before(async () => {
  world = await VitessWorld.build({
    base: await mkdtemp(join(tmpdir(), 'vitess-')),
    keyspace: KS,
    shards: ['-80', '80-'],
    binlogPassword: BINLOG_PW,
    binlogPasswordEnv: 'VITESS_TEST_BINLOG_PW',
    vschema: BASE_VSCHEMA,
  });
  ({ topoFile, tabletsRoot } = world);
  const shards = world.shards;
  const each = world.each.bind(world);

  at.t0 = await secondBoundary();
  await each((s, i) => runWorkload(s.source.server, 10 + i, 300));
  await each((s) => world.backup(s, 'first'));
  await each((s, i) => runWorkload(s.source.server, 20 + i, 300));
  await each((s) => s.source.server.query('FLUSH BINARY LOGS'));
  await world.backup(shards[0]!, 'second'); // -80: a newer backup before T1
  await world.backup(shards[1]!, 'unprepared', { prepare: false }); // 80-: newer, but not prepared
  await each((s, i) => runWorkload(s.source.server, 30 + i, 300));
  at.t1 = await secondBoundary();
  truth.t1 = await world.capture();
  await each((s, i) => runWorkload(s.source.server, 40 + i, 300));
  await each((s) => s.source.server.query('FLUSH BINARY LOGS'));
  await world.backup(shards[0]!, 'third'); // -80: after T1, before T2
  await each((s, i) => runWorkload(s.source.server, 50 + i, 300));
  at.t2 = await secondBoundary();
  truth.t2 = await world.capture();
  await each((s, i) => runWorkload(s.source.server, 60 + i, 300));
  at.t3 = await secondBoundary();
  await world.stopArchivers();
  // The snapshots differ from each other and from the end state, so a wrong cut cannot pass.
  assert.notDeepEqual(truth.t1[0]!.tables, truth.t2[0]!.tables);
  worker = await startWorker(uniqueQueue('vitess'));
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  await worker?.stop();
  await closeClient?.();
  await world?.cleanup(); // the sources, and the restored mysqlds and vttablets under its directory
});

describe('end to end', () => {
  test('restores both shards into the SNAPSHOT keyspace at the snapshot time: checksums equal each source at that time', async () => {
    const id = `vitess-e2e-${Date.now()}`;
    const req = input('restore1', at.t1);
    const pidsBefore = await Promise.all(world.shards.map((s) => s.source.server.pid()));
    const r = await runWorkflow<VitessResult>(client, TYPE, worker.taskQueue, req, id);

    assert.deepEqual(
      r.shards!.map((s) => s.tables),
      truth.t1.map((t) => t.tables),
    );
    assert.deepEqual(
      await readBack(r),
      truth.t1.map((t) => t.tables),
    );
    // Exactly the last transaction before the snapshot time, on every shard.
    assert.deepEqual(
      r.shards!.map((s) => s.replay.stateAfter),
      truth.t1.map((t) => t.gtid),
    );
    assert.deepEqual(
      r.plan.map((p) => p.replay.stopGtid),
      truth.t1.map((t) => t.gtid),
    );
    // Backups: the newest that finished before T1 — not the later one (-80), not the unprepared one (80-).
    assert.deepEqual(
      r.plan.map((p) => p.backup.name),
      [world.shards[0]!.backups.second, world.shards[1]!.backups.first],
    );
    const choice = r.steps.find((s) => s.name === 'choose-backups')!.evidence.join('\n');
    assert.match(
      choice,
      new RegExp(`${world.shards[0]!.backups.third}: finished at .* not before the snapshot time`),
    );
    assert.match(choice, new RegExp(`${world.shards[1]!.backups.unprepared}: .*is not prepared`));
    assert.deepEqual(
      r.steps.map((s) => [s.name, s.status]),
      [
        ['check-keyspaces', 'done'],
        ['choose-backups', 'done'],
        ['find-snapshot-gtids', 'done'],
        ['create-snapshot-keyspace', 'done'],
        ['restore-shards', 'done'],
        ['copy-vschema', 'skipped-by-checkpoint'], // CreateKeyspace copied it, as vtctld does
      ],
    );
    for (const s of r.shards!) {
      assert.deepEqual(
        s.steps.map((x) => [x.name, x.status]),
        ['restore-backup', 'start-mysqld', 'apply-binlogs', 'verify', 'start-tablet'].map((n) => [n, 'done']),
      );
      // vttablet serves only what was proven: it starts after the verify step.
      const [verify, start] = [s.steps[3]!, s.steps[4]!];
      assert.ok(start.startedAt! >= verify.endedAt!, `${start.startedAt} after ${verify.endedAt}`);
    }

    // The topology: a SNAPSHOT keyspace of commerce at T1, its vschema, and one recovery tablet per
    // shard, a running vttablet serving the restored mysqld; it restores nothing and holds no binlog password.
    const t = await topo();
    assert.equal(t.keyspaces.restore1?.keyspace_type, 'SNAPSHOT');
    assert.equal(t.keyspaces.restore1?.base_keyspace, KS);
    assert.equal(rfc(Number(t.keyspaces.restore1?.snapshot_time?.seconds) * 1000), at.t1);
    assert.deepEqual(t.vschemas.restore1, { ...BASE_VSCHEMA, require_explicit_routing: true });
    assert.deepEqual(r.vschema, {
      from: 'base',
      vschema: { ...BASE_VSCHEMA, require_explicit_routing: true },
    });
    for (const [i, s] of r.shards!.entries()) {
      const tablet = t.tablets[s.tablet]!;
      assert.deepEqual(
        [tablet.tablet.keyspace, tablet.tablet.shard, tablet.tablet.type],
        ['restore1', world.shards[i]!.name, 'REPLICA'],
      );
      assert.equal(tablet.standin.db_socket, s.endpoint.socket);
      assert.equal(tablet.standin.pid, s.vttablet?.pid);
      assert.ok(isAlive(s.vttablet!.pid), 'the recovery tablet keeps serving after the run');
      const argv = (await readFile(`/proc/${s.vttablet!.pid}/cmdline`, 'utf8')).split('\0').join(' ');
      const environ = await readFile(`/proc/${s.vttablet!.pid}/environ`, 'utf8');
      assert.doesNotMatch(argv, /restore_from_backup|-binlog_|password/);
      assert.doesNotMatch(`${argv}${environ}`, new RegExp(`${BINLOG_PW}|VT_BINLOG_PASSWORD`));
      assert.equal(tablet.standin.binlog_password_set, false);
    }
    const log = await readFile(`${topoFile}.log`, 'utf8');
    assert.doesNotMatch(`${log}${JSON.stringify(t)}${JSON.stringify(r)}`, new RegExp(BINLOG_PW));
    assert.doesNotMatch(log, /"secretFlagsOnArgv":\["/);
    assert.match(
      log,
      /"CreateKeyspace","-keyspace_type=SNAPSHOT","-base_keyspace=commerce","-snapshot_time=[^"]+","restore1"/,
    );
    // The sources were only read.
    assert.deepEqual(await Promise.all(world.shards.map((s) => s.source.server.pid())), pidsBefore);
    await recordHistory(id, 'vitess-snapshot-restore');
    await recordHistory('vitessShardRestore:restore1/-80', 'vitess-shard-restore');

    // A new run of the same recovery redoes nothing: no second CreateKeyspace, copy-back or replay.
    const again = await runWorkflow<VitessResult>(client, TYPE, worker.taskQueue, {
      ...req,
      recoveryId: id,
    });
    assert.equal(
      again.steps.find((s) => s.name === 'create-snapshot-keyspace')?.status,
      'skipped-by-checkpoint',
    );
    for (const s of again.shards!)
      assert.deepEqual(
        s.steps.map((x) => x.status),
        [
          'skipped-by-checkpoint',
          'skipped-by-checkpoint',
          'skipped-by-checkpoint',
          'done',
          'skipped-by-checkpoint', // the same vttablet, still running: not started again
        ],
      );
    assert.deepEqual(
      again.shards!.map((s) => s.vttablet?.pid),
      r.shards!.map((s) => s.vttablet?.pid),
    );
    assert.deepEqual(
      again.shards!.map((s) => s.tables),
      truth.t1.map((x) => x.tables),
    );
    for (const p of r.plan) {
      const journal = await Ledger.besideDatadir(p.datadir).readJournal(id);
      assert.equal(journal.filter((l) => l.includes('copy-back finished')).length, 1);
    }
    await killProcessesUnder(join(tabletsRoot, 'restore1'));
  });
});

describe('plan mode', () => {
  test('the plan, and nothing created', async () => {
    const before = await readFile(topoFile, 'utf8');
    const r = await runWorkflow<VitessResult>(
      client,
      TYPE,
      worker.taskQueue,
      input('planned', at.t2, { mode: 'plan' }),
    );
    assert.equal(r.mode, 'plan');
    assert.deepEqual(
      r.plan.map((p) => p.replay.stopGtid),
      truth.t2.map((t) => t.gtid),
    );
    assert.deepEqual(r.destructiveSteps, ['create-snapshot-keyspace', 'restore-shards']);
    assert.equal(r.shards, undefined);
    assert.equal(await readFile(topoFile, 'utf8'), before);
    for (const s of world.shards)
      assert.equal(await exists(join(tabletsRoot, 'planned', s.name, 'data')), false);
  });
});

describe('several recoveries at once', () => {
  test('two snapshot keyspaces restored at the same time, each equal to its own snapshot time', async () => {
    const vschema = { sharded: true, vindexes: { hash: { type: 'hash' } }, tables: { orders: {} } };
    const a = input('restore_a', at.t1);
    // B reads the binlogs from each shard's archive instead of the binlog server, and brings its own vschema.
    const b0 = input('restore_b', at.t2, { vschema });
    const b = {
      ...b0,
      shards: b0.shards.map((s, i) => ({
        ...s,
        binlogSource: { ...s.binlogSource, archive: { kind: 'fs', dir: world.shards[i]!.source.archiveDir } },
      })),
    };
    const [ra, rb] = await Promise.all([
      runWorkflow<VitessResult>(client, TYPE, worker.taskQueue, a),
      runWorkflow<VitessResult>(client, TYPE, worker.taskQueue, b),
    ]);

    assert.deepEqual(
      await readBack(ra),
      truth.t1.map((t) => t.tables),
    );
    assert.deepEqual(
      await readBack(rb),
      truth.t2.map((t) => t.tables),
    );
    assert.deepEqual(
      rb.shards!.map((s) => s.replay.stateAfter),
      truth.t2.map((t) => t.gtid),
    );
    // B's snapshot time is after -80's third backup: it starts from there.
    assert.equal(rb.plan[0]!.backup.name, world.shards[0]!.backups.third);
    assert.match(
      rb.steps.find((s) => s.name === 'find-snapshot-gtids')!.evidence.join('\n'),
      /found in the archive /,
    );
    // Nothing shared: datadirs, sockets, tablets.
    const dirs = [...ra.plan, ...rb.plan].map((p) => p.datadir);
    const socketsUsed = [...ra.shards!, ...rb.shards!].map((s) => s.endpoint.socket);
    assert.equal(new Set(dirs).size, 4);
    assert.equal(new Set(socketsUsed).size, 4);
    const t = await topo();
    assert.equal(t.keyspaces.restore_a?.snapshot_time?.seconds, String(Date.parse(at.t1) / 1000));
    assert.equal(t.keyspaces.restore_b?.snapshot_time?.seconds, String(Date.parse(at.t2) / 1000));
    assert.deepEqual(
      Object.values(t.tablets)
        .filter((x) => x.tablet.keyspace.startsWith('restore_'))
        .map((x) => `${x.tablet.keyspace}/${x.tablet.shard}`)
        .sort(),
      ['restore_a/-80', 'restore_a/80-', 'restore_b/-80', 'restore_b/80-'],
    );
    // B's own vschema, with require_explicit_routing; A has the base keyspace's.
    assert.deepEqual(t.vschemas.restore_b, { ...vschema, require_explicit_routing: true });
    assert.equal(rb.steps.find((s) => s.name === 'copy-vschema')?.status, 'done');
    assert.deepEqual(t.vschemas.restore_a, { ...BASE_VSCHEMA, require_explicit_routing: true });
    await killProcessesUnder(join(tabletsRoot, 'restore_a'));
    await killProcessesUnder(join(tabletsRoot, 'restore_b'));
  });
});

/** With RECORD_HISTORIES=1, saves the run's history for the replay suite (test/histories). */
async function recordHistory(workflowId: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  await saveHistory(temporalAddress(), workflowId, join(historiesDir, `${name}.json`));
}
