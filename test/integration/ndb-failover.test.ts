// ndbChannelFailover on real MariaDB servers and real replication; the runbook's own SQL runs unchanged.
// The NDB model (scripts/lib/worlds/ndb-model.ts): the source cluster is SQL node M (epochs written by
// NdbSource, with mysql.ndb_apply_status upserts and ndb_binlog_index rows) and SQL node M' (a replica
// of M with log_slave_updates, so it binlogs the same epochs at its own positions, indexed by
// indexReplicatedEpochs). Each replica cluster is one MariaDB server R standing for both replica SQL
// nodes S and S' (they share NDB data): two named channels on it, 'primary' from M and 'secondary'
// from M'. Running both at once really conflicts (duplicate keys), which is what the guard is for.
// Ground truth is read from the servers: SHOW BINLOG EVENTS on M' for start points, checksums on M.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { approveUpdate, progressQuery, type RunbookProgress } from '../../workflows/kit';
import type { NdbFailoverResult } from '../../workflows/ndb-channel-failover';
import type { Endpoint, TableFingerprint } from '../../workflows/schemas';
import { SqlPools } from '../../activities/mysql/sql';
import { fingerprintTables } from '../../activities/mysql/verify';
import { startMariadbServer, type MariadbServer } from '../../scripts/lib/mariadb-server';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { saveHistory } from '../../scripts/lib/history';
import { historiesDir } from '../support/histories';
import { indexReplicatedEpochs, NdbSource, type EpochRecord } from '../../scripts/lib/worlds/ndb-model';
import {
  caughtUp,
  maxEpoch,
  NDB_SERVER_ARGS,
  prepareNdbServers,
  replicate,
  SKIP_DDL_ARG,
  slaveStatus,
  STRICT_REPLICA_ARGS,
  type Row,
} from '../../scripts/lib/worlds/ndb-replication';
import {
  startWorker,
  temporalAddress,
  testClient,
  uniqueQueue,
  type RunningWorker,
} from '../support/temporal';
import { runWorkflow, updateRejection } from '../support/workflows';
import { catalogRequest } from '../support/fleet';

const TYPE = 'ndbChannelFailover';
const REPL_PW = `repl-${randomUUID()}`;
process.env.NDB_FAILOVER_REPL_PW = REPL_PW;

let base: string;
/** M and M' (source cluster); R1 (no DDL skip), R2 and R3 (DDL-exists errors skipped): replica clusters. */
let M: MariadbServer, M2: MariadbServer, R1: MariadbServer, R2: MariadbServer, R3: MariadbServer;
let ndb: NdbSource;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
const pools = new SqlPools();
/** The last epoch R1 and R2 applied before their primary channel failed, and the DDL right after it. */
let lastBeforeFailure: EpochRecord;
let firstAfterFailure: EpochRecord;
let ddlGtid: string;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const endpoint = (s: MariadbServer): Endpoint => ({ socket: s.socket, user: 'root' });

async function recordHistory(workflowId: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  await saveHistory(temporalAddress(), workflowId, join(historiesDir, `${name}.json`));
}

/** Every channel's configuration and state, and the latest epoch: what "nothing touched" compares. */
async function snapshot(s: MariadbServer): Promise<unknown> {
  const rows = await s.query<Row[]>('SHOW ALL SLAVES STATUS');
  return {
    channels: rows.map((r) => [
      r.Connection_name,
      r.Slave_IO_Running,
      r.Slave_SQL_Running,
      r.Master_Host,
      r.Master_Port,
      r.Master_Log_File,
      r.Read_Master_Log_Pos,
      r.Relay_Master_Log_File,
      r.Exec_Master_Log_Pos,
    ]),
    latest: await maxEpoch(s),
  };
}

/** The first row's column `v`, as a string. */
async function value(s: MariadbServer, sql: string): Promise<string> {
  const [row] = await s.query<{ v: unknown }[]>(sql);
  return String(row?.v);
}

const shop = (s: MariadbServer): Promise<Record<string, TableFingerprint>> =>
  fingerprintTables(pools, endpoint(s), ['shop']);

