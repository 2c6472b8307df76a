// The NDB tools' contracts the PITR runbook relies on (issue 19), checked on the stand-ins that follow
// the real tools (test/fixtures/bin: ndb_mgm, ndbd/ndbmtd, ndb_restore) over a real MariaDB SQL node,
// with the runbook's own activities: a node id in use cannot be allocated (so the data nodes are stopped
// first, idempotently, in every clearing round); STATUS strings read as what they say ("not started" is
// not started); the restore epoch is read back, (StopGCP << 32) | 0xffffffff, and the backup holds that
// whole GCI; only the server_id 0 row of ndb_apply_status exists after a restore; every data node's part
// of a backup must be where ndb_restore reads it. Each refusal leaves the cluster and the data as they were.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { TableFingerprint } from '../../workflows/schemas';
import { SqlPools } from '../../activities/mysql/sql';
import { fingerprintTables } from '../../activities/mysql/verify';
import { locateNdbBackup, type NdbBackup } from '../../activities/ndb/ndb-backup';
import { backupBinlogIndex } from '../../activities/ndb/ndb-binlog-index';
import { initialRestartDataNode, stopDataNodes } from '../../activities/ndb/ndb-clear';
import { dataNodeStates } from '../../activities/ndb/ndb-mgm-status';
import { resolveFailurePoint, type NdbStopPoint } from '../../activities/ndb/ndb-replay-bounds';
import { restoreNdbBackup } from '../../activities/ndb/ndb-restore';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { type MariadbServer } from '../../scripts/lib/mariadb-server';
import type { EpochRecord, NdbSource } from '../../scripts/lib/worlds/ndb-model';
import { startNdbPitrWorld, writeShopEpochs } from '../../scripts/lib/worlds/ndb-pitr';
import { useStandIns } from '../support/percona-scenario';

useStandIns();
const sql = new SqlPools();
let base: string;
let server: MariadbServer;
let ndb: NdbSource;
let stateFile: string;
let archiveDir: string;
/** The last epoch the first backup holds (the end of its StopGCP's GCI), and the data then. */
let lastInBackup1: EpochRecord;
/** The data when the parallel (PART) backup 3 was taken. */
let atBackup3: Record<string, TableFingerprint>;
let stopLate: NdbStopPoint;

const sqlNode = () => ({ socket: server.socket, user: 'root' });
const shop = () => fingerprintTables(sql, sqlNode(), ['shop']);
const readState = async () => JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, unknown>;
const editState = async (edit: (st: Record<string, unknown>) => void) => {
  const st = await readState();
  edit(st);
  await writeFile(stateFile, JSON.stringify(st));
};
const cluster = () => ({
  name: 'ndb1',
  connectstring: 'mgm1:1186',
  dataNodes: [
    { id: 2, binary: 'ndbd' as const, dataDir: join(base, 'ndb-data', '2') },
    { id: 3, binary: 'ndbmtd' as const, dataDir: join(base, 'ndb-data', '3') },
  ],
  sqlNode: sqlNode(),
});
const states = async () => (await dataNodeStates(cluster(), [2, 3])).map((s) => s.state);
const mgm = (command: string) => execa('ndb_mgm', ['--execute', command], { reject: false });

const writeEpochs = (count: number, seed: number) => writeShopEpochs(ndb, count, seed);

