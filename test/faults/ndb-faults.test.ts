// Fault injection for ndbPointInTimeRecovery (`npm run test:faults`): the production worker is
// SIGKILLed at every step boundary, in the middle of ndb_restore (with part of a node's rows restored)
// and in the middle of the binlog replay; the SQL node's mysqld is killed mid-replay (and comes back,
// as under mysqld_safe); the replay's SQL connection is cut; the Temporal server itself (persistent
// SQLite) is restarted mid-run. Each run must finish with the data of the failure point, exactly one
// completed base restore (counted in the ndb_restore stand-in's own log), no duplicate-key error, and
// the fault visible in its history. Prints the fault table. The SQL node is the live one: the runs
// restore it one after the other, each from the same nightly backup to the same failure point.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { RunbookProgress } from '../../workflows/kit';
import type { NdbPitrResult } from '../../workflows/ndb-point-in-time-recovery';
import { NDB_PITR } from '../../workflows/runbooks';
import type { TableFingerprint } from '../../workflows/schemas';
import { SqlPools } from '../../activities/mysql/sql';
import { fingerprintTables } from '../../activities/mysql/verify';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { type MariadbServer } from '../../scripts/lib/mariadb-server';
import {
  FaultTemporal,
  failureMessages,
  killWorker,
  printFaultTable,
  runWithFault,
  WorkerSupply,
  type FaultRow,
  type Inject,
} from '../support/faults';
import type { NdbSource } from '../../scripts/lib/worlds/ndb-model';
import { startNdbPitrWorld, writeShopEpochs } from '../../scripts/lib/worlds/ndb-pitr';
import { useStandIns } from '../support/percona-scenario';

useStandIns();
const rows: FaultRow[] = [];
const sql = new SqlPools();
let base: string;
let server: MariadbServer;
let ndb: NdbSource;
let temporal: FaultTemporal;
let workers: WorkerSupply;
let stateFile: string;
let truth: Record<string, TableFingerprint>;
let truthEpoch: string;
/** ndb_apply_status's epoch for the source (server_id 1) in the nightly backup: where the replay starts. */
let backupEpoch: bigint;
let n = 0;

/** Epochs to replay after the backup: enough for the replay to last a few seconds, to be hit mid-way. */
const EPOCHS_AFTER_BACKUP = 6000;
/** The stand-in's pause between the tables of a node's data (only where ndb_restore is killed mid-way). */
const RESTORE_PAUSE_MS = 1500;

const sqlNode = () => ({ socket: server.socket, user: 'root' });
const standInLog = () => readFile(`${stateFile}.log`, 'utf8').catch(() => '');

async function setRestorePause(ms: number): Promise<void> {
  const st = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, unknown>;
  await writeFile(stateFile, JSON.stringify({ ...st, restorePauseMs: ms }));
}

const writeEpochs = (count: number, seed: number) => writeShopEpochs(ndb, count, seed);

before(async () => {
  ({ base, server, ndb, stateFile } = await startNdbPitrWorld(await mkdtemp(join(tmpdir(), 'ndb-faults-'))));

  await writeEpochs(30, 1);
  await execa('ndb_mgm', ['--execute', 'START BACKUP WAIT COMPLETED']); // the nightly backup
  backupEpoch = ndb.epochs.at(-1)!.epoch;
  ndb.nextGci();
  await writeEpochs(EPOCHS_AFTER_BACKUP / 2, 2);
  await server.query('FLUSH BINARY LOGS');
  await writeEpochs(EPOCHS_AFTER_BACKUP / 2, 3);
  truth = await fingerprintTables(sql, sqlNode(), ['shop']);
  truthEpoch = ndb.epochs.at(-1)!.epoch.toString();
  await ndb.epoch('DELETE FROM shop.orders WHERE MOD(id, 2) = 0'); // the accident
  await writeEpochs(5, 4);

  temporal = await FaultTemporal.start(base);
  workers = new WorkerSupply({ PATH: process.env.PATH!, NDB_STANDIN_STATE: stateFile });
});

after(async () => {
  printFaultTable(rows);
  await workers?.close();
  await sql.closeAll();
  await temporal?.stop();
  await server?.stop().catch(() => {});
  if (base) await removeTestDir(base);
});