/** Where the transaction with `gtid` starts in `server`'s own binlog (SHOW BINLOG EVENTS: ground truth). */
async function gtidEvent(server: MariadbServer, gtid: string): Promise<{ file: string; position: number }> {
  for (const { Log_name } of await server.query<{ Log_name: string }[]>('SHOW BINARY LOGS')) {
    const events = await server.query<{ Pos: number; Event_type: string; Info: string }[]>(
      'SHOW BINLOG EVENTS IN ?',
      [Log_name],
    );
    const e = events.find((x) => x.Event_type === 'Gtid' && x.Info.endsWith(`GTID ${gtid}`));
    if (e) return { file: Log_name, position: Number(e.Pos) };
  }
  throw new Error(`no GTID ${gtid} in the binlogs of ${server.datadir}`);
}

/** Where the transaction with `gtid` ends in `server`'s binlog: End_log_pos of its commit (Xid) event. */
async function transactionEnd(
  server: MariadbServer,
  gtid: string,
): Promise<{ file: string; position: number }> {
  const start = await gtidEvent(server, gtid);
  const events = await server.query<{ Event_type: string; End_log_pos: number }[]>(
    'SHOW BINLOG EVENTS IN ? FROM ?',
    [start.file, start.position],
  );
  const xid = events.find((e) => e.Event_type === 'Xid');
  if (!xid) throw new Error(`no commit for GTID ${gtid}`);
  return { file: start.file, position: Number(xid.End_log_pos) };
}

/** One epoch of shop work: new orders, a customer upsert, an update of an earlier order. */
async function shopEpoch(n: number, audit = false): Promise<EpochRecord> {
  return ndb.epoch(`
    INSERT INTO shop.orders VALUES (${n * 10 + 1}, ${n % 7}, ${n}.25, 'new'), (${n * 10 + 2}, ${(n + 3) % 7}, ${n * 3}.10, 'new');
    INSERT INTO shop.customers VALUES (${n % 7}, 'customer-${n % 7}', 'silver') ON DUPLICATE KEY UPDATE tier = 'gold';
    UPDATE shop.orders SET status = 'shipped' WHERE id = ${Math.max(1, n - 2) * 10 + 1};
    ${audit ? `INSERT INTO shop.audit VALUES (${n}, 'epoch ${n}');` : ''}`);
}

let epochNo = 0;
async function writeEpochs(gcis: number, micros: number, audit = false): Promise<void> {
  for (let g = 0; g < gcis; g++) {
    ndb.nextGci();
    for (let m = 0; m < micros; m++) await shopEpoch(++epochNo, audit);
  }
}

