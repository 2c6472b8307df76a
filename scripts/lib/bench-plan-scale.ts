// Planning at scale: an archive of 100,000 binlog files (real binlog files on disk and the real index
// file, see synthetic-archive.ts) planned by the code the locate-binlogs step runs — index read, plan,
// GTID-chain gap check, and the read and verification of every byte of the window — for time and GTID
// targets in the middle and near the end with the backup 10 files earlier, a window of 20,000 files
// (verification throughput), and a missing file among the 100,000 refused.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchiveIndex, ArchivedFile } from '../../activities/archive/archive';
import { FsArchive } from '../../activities/archive/archive-fs';
import { S3Archive } from '../../activities/archive/archive-s3';
import type { BinlogArchive } from '../../activities/archive/archive';
import { archiveReader } from '../../activities/archive/archive-read';
import { planPerconaRecovery } from '../../activities/percona/percona';
import { planReplay, type BackupCoordinates } from '../../activities/replay/replay-plan';
import { SqlPools } from '../../activities/mysql/sql';
import { PerconaPitrInput, type RecoveryTarget } from '../../workflows/schemas';
import { startSeaweedS3 } from '../../test/support/seaweedfs';
import {
  TX_PER_FILE,
  syntheticBinlog,
  syntheticEndPos,
  syntheticEntry,
  syntheticGtid,
  syntheticName,
  syntheticTime,
} from './synthetic-archive';
import { ms, printTable } from './text-table';

const COUNT = 100_000;
const MIDDLE = 50_000;
const NEAR_END = 99_990;
const MISSING = 77_777;

/** Writes the archive's files and its index; returns the index. */
async function writeArchive(archive: FsArchive, dir: string): Promise<ArchiveIndex> {
  await mkdir(dir, { recursive: true });
  const files: ArchivedFile[] = [];
  let writes: Promise<void>[] = [];
  for (let n = 1; n <= COUNT; n++) {
    const bytes = syntheticBinlog(n, COUNT);
    files.push(syntheticEntry(n, COUNT, bytes));
    writes.push(writeFile(join(dir, syntheticName(n)), bytes));
    if (writes.length === 64) {
      await Promise.all(writes);
      writes = [];
    }
  }
  await Promise.all(writes);
  const index: ArchiveIndex = { version: 1, files };
  await archive.writeIndex(index);
  return index;
}

/** Where a backup taken in file `n` after its third transaction stands. */
const backupAt = (n: number): BackupCoordinates => ({
  file: syntheticName(n),
  position: syntheticEndPos(n, 2),
  gtid: syntheticGtid(n, 2),
});

/** That backup's prepared-backup metadata, in `dir`. */
async function writeBackup(dir: string, n: number): Promise<BackupCoordinates> {
  const backup = backupAt(n);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'xtrabackup_checkpoints'), 'backup_type = full-prepared\nto_lsn = 1\n');
  await writeFile(
    join(dir, 'xtrabackup_binlog_info'),
    `${backup.file}\t${backup.position}\t${backup.gtid}\n`,
  );
  return backup;
}

interface Case {
  label: string;
  target: RecoveryTarget;
  /** The file the backup was taken in: the window runs from there. */
  backupFile: number;
  /** Expected stop GTID and last file of the window; null when the plan must be refused. */
  want: { stopGtid: string; lastFile: number } | null;
}

