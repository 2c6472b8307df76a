// The replay benchmark's parts: a workload recorded on a real source (a base backup, then binlogs
// archived by the project's archiver), a fresh restore of that backup for every method, and the
// methods themselves — an operator's plain `mariadb-binlog | mariadb`, and the project's pipe and
// applier replays called as the activity would call them.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { archiveReader } from '../../activities/archive/archive-read';
import { refreshIndex } from '../../activities/archive/archive-index';
import { inspectBackup, type BackupInfo } from '../../activities/mysql/backup';
import {
  startTemporaryServer,
  stopTemporaryServer,
  type TemporaryServerSpec,
} from '../../activities/mysql/mysqld';
import { replayBinlogs } from '../../activities/replay/replay';
import { planReplay, type ReplayPlan } from '../../activities/replay/replay-plan';
import type { BinlogArchive } from '../../activities/archive/archive';
import type { SqlPools } from '../../activities/mysql/sql';
import { fingerprintTables } from '../../activities/mysql/verify';
import { parseMariadbGtid } from '../../workflows/gtid';
import type { Endpoint, ReplayStrategy } from '../../workflows/schemas';
import { startSource, takeBackup, gtidPos } from './scenario';

export interface Workload {
  name: 'bulk' | 'small';
  rowChanges: number;
  transactions: number;
  backup: BackupInfo;
  archive: BinlogArchive;
  plan: ReplayPlan;
  base: string;
}

/**
 * bulk: 350 transactions of 1,000 inserted rows (350,000 row changes);
 * small: 50,000 one-row transactions. Each on its own source, after its own base backup.
 */
export async function recordWorkload(name: Workload['name'], base: string): Promise<Workload> {
  const source = await startSource(join(base, 'src'));
  const s = source.server;
  await s.query(`CREATE DATABASE bench;
    CREATE TABLE bench.t (id BIGINT PRIMARY KEY, grp INT NOT NULL, payload VARCHAR(64) NOT NULL, KEY (grp)) ENGINE=InnoDB;`);
  const backupDir = join(base, 'backup');
  await takeBackup(s, backupDir);
  const [transactions, rowChanges] = name === 'bulk' ? [350, 350_000] : [50_000, 50_000];
  await s.query(
    name === 'bulk'
      ? `CREATE PROCEDURE bench.w() BEGIN DECLARE k INT DEFAULT 0;
           WHILE k < ${transactions} DO
             INSERT INTO bench.t SELECT k * 1000 + seq, k, CONCAT('row-', k, '-', seq) FROM seq_0_to_999;
             SET k = k + 1;
           END WHILE; END`
      : `CREATE PROCEDURE bench.w() BEGIN DECLARE k INT DEFAULT 0;
           WHILE k < ${transactions} DO
             INSERT INTO bench.t VALUES (k, k MOD 100, CONCAT('row-', k));
             SET k = k + 1;
           END WHILE; END`,
  );
  await s.query('CALL bench.w()');
  const last = await gtidPos(s);
  await source.archiver.waitCaughtUp();
  await source.archiver.stop();
  // A periodic sync may still be finishing (both write the index's temporary file): retry once.
  await source.archiver.sync().catch(async () => {
    await new Promise((r) => setTimeout(r, 500));
    await source.archiver.sync();
  });
  await source.sql.closeAll();
  await s.stop();

  const backup = await inspectBackup(backupDir, 'mariadb');
  const stagingDir = join(base, 'staging');
  const index = await refreshIndex(source.archive, stagingDir);
  const plan = await planReplay({
    index,
    backup: { file: backup.file, position: backup.position, gtid: backup.gtid },
    target: { type: 'gtid', gtid: last, exclusive: false },
    allowGaps: false,
    nowSeconds: Date.now() / 1000,
    read: archiveReader(source.archive, stagingDir),
  });
  // The procedure's own CREATE is one more transaction in the window.
  const planned = Number(parseMariadbGtid(last).seq - parseMariadbGtid(backup.gtid).seq);
  return {
    name,
    rowChanges,
    transactions: planned,
    backup,
    archive: source.archive,
    plan,
    base,
  };
}

export type Method =
  { name: string; kind: 'by-hand' } | { name: string; kind: ReplayStrategy; threads: number };

export const METHODS: Method[] = [
  { name: 'by hand: mariadb-binlog | mariadb', kind: 'by-hand' },
  { name: 'project pipe', kind: 'pipe', threads: 1 },
  { name: 'applier, 1 thread', kind: 'applier', threads: 1 },
  { name: 'applier, 4 threads', kind: 'applier', threads: 4 },
];

export interface Measurement {
  wallMs: number;
  checksum: string;
  stateAfter: string;
}

/** An operator's plain pipe: two processes joined by a kernel pipe, nothing in between. */
function byHand(w: Workload, files: string[], socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const producer = spawn(
      'mariadb-binlog',
      ['--no-defaults', `--start-position=${w.backup.gtid}`, `--stop-position=${w.plan.stopGtid}`, ...files],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const consumer = spawn(
      'mariadb',
      ['--no-defaults', `--socket=${socket}`, '--user=root', '--binary-mode'],
      {
        stdio: [producer.stdout, 'ignore', 'inherit'],
      },
    );
    let exits = 0;
    const done = (who: string) => (code: number | null) => {
      if (code !== 0) reject(new Error(`${who} exited with ${code}`));
      else if (++exits === 2) resolve();
    };
    producer.on('exit', done('mariadb-binlog'));
    consumer.on('exit', done('mariadb'));
  });
}

async function checksumOf(sql: SqlPools, e: Endpoint): Promise<string> {
  const tables = await fingerprintTables(sql, e, ['bench']);
  return createHash('sha256').update(JSON.stringify(tables)).digest('hex').slice(0, 10);
}

/** Restores the prepared backup afresh, starts the temporary server, replays with `m`, fingerprints. */
export async function measure(sql: SqlPools, w: Workload, m: Method, run: number): Promise<Measurement> {
  const dir = join(w.base, `restore-${run}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const datadir = join(dir, 'data');
  await cp(join(w.base, 'backup'), datadir, { recursive: true });
  const spec: TemporaryServerSpec = {
    recoveryId: `bench-${w.name}-${run}-${Date.now()}`,
    datadir,
    binlogBasename: 'mysql-bin',
    serverId: 1,
    dialect: 'mariadb',
    user: 'root',
  };
  const { endpoint } = await startTemporaryServer(sql, { ...spec, backupGtid: w.backup.gtid });
  try {
    const files = w.plan.files.map((f) => join(w.archive.location, f));
    const t0 = performance.now();
    if (m.kind === 'by-hand') await byHand(w, files, endpoint.socket!);
    else
      await replayBinlogs(sql, w.archive, {
        recoveryId: spec.recoveryId,
        dialect: 'mariadb',
        endpoint,
        plan: w.plan,
        backupPosition: { file: w.backup.file, position: w.backup.position },
        force: false,
        stagingDir: join(dir, 'staging'),
        server: { ...spec, backupGtid: w.backup.gtid },
        replay: { strategy: m.kind, parallelThreads: m.threads },
      });
    const wallMs = performance.now() - t0;
    const [row] = await sql.query(endpoint, 'SELECT @@gtid_binlog_pos AS g');
    return { wallMs, checksum: await checksumOf(sql, endpoint), stateAfter: String(row?.g ?? '') };
  } finally {
    await stopTemporaryServer(sql, spec);
    await rm(dir, { recursive: true, force: true });
  }
}
