// ndbPointInTimeRecovery on a real MariaDB "SQL node" that keeps NDB's bookkeeping (see
// scripts/lib/worlds/ndb-model.ts); the NDB programs (ndb_mgm, ndbd/ndbmtd, ndb_restore) are stand-ins
// in test/fixtures/bin that back up and restore that server's data for real.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { execa } from 'execa';
import type { NdbPitrResult } from '../../workflows/ndb-point-in-time-recovery';
import { formatEpoch } from '../../workflows/epoch';
import type { TableFingerprint } from '../../workflows/schemas';
import { SqlPools } from '../../activities/mysql/sql';
import { fingerprintTables } from '../../activities/mysql/verify';
import { type MariadbServer } from '../../scripts/lib/mariadb-server';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { secondBoundary } from '../../scripts/lib/scenario';
import { saveHistory } from '../../scripts/lib/history';
import type { NdbSource } from '../../scripts/lib/worlds/ndb-model';
import { startNdbPitrWorld, writeShopEpochs } from '../../scripts/lib/worlds/ndb-pitr';
import { useStandIns } from '../support/percona-scenario';
import { historiesDir } from '../support/histories';
import {
  startWorker,
  temporalAddress,
  testClient,
  uniqueQueue,
  type RunningWorker,
} from '../support/temporal';
import { runWorkflow, runWorkflowExpectingFailure } from '../support/workflows';

useStandIns();
const TYPE = 'ndbPointInTimeRecovery';
let base: string;
let server: MariadbServer;
let ndb: NdbSource;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
const sql = new SqlPools();
let stateFile: string;
let truth: Record<string, TableFingerprint>;
let truthEpoch: string;
let beforeAccident: string;
let firstDump: string;

const writeEpochs = (count: number, seed: number) => writeShopEpochs(ndb, count, seed);

function input(extra: Record<string, unknown>) {
  return {
    cluster: {
      name: 'ndb1',
      connectstring: 'mgm1:1186',
      dataNodes: [
        { id: 2, binary: 'ndbd', dataDir: join(base, 'ndb-data', '2') },
        { id: 3, binary: 'ndbmtd', dataDir: join(base, 'ndb-data', '3') },
      ],
      sqlNode: { socket: server.socket, user: 'root' },
    },
    backup: { dataDir: join(base, 'ndb-backup') },
    archiveDir: join(base, 'archive'),
    dialect: 'mariadb', // MariaDB stands in for the MySQL SQL node
    verify: { schemas: ['shop'] },
    heartbeatTimeout: '10s',
    ...extra,
  };
}

const shop = () => fingerprintTables(sql, { socket: server.socket, user: 'root' }, ['shop']);
const standInState = async () =>
  JSON.parse(await readFile(stateFile, 'utf8')) as {
    wipes?: number;
    nextBackupId: number;
    running?: number[];
  };

before(async () => {
  ({ base, server, ndb, stateFile } = await startNdbPitrWorld(await mkdtemp(join(tmpdir(), 'ndb-pitr-'))));

  await writeEpochs(12, 1);
  // The nightly backup (taken by the operator's schedule, before the accident).
  await execa('ndb_mgm', ['--execute', 'START BACKUP WAIT COMPLETED']);
  ndb.nextGci();
  await writeEpochs(10, 2);
  await server.query('FLUSH BINARY LOGS');
  await writeEpochs(10, 3);
  truth = await shop();
  truthEpoch = ndb.epochs.at(-1)!.epoch.toString();
  beforeAccident = await secondBoundary(); // binlog time has whole seconds
  await ndb.epoch('DELETE FROM shop.orders WHERE MOD(id, 2) = 0'); // the accident
  await writeEpochs(4, 4);

  worker = await startWorker(uniqueQueue('ndb-pitr'));
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  await worker?.stop();
  await closeClient?.();
  await sql.closeAll();
  await server?.stop().catch(() => {});
  if (base) await removeTestDir(base);
});

describe('ndbPointInTimeRecovery', () => {
  test('to an epoch (gci/micro): takes a backup, picks the last one before the failure, and restores the data as of that epoch', async () => {
    const id = `ndb-epoch-${Date.now()}`;
    const r = await runWorkflow<NdbPitrResult>(
      client,
      TYPE,
      worker.taskQueue,
      { ...input({ failurePoint: { type: 'epoch', epoch: formatEpoch(truthEpoch) } }), recoveryId: id },
      id,
    );
    assert.deepEqual(r.tables, truth);
    assert.deepEqual(await shop(), truth, 'the live SQL node holds the data of the failure point');
    assert.equal(r.backup.id, 1, 'backup 2, taken after the accident, is not used');
    assert.equal(r.latestEpoch, truthEpoch);
    assert.equal((await standInState()).wipes, 1, 'the data nodes were cleared once');
    const evidence = (step: string) => r.steps.find((s) => s.name === step)?.evidence.join('\n') ?? '';
    assert.match(evidence('stop-data-nodes'), /ndb_mgm ALL STOP: data node\(s\) 2, 3 stopped/);
    assert.match(evidence('restore-backup'), /server_id 0 at epoch \d+ \(\d+\/4294967295\), read back/);
    assert.deepEqual(
      r.steps.map((s) => s.status),
      Array(13).fill('done'),
    );
    firstDump = join(base, 'archive', `ndb_binlog_index.${id}.sql`);
    if (process.env.RECORD_HISTORIES === '1')
      await saveHistory(temporalAddress(), id, join(historiesDir, 'ndb-point-in-time-recovery.json'));
  });

  test('to a time, with a named backup and an existing ndb_binlog_index dump: the same data', async () => {
    const r = await runWorkflow<NdbPitrResult>(
      client,
      TYPE,
      worker.taskQueue,
      input({
        failurePoint: { type: 'time', time: beforeAccident },
        backup: { dataDir: join(base, 'ndb-backup'), id: 1 },
        indexDump: firstDump,
      }),
    );
    assert.deepEqual(r.tables, truth);
    assert.equal(r.latestEpoch, truthEpoch);
    assert.equal(r.steps.find((s) => s.name === 'backup-cluster')?.status, 'skipped-by-checkpoint');
  });

  test('with requireApproval, the run waits before stopping the data nodes; not approved, nothing is stopped or cleared', async () => {
    const [before, data] = [await standInState(), await shop()];
    const f = await runWorkflowExpectingFailure(client, TYPE, worker.taskQueue, {
      ...input({
        failurePoint: { type: 'epoch', epoch: truthEpoch },
        backup: { dataDir: join(base, 'ndb-backup'), id: 1 },
        indexDump: firstDump,
      }),
      requireApproval: true,
      approvalTimeout: '2s',
    });
    assert.equal(f.type, 'ApprovalTimeout');
    assert.match(f.message, /stop-data-nodes: not approved within 2s/);
    const after = await standInState();
    assert.deepEqual(
      [after.running, after.wipes],
      [before.running, before.wipes],
      'no data node stopped or cleared',
    );
    assert.deepEqual(await shop(), data);
  });
});