const at = (seconds: number) => new Date(seconds * 1000).toISOString();
const CASES: Case[] = [
  {
    label: `time, middle (file ${MIDDLE})`,
    target: { type: 'time', time: at(syntheticTime(MIDDLE, 4) + 1) },
    backupFile: MIDDLE - 10,
    want: { stopGtid: syntheticGtid(MIDDLE, 4), lastFile: MIDDLE },
  },
  {
    label: `time, near the end (file ${NEAR_END})`,
    target: { type: 'time', time: at(syntheticTime(NEAR_END, 4) + 1) },
    backupFile: NEAR_END - 10,
    want: { stopGtid: syntheticGtid(NEAR_END, 4), lastFile: NEAR_END },
  },
  {
    label: `GTID, middle (file ${MIDDLE})`,
    target: { type: 'gtid', gtid: syntheticGtid(MIDDLE, 6), exclusive: false },
    backupFile: MIDDLE - 10,
    want: { stopGtid: syntheticGtid(MIDDLE, 6), lastFile: MIDDLE },
  },
  {
    label: `GTID, near the end (file ${NEAR_END})`,
    target: { type: 'gtid', gtid: syntheticGtid(NEAR_END, 6), exclusive: false },
    backupFile: NEAR_END - 10,
    want: { stopGtid: syntheticGtid(NEAR_END, 6), lastFile: NEAR_END },
  },
];
/** A long window: every one of its 20,000 files read and verified (throughput, no 2 s goal). */
const LONG: Case = {
  label: `GTID, window of 20,000 files (${MIDDLE - 19_999} … ${MIDDLE})`,
  target: { type: 'gtid', gtid: syntheticGtid(MIDDLE, 6), exclusive: false },
  backupFile: MIDDLE - 19_999,
  want: { stopGtid: syntheticGtid(MIDDLE, 6), lastFile: MIDDLE },
};
const BROKEN: Case = {
  label: `latest, file ${MISSING} missing`,
  target: { type: 'latest' },
  backupFile: 1,
  want: null,
};

function check(c: Case, outcome: { files: string[]; stopGtid: string | null } | Error): string {
  if (!c.want) {
    const expected = `1 file(s) missing between ${syntheticName(MISSING - 1)} and ${syntheticName(MISSING + 1)}`;
    return outcome instanceof Error && outcome.message.includes(expected) ? 'refused: gap found' : 'WRONG';
  }
  if (outcome instanceof Error) return `WRONG: ${outcome.message}`;
  const ok =
    outcome.stopGtid === c.want.stopGtid &&
    outcome.files.length === c.want.lastFile - c.backupFile + 1 &&
    outcome.files.at(-1) === syntheticName(c.want.lastFile);
  return ok ? `ok: ${outcome.files.length.toLocaleString('en-US')} files` : 'WRONG';
}

/** Index read, plan and gap check, as planPerconaRecovery runs them; files the plan reads come via `stagingDir`. */
async function indexReadAndPlan(
  archive: BinlogArchive,
  backup: BackupCoordinates,
  target: RecoveryTarget,
  stagingDir: string,
) {
  return planReplay({
    index: await archive.readIndex(),
    backup,
    target,
    allowGaps: false,
    nowSeconds: Date.now() / 1000,
    read: archiveReader(archive, stagingDir),
  });
}

/** The same from an S3 archive (SeaweedFS): the index and the files the plans read, fetched over S3. */
async function s3Rows(index: ArchiveIndex, dir: string, base: string) {
  let s3;
  try {
    s3 = await startSeaweedS3({ bucket: 'bench-archive' });
  } catch (err) {
    return [[`S3: not measured (${(err as Error).message.split('\n')[0]})`, '', '', '']];
  }
  try {
    const archive = new S3Archive({
      bucket: s3.bucket,
      prefix: 'archive-100k',
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    await archive.writeIndex(index);
    for (const c of CASES)
      for (let n = c.backupFile; n <= c.want!.lastFile; n++)
        await archive.putFile(syntheticName(n), join(dir, syntheticName(n)));
    const rows: string[][] = [];
    for (const [i, c] of CASES.entries()) {
      const backup = backupAt(c.backupFile);
      const r = await timed(() => indexReadAndPlan(archive, backup, c.target, join(base, `s3-staging-${i}`)));
      rows.push([`S3 (SeaweedFS): ${c.label}`, wallAndCpu(r), 'not measured', check(c, r.outcome)]);
    }
    return rows;
  } finally {
    await s3.stop();
  }
}

/** Wall time, and this process's CPU time (which a busy shared host does not inflate as much). */
async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; cpuMs: number; outcome: T | Error }> {
  const t = performance.now();
  const cpu = process.cpuUsage();
  const outcome = await work().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - t, cpuMs: (used.user + used.system) / 1000, outcome };
}
const wallAndCpu = (r: { ms: number; cpuMs: number }) => `${ms(r.ms)} (CPU ${ms(r.cpuMs)})`;