/** Runs one recovery to the failure point, injects the fault, and checks and records the outcome. */
async function survive(
  fault: string,
  step: string,
  when: (p: RunbookProgress, logFrom: number) => Promise<boolean>,
  inject: Inject,
): Promise<FaultRow & { restoreEvidence: string }> {
  n++;
  const recoveryId = `ndb-fault-${n}-${Date.now()}`;
  const logFrom = (await standInLog()).length;
  const {
    result: r,
    events,
    faultInHistory,
  } = await runWithFault<NdbPitrResult>({
    client: temporal.client,
    workflowType: 'ndbPointInTimeRecovery',
    workflowId: recoveryId,
    taskQueue: `ndb-faults-${n}`,
    nextTaskQueue: `ndb-faults-${n + 1}`,
    args: [
      {
        recoveryId,
        cluster: {
          name: 'ndb1',
          connectstring: 'mgm1:1186',
          dataNodes: [
            { id: 2, binary: 'ndbd', dataDir: join(base, 'ndb-data', '2') },
            { id: 3, binary: 'ndbmtd', dataDir: join(base, 'ndb-data', '3') },
          ],
          sqlNode: sqlNode(),
        },
        backup: { dataDir: join(base, 'ndb-backup') },
        archiveDir: join(base, 'archive'),
        dialect: 'mariadb', // MariaDB stands in for the MySQL SQL node
        failurePoint: { type: 'epoch', epoch: truthEpoch },
        verify: { schemas: ['shop'] },
        heartbeatTimeout: '3s',
      },
    ],
    workers,
    fault,
    step,
    when: (p) => when(p, logFrom),
    inject,
  });
  const log = (await standInLog()).slice(logFrom);
  const duplicates = failureMessages(events).filter((m) => /Duplicate entry|\b1062\b/.test(m));
  assert.deepEqual(duplicates, [], 'no duplicate-key error in the history');
  assert.equal(r.backup.id, 1, 'the nightly backup, the last before the failure point, is restored');
  assert.equal(r.latestEpoch, truthEpoch);
  return {
    fault,
    step,
    outcome: 'completed',
    restores: log.match(/ndb_restore: backup \d+ restored, epoch/g)?.length ?? 0,
    checksumOk: JSON.stringify(r.tables) === JSON.stringify(truth),
    faultInHistory,
    restoreEvidence: r.steps.find((x) => x.name === 'restore-backup')?.evidence.join('\n') ?? '',
  };
}

/** The replay is under way: the source's epoch in ndb_apply_status is past the backup, short of the target. */
async function replaying(p: RunbookProgress): Promise<boolean> {
  if (p.currentStep !== 'replay-binlogs') return false;
  const [row] = await sql
    .query(sqlNode(), 'SELECT epoch FROM mysql.ndb_apply_status WHERE server_id = 1')
    .catch(() => [undefined]);
  return (
    !!row && BigInt(row.epoch as string) > backupEpoch && BigInt(row.epoch as string) < BigInt(truthEpoch)
  );
}

function assertSurvived(row: FaultRow, inHistory = /./): void {
  rows.push(row);
  assert.equal(row.checksumOk, true, 'checksums equal the ground truth');
  assert.equal(row.restores, 1, 'exactly one completed base restore');
  assert.notEqual(row.faultInHistory, 'none', 'the fault shows in the history');
  assert.match(row.faultInHistory, inHistory);
}

for (const s of NDB_PITR.steps) {
  test(`worker SIGKILLed as ${s.name} starts`, async () => {
    const row = await survive(
      'worker SIGKILL at step start',
      s.name,
      // Started, as seen by the poll: a short step may already be done when it is first seen, and
      // then the kill lands just after it — still at this step's boundary, never missed.
      async (p) => p.steps.find((x) => x.name === s.name)?.status !== 'pending',
      killWorker,
    );
    assertSurvived(row);
  });
}

test('worker SIGKILLed in the middle of ndb_restore (part of a node restored): cleared again, restored once', async () => {
  await setRestorePause(RESTORE_PAUSE_MS);
  try {
    const row = await survive(
      'worker SIGKILL mid-ndb_restore',
      'restore-backup',
      // The first data node's first table is in, the second not yet (the stand-in pauses between them).
      async (_p, logFrom) => /node 2: table 1\/\d+ restored/.test((await standInLog()).slice(logFrom)),
      killWorker,
    );
    assertSurvived(row, /retry/);
    assert.match(row.restoreEvidence, /interrupted in round 1/, 'the partial restore was seen');
    assert.match(row.restoreEvidence, /round 2/, 'and the data nodes were cleared again');
  } finally {
    await setRestorePause(0);
  }
});

test('worker SIGKILLed in the middle of the replay', async () => {
  assertSurvived(
    await survive('worker SIGKILL mid-replay', 'replay-binlogs', replaying, killWorker),
    /retry/,
  );
});

test("the SQL node's mysqld SIGKILLed mid-replay (and started again, as by mysqld_safe)", async () => {
  const row = await survive('SQL node mysqld SIGKILL mid-replay', 'replay-binlogs', replaying, async () => {
    await server.kill();
    await server.start();
    return { respawn: false };
  });
  assertSurvived(row, /retry/);
});

test("the replay's SQL connection cut mid-replay", async () => {
  const row = await survive('SQL connection KILLed mid-replay', 'replay-binlogs', replaying, async () => {
    const sessions = await sql.query(
      sqlNode(),
      "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND command <> 'Daemon' AND user = 'root'",
    );
    for (const s of sessions) await sql.query(sqlNode(), `KILL ${Number(s.id)}`).catch(() => {});
    return { respawn: false };
  });
  assertSurvived(row, /retry/);
});

test('the Temporal server down mid-replay for longer than the heartbeat timeout, then restarted (persistent database)', async () => {
  const row = await survive('Temporal 5 s outage mid-replay', 'replay-binlogs', replaying, async () => {
    // Longer than the 3 s heartbeat timeout: the server may give the replay up as timed out while its
    // worker still applies; the retry must not apply alongside it (one replay at a time).
    await temporal.restart(5000);
    return { respawn: false };
  });
  row.faultInHistory = row.faultInHistory === 'none' ? 'server restart (no event)' : row.faultInHistory;
  assertSurvived(row);
});