function input(
  r: MariadbServer,
  form: 'epoch-greater' | 'next-position',
  extra: Record<string, unknown> = {},
) {
  return {
    dialect: 'mariadb', // MariaDB stands in for the MySQL SQL nodes
    cluster: 'shop-dr',
    replica: { endpoint: endpoint(r) },
    primary: { channel: 'primary' },
    secondary: {
      channel: 'secondary',
      source: { endpoint: endpoint(M2) },
      connect: { host: '127.0.0.1', port: M2.port, user: 'repl', password: { env: 'NDB_FAILOVER_REPL_PW' } },
    },
    form,
    catchUpTimeout: '30s',
    ...extra,
  };
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'ndb-failover-'));
  const start = (name: string, serverId: number, extra: string[] = []) =>
    startMariadbServer({ baseDir: join(base, name), serverId, extraArgs: [...NDB_SERVER_ARGS, ...extra] });
  [M, M2, R1, R2, R3] = await Promise.all([
    start('m', 1),
    start('m-prime', 2),
    start('r1', 11, STRICT_REPLICA_ARGS),
    start('r2', 12, [...STRICT_REPLICA_ARGS, SKIP_DDL_ARG]),
    start('r3', 13, [...STRICT_REPLICA_ARGS, SKIP_DDL_ARG]),
  ]);
  worker = await startWorker(uniqueQueue('ndb-failover'));
  ({ client, close: closeClient } = await testClient());

  ndb = new NdbSource(M, 1000);
  await ndb.init();
  await prepareNdbServers([M, M2, R1, R2, R3], REPL_PW);
  await replicate(M2, '', M, REPL_PW);
  for (const r of [R1, R2, R3]) await replicate(r, 'primary', M, REPL_PW);

  await M.query(`
    CREATE DATABASE shop;
    CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, tier VARCHAR(16) NOT NULL) ENGINE=InnoDB;
    CREATE TABLE shop.orders (id INT PRIMARY KEY, customer_id INT NOT NULL, amount DECIMAL(10,2) NOT NULL,
      status VARCHAR(16) NOT NULL) ENGINE=InnoDB;`);
  await writeEpochs(3, 3);
  lastBeforeFailure = ndb.epochs.at(-1)!;
  // DDL between epochs, as NDB binlogs it: the next-position form starts before it, epoch-greater after it.
  await M.query('CREATE TABLE shop.audit (id INT PRIMARY KEY, note VARCHAR(64) NOT NULL) ENGINE=InnoDB');
  const [ddl] = await M.query<{ g: string }[]>('SELECT @@gtid_binlog_pos AS g');
  ddlGtid = ddl!.g;
  for (const r of [R1, R2, R3]) await caughtUp(r, 'primary', M);
  await caughtUp(M2, '', M);
  // The primary channel of R1 and R2 fails here; R3's keeps running.
  for (const r of [R1, R2]) await r.query("STOP SLAVE 'primary'");
  await M2.query('FLUSH BINARY LOGS');
  const applied = ndb.epochs.length;
  await writeEpochs(3, 4, true);
  firstAfterFailure = ndb.epochs[applied]!;
  await caughtUp(M2, '', M);
  await caughtUp(R3, 'primary', M);
  await indexReplicatedEpochs(M2, ndb.epochs);
});

after(async () => {
  await worker?.stop();
  await closeClient?.();
  await pools.closeAll();
  for (const s of [M, M2, R1, R2, R3]) await s?.destroy().catch(() => {});
  if (base) await removeTestDir(base);
});

test("the model: R1 and R2 stopped at the failure, M' has every epoch, R3 is current", async () => {
  assert.equal(ndb.epochs.length, 21);
  assert.equal(firstAfterFailure, ndb.epochs[9]);
  assert.equal(await maxEpoch(R1), lastBeforeFailure.epoch.toString());
  assert.equal(await maxEpoch(R3), ndb.epochs.at(-1)!.epoch.toString());
  assert.equal(await maxEpoch(M2), ndb.epochs.at(-1)!.epoch.toString());
  assert.notDeepEqual(await shop(R1), await shop(M));
  assert.equal(await value(M2, 'SELECT COUNT(*) AS v FROM mysql.ndb_binlog_index'), '21');
});