before(async () => {
  ({ base, server, ndb, stateFile } = await startNdbPitrWorld(
    await mkdtemp(join(tmpdir(), 'ndb-contracts-')),
  ));
  await writeEpochs(7, 1); // the last GCI holds one epoch: 7 = 3 + 3 + 1
  lastInBackup1 = ndb.epochs.at(-1)!;
  await mgm('START BACKUP WAIT COMPLETED'); // backup 1
  ndb.nextGci();
  await writeEpochs(6, 2);
  // Backup 2: node 3 keeps its part on its own host (an unshared BackupDataDir).
  await editState((st) => {
    st.dataNodes = [{ id: 2 }, { id: 3, backupDataDir: join(base, 'host-of-node-3') }];
  });
  await mgm('START BACKUP WAIT COMPLETED');
  // Backup 3: shared again, taken in parallel by two LDMs per node (PART-k-OF-2 subdirectories).
  await editState((st) => {
    st.dataNodes = [{ id: 2 }, { id: 3 }];
    st.backupParts = 2;
  });
  ndb.nextGci();
  await writeEpochs(5, 3);
  atBackup3 = await shop();
  await mgm('START BACKUP WAIT COMPLETED');
  ndb.nextGci();
  await writeEpochs(4, 4);
  archiveDir = join(base, 'archive');
  await backupBinlogIndex(sql, {
    recoveryId: 'contracts',
    sqlNode: sqlNode(),
    archiveDir,
    dialect: 'mariadb',
  });
  stopLate = (
    await resolveFailurePoint(sql, {
      sqlNode: sqlNode(),
      archiveDir,
      failurePoint: { type: 'epoch', epoch: ndb.epochs.at(-1)!.epoch.toString() },
    })
  ).stop;
});

after(async () => {
  await sql.closeAll();
  await server?.stop().catch(() => {});
  if (base) await removeTestDir(base);
});

const locate = (stop: NdbStopPoint, wantedId?: number) =>
  locateNdbBackup(sql, {
    cluster: cluster(),
    backupDataDir: join(base, 'ndb-backup'),
    stop,
    archiveDir,
    ...(wantedId !== undefined ? { wantedId } : {}),
  });