export async function benchPlanning(base: string): Promise<boolean> {
  const dir = join(base, 'archive-100k');
  const archive = new FsArchive(dir);
  const sql = new SqlPools();
  let t = performance.now();
  let index = await writeArchive(archive, dir);
  console.log(
    `planning: wrote ${COUNT.toLocaleString('en-US')} binlog files (${TX_PER_FILE} transactions each) and their index in ${ms(performance.now() - t)}`,
  );
  const input = (target: RecoveryTarget, backupDir: string) => ({
    ...PerconaPitrInput.parse({
      cluster: {
        adapter: 'process',
        name: 'bench',
        pidFile: join(base, 'no-cluster.pid'),
        start: ['true'],
      },
      backup: { dir: backupDir },
      restore: { datadir: join(base, 'restore-100k') },
      archive: { kind: 'fs', dir },
      target,
    }),
    recoveryId: 'bench-plan',
  });
  // The index read + plan + gap check, as planPerconaRecovery runs them (files read in place).
  const readAndPlan = (c: Case) =>
    indexReadAndPlan(archive, backupAt(c.backupFile), c.target, join(base, 'staging'));
  const locate = async (c: Case) => {
    const backupDir = join(base, `backup-${c.backupFile}`);
    await writeBackup(backupDir, c.backupFile);
    return (await planPerconaRecovery(sql, input(c.target, backupDir))).replay;
  };

  t = performance.now();
  await archive.listFiles();
  const listMs = performance.now() - t;
  t = performance.now();
  index = await archive.readIndex();
  const readMs = performance.now() - t;

  const rows: string[][] = [];
  let ok = true;
  const measure = async (c: Case) => {
    const core = await timed(() => readAndPlan(c));
    const whole = await timed(() => locate(c));
    const verdicts = [check(c, core.outcome), check(c, whole.outcome)];
    ok &&= (c === LONG || core.ms <= 2000) && !verdicts.some((v) => v.startsWith('WRONG'));
    const out = core.outcome;
    const rate =
      c === LONG && !(out instanceof Error)
        ? ` — ${(out.bytes / 1e6).toFixed(1)} MB verified, ${(out.bytes / 1e6 / (core.ms / 1000)).toFixed(0)} MB/s`
        : '';
    rows.push([c.label, `${wallAndCpu(core)}${rate}`, wallAndCpu(whole), verdicts[0]!]);
  };
  for (const c of [...CASES, LONG]) await measure(c);

  const s3 = await s3Rows(index, dir, base);
  ok &&= !s3.some((r) => r[3]?.startsWith('WRONG'));
  rows.push(...s3);

  // A missing file among the 100,000: gone from the archive and from its index.
  await rm(join(dir, syntheticName(MISSING)));
  await archive.writeIndex({
    version: 1,
    files: index.files.filter((f) => f.name !== syntheticName(MISSING)),
  });
  await measure(BROKEN);

  printTable(
    `Planning at scale: ${COUNT.toLocaleString('en-US')} archived binlog files (index ${(JSON.stringify(index).length / 1e6).toFixed(0)} MB of JSON)`,
    ['target', 'index read + plan + gap check (goal ≤ 2 s)', 'whole locate-binlogs activity', 'result'],
    rows,
  );
  console.log(
    `of which: index read ${ms(readMs)}; the activity also lists the archive (${COUNT.toLocaleString('en-US')} files: ${ms(listMs)}), reads the backup and checks the cluster`,
  );
  await sql.closeAll();
  await rm(dir, { recursive: true, force: true });
  return ok;
}