describe('failover to the secondary channel', () => {
  test('plan mode returns the latest epoch and the start point, and touches nothing', async () => {
    const before1 = await snapshot(R1);
    const r = await runWorkflow<NdbFailoverResult>(
      client,
      TYPE,
      worker.taskQueue,
      input(R1, 'epoch-greater', { mode: 'plan' }),
    );
    assert.equal(r.mode, 'plan');
    assert.equal(r.plan.latestEpoch, lastBeforeFailure.epoch.toString());
    const truth = await gtidEvent(M2, firstAfterFailure.gtid);
    assert.deepEqual({ file: r.plan.start?.file, position: r.plan.start?.position }, truth);
    assert.equal(r.plan.primary.running, false);
    assert.deepEqual(r.destructiveSteps, ['change-master']);
    assert.deepEqual(
      r.steps.filter((s) => s.status !== 'pending').map((s) => s.name),
      ['check-channels'],
    );
    assert.deepEqual(await snapshot(R1), before1);
  });

  test('epoch-greater: starts at the first epoch after the latest applied; the replica equals the source', async () => {
    const r = await runWorkflow<NdbFailoverResult>(
      client,
      TYPE,
      worker.taskQueue,
      input(R1, 'epoch-greater'),
    );
    // Steps 1–2 of the procedure, against ground truth read from the servers.
    assert.equal(r.latestEpoch, lastBeforeFailure.epoch.toString());
    const truth = await gtidEvent(M2, firstAfterFailure.gtid);
    assert.equal(truth.file, 'mysql-bin.000002');
    assert.deepEqual({ file: r.start?.file, position: r.start?.position }, truth);
    assert.equal(r.start?.rowEpoch, firstAfterFailure.epoch.toString());
    // Steps 3–4: the secondary channel reads M' from there; the primary channel stayed stopped.
    const sec = await slaveStatus(R1, 'secondary');
    assert.deepEqual(
      [sec.Slave_IO_Running, sec.Slave_SQL_Running, Number(sec.Master_Port)],
      ['Yes', 'Yes', M2.port],
    );
    assert.equal((await slaveStatus(R1, 'primary')).Slave_IO_Running, 'No');
    assert.equal(r.replication?.caughtUp, true);
    assert.equal(typeof r.replication?.secondsBehind, 'number');
    // The replica equals the source.
    await caughtUp(R1, 'secondary', M2);
    assert.deepEqual(await shop(R1), await shop(M));
    assert.equal(await maxEpoch(R1), ndb.epochs.at(-1)!.epoch.toString());
    assert.equal(r.replication?.latestEpoch, ndb.epochs.at(-1)!.epoch.toString());
    assert.deepEqual(
      r.steps.map((s) => `${s.name}:${s.status}`),
      [
        'check-channels:done',
        'stop-primary-channel:skipped-by-checkpoint',
        'find-latest-epoch:done',
        'find-start-position:done',
        'change-master:done',
        'start-slave:done',
        'verify-replication:done',
      ],
    );
    const change = r.steps.find((s) => s.name === 'change-master')!;
    assert.ok(change.evidence.some((e) => e.includes("MASTER_LOG_FILE='mysql-bin.000002'")));
    assert.ok(
      change.evidence.some((e) => e.includes('MASTER_PASSWORD=<secret from env NDB_FAILOVER_REPL_PW>')),
    );
    assert.doesNotMatch(JSON.stringify(r), new RegExp(REPL_PW));
  });

  test("run again: the secondary channel already runs from M', so nothing is repointed", async () => {
    const before1 = await slaveStatus(R1, 'secondary');
    const r = await runWorkflow<NdbFailoverResult>(
      client,
      TYPE,
      worker.taskQueue,
      input(R1, 'epoch-greater'),
    );
    assert.equal(r.plan.alreadyFailedOver, true);
    assert.deepEqual(
      r.steps.filter((s) => s.status === 'done').map((s) => s.name),
      ['check-channels', 'verify-replication'],
    );
    assert.deepEqual(r.destructiveSteps, []);
    const after1 = await slaveStatus(R1, 'secondary');
    assert.equal(after1.Relay_Log_File, before1.Relay_Log_File, 'the channel was not reset');
    assert.deepEqual(await shop(R1), await shop(M));
  });

  test('next-position: starts right after the latest applied epoch, re-reads the DDL after it (skipped) and equals the source', async () => {
    const skippedBefore = await value(
      R2,
      "SELECT VARIABLE_VALUE AS v FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_SKIPPED_ERRORS'",
    );
    const r = await runWorkflow<NdbFailoverResult>(
      client,
      TYPE,
      worker.taskQueue,
      input(R2, 'next-position'),
    );
    assert.equal(r.latestEpoch, lastBeforeFailure.epoch.toString());
    // next_position of the latest epoch is where the next transaction starts in M''s binlog: the DDL.
    const truth = await gtidEvent(M2, ddlGtid);
    assert.equal(truth.file, 'mysql-bin.000001');
    assert.deepEqual({ file: r.start?.file, position: r.start?.position }, truth);
    assert.equal(r.start?.rowEpoch, lastBeforeFailure.epoch.toString());
    await caughtUp(R2, 'secondary', M2);
    assert.deepEqual(await shop(R2), await shop(M));
    assert.equal(await maxEpoch(R2), ndb.epochs.at(-1)!.epoch.toString());
    // The CREATE TABLE it re-read failed with "table exists" and was skipped, as the procedure warns.
    const skippedAfter = await value(
      R2,
      "SELECT VARIABLE_VALUE AS v FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_SKIPPED_ERRORS'",
    );
    assert.equal(Number(skippedAfter) - Number(skippedBefore), 1);
  });

  test('stopPrimary behind the approval gate: the primary is stopped only when approved, then the secondary takes over', async () => {
    const workflowId = `ndb-failover-approval-${randomUUID().slice(0, 8)}`;
    const handle = await client.workflow.start(TYPE, {
      taskQueue: worker.taskQueue,
      workflowId,
      args: [
        await catalogRequest(TYPE, input(R3, 'next-position', { stopPrimary: true, requireApproval: true })),
      ],
    });
    const waitFor = async (step: string): Promise<RunbookProgress> => {
      for (let i = 0; i < 200; i++) {
        const p = await handle.query(progressQuery);
        if (p.steps.find((s) => s.name === step)?.status === 'waiting-approval') return p;
        await sleep(100);
      }
      throw new Error(`${step} never waited for approval`);
    };
    const p = await waitFor('stop-primary-channel');
    assert.match(p.steps[0]!.evidence.join('\n'), /plan \(read again once the primary channel is stopped\)/);
    assert.equal(
      (await slaveStatus(R3, 'primary')).Slave_SQL_Running,
      'Yes',
      'still running before approval',
    );
    assert.match(
      await updateRejection(
        handle.executeUpdate(approveUpdate, {
          args: [{ step: 'find-latest-epoch', approver: 'ana', reason: 'x' }],
        }),
      ),
      /not destructive/,
    );
    await handle.executeUpdate(approveUpdate, {
      args: [{ step: 'stop-primary-channel', approver: 'ana', reason: 'INC-7' }],
    });
    await waitFor('change-master');
    const primary = await slaveStatus(R3, 'primary');
    assert.deepEqual([primary.Slave_IO_Running, primary.Slave_SQL_Running], ['No', 'No']);
    assert.equal((await R3.query<Row[]>('SHOW ALL SLAVES STATUS')).length, 1, 'no secondary channel yet');
    await handle.executeUpdate(approveUpdate, {
      args: [{ step: 'change-master', approver: 'ana', reason: 'INC-7' }],
    });
    const r = (await handle.result()) as NdbFailoverResult;

    assert.deepEqual([r.primaryAfter?.ioRunning, r.primaryAfter?.sqlRunning], ['No', 'No']);
    const stop = r.steps.find((s) => s.name === 'stop-primary-channel')!;
    assert.equal(stop.approval?.approver, 'ana');
    assert.match(
      stop.evidence.join('\n'),
      /stopped on root@.*: channel 'primary': Slave_IO_Running=No, Slave_SQL_Running=No/,
    );
    assert.equal(r.latestEpoch, ndb.epochs.at(-1)!.epoch.toString());
    // next_position of the latest epoch: where its transaction ends in M''s binlog.
    assert.deepEqual(
      { file: r.start?.file, position: r.start?.position },
      await transactionEnd(M2, ndb.epochs.at(-1)!.gtid),
    );
    // New epochs on M now reach R3 through M' and the secondary channel only.
    await writeEpochs(1, 3, true);
    await caughtUp(M2, '', M);
    for (const r of [R1, R2, R3]) {
      await caughtUp(r, 'secondary', M2);
      assert.deepEqual(await shop(r), await shop(M));
      assert.equal(await maxEpoch(r), ndb.epochs.at(-1)!.epoch.toString());
    }
    assert.equal((await slaveStatus(R3, 'primary')).Exec_Master_Log_Pos, primary.Exec_Master_Log_Pos);
    await recordHistory(workflowId, 'ndb-channel-failover');
  });
});