describe('NDB tool contracts (stand-ins following the real tools)', () => {
  test('ndbd refuses a node id still in use ("Failed to allocate nodeid", exit 1), and nothing changes', async () => {
    const [st, data] = [await readState(), await shop()];
    const r = await execa('ndbd', ['--initial', '--ndb-nodeid=2', '--ndb-connectstring=mgm1:1186'], {
      reject: false,
    });
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /Failed to allocate nodeid, error: 'Id 2 already allocated by another node\.'/);
    assert.deepEqual(await readState(), st, 'the cluster state is unchanged');
    assert.deepEqual(await shop(), data, 'the NDB data is unchanged');
  });

  test('STATUS prints what the real ndb_mgm prints, and "not started" is read as not started', async () => {
    assert.deepEqual(await states(), ['started', 'started']);
    assert.match((await mgm('2 STATUS')).stdout, /^Node 2: started \(mysql-8\.0\.40 ndb-8\.0\.40\)$/m);
    assert.match((await mgm('2 STOP')).stdout, /^Node 2 has shutdown\.$/m);
    assert.match((await mgm('2 STATUS')).stdout, /^Node 2: not connected$/m);
    assert.deepEqual(await states(), ['no contact', 'started']);
    const last = await mgm('3 STOP');
    assert.equal(last.exitCode, 1, 'the last running node is not stopped alone');
    assert.match(last.stdout, /Node shutdown would cause system crash/);
    await execa('ndbd', ['--nostart', '--ndb-nodeid=2']);
    assert.match((await mgm('2 STATUS')).stdout, /^Node 2: not started \(mysql-8\.0\.40 ndb-8\.0\.40\)$/m);
    assert.deepEqual(await states(), ['not started', 'started']);
    assert.match((await mgm('2 START')).stdout, /Database node 2 is being started\./);
    assert.deepEqual(await states(), ['started', 'started']);
  });

  test("a failure point inside the backup's last GCI is refused: the backup holds that whole GCI", async () => {
    const stop = (
      await resolveFailurePoint(sql, {
        sqlNode: sqlNode(),
        archiveDir,
        failurePoint: { type: 'epoch', epoch: lastInBackup1.epoch.toString() },
      })
    ).stop;
    await assert.rejects(locate(stop, 1), /backup 1 is not a usable backup before the failure point/);
    const printed = await execa('ndb_restore', [
      '-n',
      '2',
      '-b',
      '1',
      `--backup-path=${join(base, 'ndb-backup', 'BACKUP', 'BACKUP-1')}`,
      '--print-meta',
    ]);
    assert.match(printed.stdout, new RegExp(`^Stop GCP of Backup: ${lastInBackup1.gci}$`, 'm'));
  });

  test("a backup with a data node's part on that node's own host is refused, naming the missing files; nothing changes", async () => {
    const [st, data] = [await readState(), await shop()];
    await assert.rejects(locate(stopLate, 2), (err: Error) => {
      assert.match(err.message, /backup 2 is incomplete in \S+BACKUP-2, where ndb_restore reads it/);
      assert.match(
        err.message,
        /missing BACKUP-2\.3\.ctl, BACKUP-2\.3\.log, BACKUP-2-0\.3\.Data \(data node\(s\) 3\)/,
      );
      assert.match(err.message, /storage shared by the data nodes and the management host/);
      return true;
    });
    assert.deepEqual(await readState(), st, 'the cluster state is unchanged');
    assert.deepEqual(await shop(), data, 'the NDB data is unchanged');
    const chosen = await locate(stopLate);
    assert.equal(
      chosen.backup.id,
      3,
      'the parallel backup (PART subdirectories, every part there) is usable',
    );
  });

  test('clearing: every data node stopped, then started with --initial; a retry and a second round work', async () => {
    const wipes = () => readState().then((st) => Number(st.wipes ?? 0));
    const w0 = await wipes();
    const req = { recoveryId: 'contracts-clear', cluster: cluster() };
    const startAll = (round?: number) =>
      Promise.all(
        cluster().dataNodes.map((node) =>
          initialRestartDataNode({ ...req, node, ...(round ? { round } : {}) }),
        ),
      );
    // Without the stop, the runbook refuses to start a running node (its id is in use), and changes nothing.
    const st = await readState();
    await assert.rejects(
      initialRestartDataNode({ ...req, node: cluster().dataNodes[0]!, round: 9 }),
      /data node 2 is not stopped \(Node 2: started .*\) although the data nodes were stopped/,
    );
    assert.deepEqual(await readState(), st);
    const stopped = await stopDataNodes(sql, req);
    assert.match(stopped.evidence!.join(), /ndb_mgm ALL STOP: data node\(s\) 2, 3 stopped/);
    assert.deepEqual(await states(), ['no contact', 'no contact']);
    assert.equal((await stopDataNodes(sql, req)).skipped, true, 'a retried stop is skipped');
    await startAll();
    assert.deepEqual(await states(), ['started', 'started']);
    assert.equal(await wipes(), w0 + 1, 'an initial system restart: the NDB data is gone');
    assert.ok(
      (await startAll()).every((o) => o.skipped),
      'a retried initial restart is skipped',
    );
    // Round 2 (after an interrupted ndb_restore): the nodes run again; they are stopped and cleared again.
    const again = await stopDataNodes(sql, { ...req, round: 2 });
    assert.match(again.evidence!.join(), /stopped \(round 2\)/);
    await startAll(2);
    assert.deepEqual(await states(), ['started', 'started']);
    assert.equal(await wipes(), w0 + 2);
  });

  test('ndb_restore: the epoch read back is (StopGCP << 32) | 0xffffffff, and only the server_id 0 row exists', async () => {
    const { backup } = await locate(stopLate);
    const r = await restoreNdbBackup(sql, {
      recoveryId: 'contracts-restore',
      cluster: cluster(),
      backup: backup as NdbBackup,
      failureEpoch: stopLate.lastEpoch,
    });
    const want = ((BigInt(backup.stopGcp) << 32n) | 0xffffffffn).toString();
    assert.equal(r.restoreEpoch, want);
    assert.equal(backup.restoreEpoch, want, 'the plan expected what ndb_restore wrote');
    const rows = await sql.query(sqlNode(), 'SELECT server_id, epoch FROM mysql.ndb_apply_status');
    assert.deepEqual(
      rows.map((x) => [Number(x.server_id), String(x.epoch)]),
      [[0, want]],
      "the backup's own ndb_apply_status rows are not restored",
    );
    assert.deepEqual(await shop(), atBackup3, 'every PART of every node restored: the data of backup 3');
  });
});
