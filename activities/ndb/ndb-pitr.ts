// Activities of NDB Cluster point-in-time recovery via NDB Cluster Replication. NDB's own tools
// (ndb_mgm, ndbd/ndbmtd, ndb_restore) are called by their real names; the SQL is the procedure's.
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { StepOutcome } from '../../workflows/kit';
import type { Dialect, Endpoint } from '../../workflows/schemas';
import { dialectOf } from '../mysql/dialect';
import type { NdbDataNode, NdbFailurePoint, NdbPitrInput } from '../../workflows/schemas-ndb-pitr';
import { formatEpoch } from '../../workflows/epoch';
import type { z } from 'zod';
import { BINLOG_NAME, binlogSequence } from '../archive/archive';
import { FsArchive } from '../archive/archive-fs';
import { refreshIndex, sha256File } from '../archive/archive-index';
import { archiveReader } from '../archive/archive-read';
import { eventBoundaries, scanBinlog } from '../archive/binlog-scan';
import { clientOptions } from '../mysql/client-options';
import { keepAlive, runCommand } from '../runtime/command';
import { verifyAgainstPlan } from '../replay/replay-common';
import { runBinlogPipe } from '../replay/replay-pipe';
import { PlanError, verifyPositionWindow, type VerifiedFile } from '../replay/replay-window';
import { Ledger } from '../runtime/ledger';
import { waitUntil } from '../runtime/processes';
import { SqlLedger } from '../mysql/sql-ledger';
import { checkReachable } from '../mysql/preflight';
import type { SqlPools } from '../mysql/sql';
import { failure, type FailureType } from '../../workflows/failures';

type Cluster = NdbPitrInput['cluster'];
type DataNode = z.output<typeof NdbDataNode>;

export interface NdbBackup {
  id: number;
  stopGcp: number;
  /** What `ndb_restore --restore-epoch` writes for server_id 0: ((StopGCP - 1) << 32) | 0xffffffff. */
  restoreEpoch: string;
  path: string;
}

export interface NdbStopPoint {
  /** Replay stops before this position of this file (exclusive). */
  file: string;
  position: number;
  /** The last epoch the recovery applies (inclusive). */
  lastEpoch: string;
  description: string;
}

const refuse = (message: string, type: FailureType = 'PlanRefused') => failure(type, message);

const restoreEpochOf = (stopGcp: number) => (((BigInt(stopGcp) - 1n) << 32n) | 0xffffffffn).toString();

function mgm(cluster: Cluster, command: string): string[] {
  return ['ndb_mgm', `--ndb-connectstring=${cluster.connectstring}`, '--execute', command];
}

/** A binlog name as it comes back from ndb_binlog_index (directory dropped): refuse anything else. */
export function checkedBinlogName(name: unknown, column: string): string {
  const text = String(name ?? '');
  if (!BINLOG_NAME.test(text) || text.length > 255)
    throw refuse(
      `mysql.ndb_binlog_index returned an unusable ${column} ${JSON.stringify(text)}: not a plain binlog file name; nothing was done with it`,
      'BadIndexRow',
    );
  return text;
}

// Step 1: back up all NDB databases.
export async function takeNdbBackup(
  cluster: Cluster,
  backupDataDir: string,
): Promise<StepOutcome & { backup: NdbBackup }> {
  const { stdout } = await runCommand(mgm(cluster, 'START BACKUP WAIT COMPLETED'));
  const id = /Backup (\d+) started from node \d+ completed/.exec(stdout)?.[1];
  const stopGcp = /StopGCP:\s*(\d+)/.exec(stdout)?.[1];
  if (!id || !stopGcp) throw new Error(`ndb_mgm did not report a completed backup:\n${stdout.trim()}`);
  const backup = {
    id: Number(id),
    stopGcp: Number(stopGcp),
    restoreEpoch: restoreEpochOf(Number(stopGcp)),
    path: join(backupDataDir, 'BACKUP', `BACKUP-${id}`),
  };
  return { backup, evidence: [`backup ${id} completed, StopGCP ${stopGcp}`] };
}

// Step 2: dump mysql.ndb_binlog_index and copy the binary logs into the archive.
export async function backupBinlogIndex(
  sql: SqlPools,
  req: { recoveryId: string; sqlNode: Endpoint; archiveDir: string; dialect?: Dialect },
): Promise<StepOutcome & { dumpFile: string; rows: number }> {
  const dumpFile = join(req.archiveDir, `ndb_binlog_index.${req.recoveryId}.sql`);
  await mkdir(req.archiveDir, { recursive: true });
  const [count] = await sql.query(req.sqlNode, 'SELECT COUNT(*) AS n FROM mysql.ndb_binlog_index');
  const rows = Number(count?.n ?? 0);
  const evidence: string[] = [];
  if (await stat(dumpFile).catch(() => null)) evidence.push(`dump ${dumpFile} already made`);
  else {
    const client = await clientOptions(req.sqlNode);
    try {
      await runCommand(
        [
          dialectOf(req.dialect ?? 'mariadb').dumpTool,
          ...client.args,
          '--single-transaction',
          '--skip-triggers',
          'mysql',
          'ndb_binlog_index',
        ],
        {
          secrets: client.secrets,
          stdoutFile: `${dumpFile}.part`,
        },
      );
    } finally {
      await client.cleanup();
    }
    await rename(`${dumpFile}.part`, dumpFile); // complete dumps only
    evidence.push(`dumped ${rows} ndb_binlog_index row(s) to ${dumpFile}`);
  }
  const [base] = await sql.query(req.sqlNode, 'SELECT @@log_bin_basename AS b');
  const dir = String(base?.b ?? '').replace(/\/[^/]*$/, '');
  const archive = new FsArchive(req.archiveDir);
  let copied = 0;
  for (const { Log_name: name, File_size: size } of await sql.query(req.sqlNode, 'SHOW BINARY LOGS')) {
    const have = await stat(join(req.archiveDir, String(name))).catch(() => null);
    if (have?.size === Number(size)) continue;
    await archive.putFile(String(name), join(dir, String(name)));
    copied++;
  }
  await refreshIndex(archive, req.archiveDir);
  evidence.push(`${copied} binlog file(s) copied to ${req.archiveDir}`);
  return { dumpFile, rows, evidence };
}

/** The last epoch whose transaction ends at or before `file:position` (by the index's next_file/next_position). */
async function lastEpochBefore(
  sql: SqlPools,
  e: Endpoint,
  file: string,
  position: number,
): Promise<string | null> {
  const [row] = await sql.query(
    e,
    `SELECT MAX(epoch) AS epoch FROM mysql.ndb_binlog_index
      WHERE SUBSTRING_INDEX(next_file, '/', -1) < ? OR (SUBSTRING_INDEX(next_file, '/', -1) = ? AND next_position <= ?)`,
    [file, file, position],
  );
  return row?.epoch === null || row?.epoch === undefined ? null : String(row.epoch);
}

// Step 3: the failure point, made exact (a file position to stop before, and the last epoch applied).
export async function resolveFailurePoint(
  sql: SqlPools,
  req: { sqlNode: Endpoint; archiveDir: string; failurePoint: NdbFailurePoint },
): Promise<StepOutcome & { stop: NdbStopPoint }> {
  const fp = req.failurePoint;
  const archive = new FsArchive(req.archiveDir);
  const index = await refreshIndex(archive, req.archiveDir);
  let stop: NdbStopPoint;
  if (fp.type === 'epoch') {
    const [row] = await sql.query(
      req.sqlNode,
      `SELECT SUBSTRING_INDEX(File, '/', -1) AS file, Position AS pos, SUBSTRING_INDEX(next_file, '/', -1) AS next_file, next_position
         FROM mysql.ndb_binlog_index WHERE epoch = ?`,
      [fp.epoch],
    );
    if (!row) {
      const [range] = await sql.query(
        req.sqlNode,
        'SELECT MIN(epoch) AS lo, MAX(epoch) AS hi FROM mysql.ndb_binlog_index',
      );
      throw refuse(
        `epoch ${fp.epoch} (${formatEpoch(fp.epoch)}) is not in mysql.ndb_binlog_index` +
          (range?.lo
            ? ` (it holds ${range.lo} … ${range.hi}, ${formatEpoch(String(range.lo))} … ${formatEpoch(String(range.hi))})`
            : ' (it is empty)'),
      );
    }
    const file = checkedBinlogName(row.file, 'File');
    const nextFile = checkedBinlogName(row.next_file, 'next_file');
    const size = index.files.find((f) => f.name === file)?.size;
    if (size === undefined)
      throw refuse(`${file}, which holds epoch ${fp.epoch}, is not in the archive ${req.archiveDir}`);
    stop = {
      file,
      position: nextFile === file ? Number(row.next_position) : size,
      lastEpoch: fp.epoch,
      description: `through epoch ${fp.epoch} (${formatEpoch(fp.epoch)})`,
    };
  } else {
    let file: string;
    let position: number;
    if (fp.type === 'position') {
      const f = index.files.find((x) => x.name === fp.file);
      if (!f) throw refuse(`${fp.file} is not in the archive ${req.archiveDir}`);
      if (!(await eventBoundaries(join(req.archiveDir, f.name))).has(fp.position))
        throw refuse(
          `${fp.file}:${fp.position} is not an event boundary (mysqlbinlog prints boundaries as "# at N")`,
        );
      ({ file, position } = { file: fp.file, position: fp.position });
    } else {
      const t = Date.parse(fp.time) / 1000;
      const lastTime = index.files.at(-1)?.lastEventTime ?? null;
      if (lastTime === null || t > lastTime)
        throw refuse(
          `failure time ${fp.time} is beyond the archive: its newest event is at ${lastTime === null ? 'none' : new Date(lastTime * 1000).toISOString()}`,
        );
      let found: { file: string; position: number } | null = null;
      for (const f of index.files) {
        if (f.firstEventTime !== null && f.firstEventTime >= t) break;
        await scanBinlog(join(req.archiveDir, f.name), (tx) => {
          if (tx.time >= t) return false;
          found = { file: f.name, position: tx.endPos };
        });
      }
      if (!found) throw refuse(`no transaction in the archive before ${fp.time}`);
      ({ file, position } = found as { file: string; position: number });
    }
    const lastEpoch = await lastEpochBefore(sql, req.sqlNode, file, position);
    if (!lastEpoch) throw refuse(`no epoch of mysql.ndb_binlog_index ends before ${file}:${position}`);
    stop = {
      file,
      position,
      lastEpoch,
      description: `before ${fp.type === 'time' ? fp.time : `${file}:${position}`}: through epoch ${lastEpoch} (${formatEpoch(lastEpoch)})`,
    };
  }
  return {
    stop,
    evidence: [`failure point ${stop.description}; replay stops before ${stop.file}:${stop.position}`],
  };
}

// Step 4: the last good backup before the failure point.
export async function locateNdbBackup(
  sql: SqlPools,
  req: { cluster: Cluster; backupDataDir: string; wantedId?: number; stop: NdbStopPoint; archiveDir: string },
): Promise<StepOutcome & { backup: NdbBackup; window: VerifiedFile[] }> {
  const root = join(req.backupDataDir, 'BACKUP');
  const ids = (await readdir(root).catch(() => [] as string[]))
    .map((d) => /^BACKUP-(\d+)$/.exec(d)?.[1])
    .filter((x): x is string => !!x)
    .map(Number)
    .sort((a, b) => a - b);
  const firstNode = req.cluster.dataNodes[0]!.id;
  const backups: NdbBackup[] = [];
  const unreadable: number[] = [];
  for (const id of ids) {
    const path = join(root, `BACKUP-${id}`);
    // A backup cut short (its ndb_mgm killed) has no readable metadata: it is not a candidate.
    const printed = await runCommand([
      'ndb_restore',
      `--ndb-connectstring=${req.cluster.connectstring}`,
      `--nodeid=${firstNode}`,
      `--backupid=${id}`,
      `--backup-path=${path}`,
      '--print-meta',
    ]).catch(() => null);
    const gcp = printed && /Stop GCP of Backup:\s*(\d+)/.exec(printed.stdout)?.[1];
    if (gcp) backups.push({ id, stopGcp: Number(gcp), restoreEpoch: restoreEpochOf(Number(gcp)), path });
    else unreadable.push(id);
  }
  const before = backups.filter((b) => BigInt(b.restoreEpoch) < BigInt(req.stop.lastEpoch));
  const listed =
    (backups.map((b) => `${b.id} (StopGCP ${b.stopGcp})`).join(', ') || 'none') +
    (unreadable.length ? `; unreadable (ndb_restore --print-meta failed): ${unreadable.join(', ')}` : '');
  const chosen = req.wantedId !== undefined ? before.find((b) => b.id === req.wantedId) : before.at(-1);
  if (!chosen)
    throw refuse(
      req.wantedId !== undefined
        ? `backup ${req.wantedId} is not a usable backup before the failure point (epoch ${req.stop.lastEpoch}); backups in ${root}: ${listed}`
        : `no backup before the failure point (epoch ${req.stop.lastEpoch}, ${formatEpoch(req.stop.lastEpoch)}); backups in ${root}: ${listed}`,
    );
  // The replay will start at the first epoch after the backup: it must be indexed and archived.
  const start = await startPositionAfter(sql, req.cluster.sqlNode, chosen.restoreEpoch);
  if (start && !(await stat(join(req.archiveDir, start.file)).catch(() => null)))
    throw refuse(`the replay would start in ${start.file}, which is not in the archive ${req.archiveDir}`);
  // Every byte the replay will read is verified now, before anything is cleared (the shared engine's
  // window check: each event's CRC32, sha256 against the index, truncation, gaps).
  const window = start ? await verifyNdbWindow(req.archiveDir, start, req.stop) : null;
  return {
    backup: chosen,
    window: window?.verified ?? [],
    evidence: [
      `backup ${chosen.id} (StopGCP ${chosen.stopGcp}, epoch ${chosen.restoreEpoch}) is the last before the failure point`,
      ...(unreadable.length ? [`incomplete backup(s) left aside: ${unreadable.join(', ')}`] : []),
      ...(window
        ? [
            `replay window ${start!.file}:${start!.position} … ${req.stop.file}:${req.stop.position} verified: ${window.verified.length} file(s), ${window.transactions} transaction(s), every event's checksum`,
            ...window.warnings,
          ]
        : []),
    ],
  };
}

/** The window from the replay's start to the failure point, read and verified (refused when unfit). */
async function verifyNdbWindow(
  archiveDir: string,
  from: { file: string; position: number },
  stop: NdbStopPoint,
): Promise<{ verified: VerifiedFile[]; transactions: number; warnings: string[] }> {
  const archive = new FsArchive(archiveDir);
  const index = await refreshIndex(archive, archiveDir);
  return verifyPositionWindow({
    files: index.files,
    read: archiveReader(archive, archiveDir),
    from,
    to: { file: stop.file, position: stop.position },
  }).catch((err: unknown) => {
    if (err instanceof PlanError) throw refuse(err.message, err.kind);
    throw err;
  });
}

/** Checkpoint names of clearing round `round` (1: step 5; later: after an interrupted ndb_restore). */
const roundKey = (name: string, round = 1) => (round === 1 ? name : `${name}:round-${round}`);

// Step 5: clear a data node's file system (initial restart). Round 2 and later clear it again after
// an interrupted ndb_restore (step 7), each round checkpointed on its own.
export async function initialRestartDataNode(req: {
  recoveryId: string;
  cluster: Cluster;
  node: DataNode;
  round?: number;
}): Promise<StepOutcome> {
  const ledger = Ledger.besideDatadir(req.node.dataDir);
  const done = await ledger.read(req.recoveryId, roundKey('initial-restart', req.round));
  if (done)
    return { skipped: true, evidence: [`node ${req.node.id} was restarted with --initial at ${done.at}`] };
  await runCommand([
    req.node.binary,
    '--initial',
    `--ndb-nodeid=${req.node.id}`,
    `--ndb-connectstring=${req.cluster.connectstring}`,
  ]);
  await waitUntil(
    `data node ${req.node.id} to start`,
    async () => /started/.test((await runCommand(mgm(req.cluster, `${req.node.id} STATUS`))).stdout),
    30 * 60_000,
    1000,
  );
  await ledger.write(req.recoveryId, roundKey('initial-restart', req.round), { node: req.node.id });
  return {
    evidence: [
      `${req.node.binary} --initial on node ${req.node.id}: file system cleared, node started` +
        (req.round && req.round > 1 ? ` (round ${req.round})` : ''),
    ],
  };
}

// Step 6: TRUNCATE mysql.ndb_binlog_index.
export async function truncateBinlogIndex(
  sql: SqlPools,
  req: { recoveryId: string; sqlNode: Endpoint },
): Promise<StepOutcome> {
  const ledger = new SqlLedger(sql, req.sqlNode);
  const done = await ledger.read(req.recoveryId, 'truncate-binlog-index');
  if (done) return { skipped: true, evidence: [`truncated at ${done.at}`] };
  await sql.query(req.sqlNode, 'TRUNCATE TABLE mysql.ndb_binlog_index');
  await ledger.write(req.recoveryId, 'truncate-binlog-index');
  return { evidence: ['TRUNCATE TABLE mysql.ndb_binlog_index'] };
}

async function applyRestoreEpoch(sql: SqlPools, e: Endpoint): Promise<string | null> {
  const [row] = await sql.query(e, 'SELECT epoch FROM mysql.ndb_apply_status WHERE server_id = 0');
  return row ? String(row.epoch) : null;
}

// Step 7: ndb_restore — metadata once, data for every node, the epoch once. Each part is fenced in
// the ledger (started, then done), per clearing round. A part that started and never finished left
// part of its rows in the cluster: restoring on top of them would layer data (duplicate keys at best),
// so the activity stops and says so (`interrupted`); the workflow clears the data nodes again (a new
// round) and restores from the start.
export async function restoreNdbBackup(
  sql: SqlPools,
  req: { recoveryId: string; cluster: Cluster; backup: NdbBackup; round?: number },
): Promise<StepOutcome & { interrupted?: string }> {
  const ledger = new SqlLedger(sql, req.cluster.sqlNode);
  const { backup, cluster } = req;
  const round = req.round ?? 1;
  const restoredEarlier = async () => (await applyRestoreEpoch(sql, cluster.sqlNode)) === backup.restoreEpoch;
  if ((await ledger.read(req.recoveryId, 'restore-backup')) && (await restoredEarlier()))
    return {
      skipped: true,
      evidence: [
        `backup ${backup.id} restored earlier; ndb_apply_status holds its epoch ${backup.restoreEpoch} for server_id 0`,
      ],
    };
  const base = [
    'ndb_restore',
    `--ndb-connectstring=${cluster.connectstring}`,
    `--backupid=${backup.id}`,
    `--backup-path=${backup.path}`,
    '--no-binlog',
  ];
  const nodes = cluster.dataNodes;
  const parts = [
    { key: 'meta', argv: [...base, `--nodeid=${nodes[0]!.id}`, '--restore-meta'] },
    ...nodes.map((n, i) => ({
      key: `data-${n.id}`,
      argv: [
        ...base,
        `--nodeid=${n.id}`,
        '--restore-data',
        ...(i === nodes.length - 1 ? ['--restore-epoch'] : []),
      ],
    })),
  ];
  const evidence: string[] = [];
  for (const [i, part] of parts.entries()) {
    const key = roundKey(`restore:${part.key}`, round);
    if (await ledger.read(req.recoveryId, key)) continue;
    if (await ledger.read(req.recoveryId, `${key}:started`)) {
      // The last part writes the backup's epoch after its rows: with the epoch there (the clearing
      // emptied ndb_apply_status), it finished and only its fence is missing.
      if (i === parts.length - 1 && (await restoredEarlier())) {
        await ledger.write(req.recoveryId, key);
        evidence.push(`ndb_restore (${part.key}) had finished before its worker died`);
        continue;
      }
      return {
        interrupted: part.key,
        evidence: [
          `ndb_restore (${part.key}) of backup ${backup.id} was interrupted in round ${round}: the cluster holds part of its data`,
        ],
      };
    }
    await ledger.write(req.recoveryId, `${key}:started`);
    await runCommand(part.argv);
    await ledger.write(req.recoveryId, key);
    evidence.push(`ndb_restore ${part.argv.slice(5).join(' ')}`);
  }
  const epoch = await applyRestoreEpoch(sql, cluster.sqlNode);
  if (epoch !== backup.restoreEpoch)
    throw new Error(
      `after ndb_restore --restore-epoch, ndb_apply_status has epoch ${epoch} for server_id 0, expected ${backup.restoreEpoch}`,
    );
  await ledger.write(req.recoveryId, 'restore-backup', { backupId: backup.id, round });
  return { evidence: [...evidence, `ndb_apply_status: server_id 0 at epoch ${epoch}`] };
}

// Step 8: restore ndb_binlog_index from the dump (the binlog files stay in the archive, where the replay reads them).
export async function restoreBinlogIndex(
  sql: SqlPools,
  req: { recoveryId: string; sqlNode: Endpoint; dumpFile: string; dialect?: Dialect },
): Promise<StepOutcome> {
  const ledger = new SqlLedger(sql, req.sqlNode);
  const done = await ledger.read(req.recoveryId, 'restore-binlog-index');
  if (done) return { skipped: true, evidence: [`restored at ${done.at}`] };
  if (!(await stat(req.dumpFile).catch(() => null)))
    throw refuse(`the ndb_binlog_index dump ${req.dumpFile} does not exist`, 'MissingDump');
  const client = await clientOptions(req.sqlNode);
  try {
    const tool = dialectOf(req.dialect ?? 'mariadb').client;
    await runCommand([tool, ...client.args, '--init-command=SET SESSION sql_log_bin = 0', 'mysql'], {
      inputFile: req.dumpFile,
      secrets: client.secrets,
    });
  } finally {
    await client.cleanup();
  }
  const [count] = await sql.query(req.sqlNode, 'SELECT COUNT(*) AS n FROM mysql.ndb_binlog_index');
  await ledger.write(req.recoveryId, 'restore-binlog-index', { rows: Number(count?.n ?? 0) });
  return { evidence: [`mysql.ndb_binlog_index restored from ${req.dumpFile}: ${count?.n} row(s)`] };
}

// Step 9: SELECT MAX(epoch) FROM mysql.ndb_apply_status.
export async function findLatestEpoch(
  sql: SqlPools,
  sqlNode: Endpoint,
): Promise<StepOutcome & { latest: string }> {
  const [row] = await sql.query(sqlNode, 'SELECT MAX(epoch) AS latest FROM mysql.ndb_apply_status');
  if (row?.latest === null || row?.latest === undefined)
    throw refuse('mysql.ndb_apply_status is empty: was the backup restored with --restore-epoch?', 'NoEpoch');
  const latest = String(row.latest);
  return { latest, evidence: [`@LATEST_EPOCH = ${latest} (${formatEpoch(latest)})`] };
}

async function startPositionAfter(
  sql: SqlPools,
  e: Endpoint,
  latest: string,
): Promise<{ file: string; position: number } | null> {
  const [row] = await sql.query(
    e,
    "SELECT Position AS position, SUBSTRING_INDEX(File, '/', -1) AS file FROM mysql.ndb_binlog_index WHERE epoch > ? ORDER BY epoch ASC LIMIT 1",
    [latest],
  );
  return row ? { file: checkedBinlogName(row.file, 'File'), position: Number(row.position) } : null;
}

// Step 10: the first epoch after @LATEST_EPOCH: where the replay starts.
export async function findStartPosition(
  sql: SqlPools,
  req: { sqlNode: Endpoint; latest: string },
): Promise<StepOutcome & { start: { file: string; position: number } | null }> {
  const start = await startPositionAfter(sql, req.sqlNode, req.latest);
  return {
    start,
    evidence: [
      start
        ? `@FIRST_FILE = ${start.file}, Position ${start.position}`
        : `no epoch after ${req.latest} in mysql.ndb_binlog_index`,
    ],
  };
}

/**
 * Holds a named lock on the SQL node while `work` replays: an attempt Temporal has already timed out
 * (its heartbeats lost in a server outage) may still be applying when its retry starts. The lock
 * lives with the session, so a dead worker's lock goes with its connection.
 */
async function oneReplayAtATime<T>(sql: SqlPools, e: Endpoint, work: () => Promise<T>): Promise<T> {
  const conn = await (await sql.get(e)).getConnection();
  try {
    const [rows] = (await conn.query("SELECT GET_LOCK('runbook:ndb-replay', 0) AS got")) as unknown as [
      { got: number | null }[],
    ];
    if (Number(rows[0]?.got) !== 1)
      throw new Error('another replay into this SQL node is still running (an earlier attempt); will retry');
    try {
      return await work();
    } finally {
      await conn.query("SELECT RELEASE_LOCK('runbook:ndb-replay')").catch(() => {});
    }
  } finally {
    conn.release();
  }
}

// Step 11: replay from the start position to the failure point. Resumable exactly once: each epoch is
// one transaction that also advances ndb_apply_status, so MAX(epoch) says where to go on; one replay
// at a time, from reading MAX(epoch) to the end.
export function replayNdbBinlogs(
  sql: SqlPools,
  req: NdbReplayRequest,
): Promise<StepOutcome & { latestAfter: string }> {
  return oneReplayAtATime(sql, req.sqlNode, () => replayFromLatestEpoch(sql, req));
}

export interface NdbReplayRequest {
  sqlNode: Endpoint;
  /** The SQL node's flavour (its binlog reader and client); runs recorded before it: mariadb. */
  dialect?: Dialect;
  archiveDir: string;
  stop: NdbStopPoint;
  /** The window's files as the plan (locate-backup) verified them; absent in runs planned before it did. */
  window?: VerifiedFile[];
}

async function replayFromLatestEpoch(
  sql: SqlPools,
  req: NdbReplayRequest,
): Promise<StepOutcome & { latestAfter: string }> {
  const latest = (await findLatestEpoch(sql, req.sqlNode)).latest;
  if (BigInt(latest) >= BigInt(req.stop.lastEpoch))
    return {
      skipped: true,
      latestAfter: latest,
      evidence: [`epoch ${latest} already applied: nothing left to replay`],
    };
  const start = await startPositionAfter(sql, req.sqlNode, latest);
  if (!start)
    throw refuse(`no epoch after ${latest} in mysql.ndb_binlog_index: cannot find where to start`, 'NoStart');
  // Resume by epoch: the files from where the next epoch starts to the failure point, verified again.
  const archive = new FsArchive(req.archiveDir);
  const files = req.window
    ? await verifyAgainstPlan(
        archive,
        req.window.filter(
          (f) =>
            binlogSequence(f.name) >= binlogSequence(start.file) &&
            binlogSequence(f.name) <= binlogSequence(req.stop.file),
        ),
        req.archiveDir,
      )
    : await checkedAgainstIndex(req.archiveDir, start.file, req.stop.file);
  if (!files.length || basename(files[0]!) !== start.file || basename(files.at(-1)!) !== req.stop.file)
    throw refuse(
      `the verified window does not hold ${start.file} … ${req.stop.file}: the replay cannot start at ${start.file}:${start.position}`,
      'ArchiveGap',
    );
  const position = `${start.file}:${start.position} … ${req.stop.file}:${req.stop.position}`;
  const epochNow = async () =>
    `epoch ${(await findLatestEpoch(sql, req.sqlNode).catch(() => null))?.latest ?? 'unknown'}`;
  await runBinlogPipe({
    endpoint: req.sqlNode,
    dialect: req.dialect ?? 'mariadb',
    window: [`--start-position=${start.position}`, `--stop-position=${req.stop.position}`],
    files,
    force: false,
    progress: () => ({
      step: 'replay-binlogs',
      from: `${start.file}:${start.position}`,
      to: `${req.stop.file}:${req.stop.position}`,
    }),
    stopTarget: `${req.stop.file}:${req.stop.position}`,
    whereNow: epochNow,
    stoppedOnSqlError: async (error) =>
      failure(
        'ReplayFailed',
        `replay of ${position} stopped at ${await epochNow()}: ${error}; the failure point is epoch ${req.stop.lastEpoch}. ` +
          'The error is deterministic: a retry would stop at the same epoch. Fix its cause on the SQL node and retry (the replay resumes after its latest epoch), or restore to an earlier failure point',
      ),
  });
  const after = (await findLatestEpoch(sql, req.sqlNode)).latest;
  if (after !== req.stop.lastEpoch)
    throw failure(
      'TargetNotReached',
      `replay ended at epoch ${after}, but the failure point is epoch ${req.stop.lastEpoch}`,
    );
  return {
    latestAfter: after,
    evidence: [
      `replayed ${position} from ${files.length} file(s), every event's checksum verified again`,
      // NDB has no GTIDs: the proof is the epoch the SQL node reached, exactly the failure point's.
      `proof by epoch: ndb_apply_status now at epoch ${after} (${formatEpoch(after)}), the failure point's; NDB binlogs carry no GTIDs, so the transactions are not compared one by one`,
    ],
  };
}

/** Runs planned before the window was verified: the files checked against the index, as then. */
async function checkedAgainstIndex(archiveDir: string, first: string, last: string): Promise<string[]> {
  const index = await new FsArchive(archiveDir).readIndex();
  const window = index.files.filter(
    (f) => binlogSequence(f.name) >= binlogSequence(first) && binlogSequence(f.name) <= binlogSequence(last),
  );
  for (let i = 0; i < window.length; i++) {
    const want = binlogSequence(first) + i;
    if (binlogSequence(window[i]!.name) !== want)
      throw refuse(`the archive misses binlog number ${want} between ${first} and ${last}`, 'ArchiveGap');
    const f = window[i]!;
    if (f.complete && (await sha256File(join(archiveDir, f.name))) !== f.sha256)
      throw refuse(
        `archive file ${f.name} is damaged: its checksum no longer matches the index`,
        'ArchiveDamaged',
      );
  }
  return window.map((f) => join(archiveDir, f.name));
}

/** Plan-time check that a file the run will need exists (before anything destructive). */
export async function checkFileExists(path: string, what: string): Promise<void> {
  if (!(await stat(path).catch(() => null))) throw refuse(`${what} ${path} does not exist`, 'MissingFile');
}

/** The NDB PITR activities, bound to the worker's SQL pools. Each heartbeats while it runs (the
 * workflow gives them a heartbeat timeout, so a dead worker is noticed fast). */
export function ndbPitrActivities(sql: SqlPools) {
  return {
    takeNdbBackup,
    backupBinlogIndex: (req: Parameters<typeof backupBinlogIndex>[1]) =>
      keepAlive({ step: 'backup-binlog-index' }, () => backupBinlogIndex(sql, req)),
    // The first step that talks to the SQL node before anything is cleared: a refusal there is final.
    // (It runs on the SQL node's host; later SQL steps over TCP resolve the password on the controller.)
    resolveFailurePoint: (req: Parameters<typeof resolveFailurePoint>[1]) =>
      keepAlive({ step: 'failure-point' }, async () => {
        await checkReachable(sql, req.sqlNode, 'cluster.sqlNode');
        return resolveFailurePoint(sql, req);
      }),
    locateNdbBackup: (req: Parameters<typeof locateNdbBackup>[1]) =>
      keepAlive({ step: 'locate-backup' }, () => locateNdbBackup(sql, req)),
    checkFileExists,
    initialRestartDataNode,
    truncateBinlogIndex: (req: Parameters<typeof truncateBinlogIndex>[1]) =>
      keepAlive({ step: 'truncate-binlog-index' }, () => truncateBinlogIndex(sql, req)),
    restoreNdbBackup: (req: Parameters<typeof restoreNdbBackup>[1]) => restoreNdbBackup(sql, req),
    restoreBinlogIndex: (req: Parameters<typeof restoreBinlogIndex>[1]) => restoreBinlogIndex(sql, req),
    findLatestEpoch: (sqlNode: Endpoint) =>
      keepAlive({ step: 'find-latest-epoch' }, () => findLatestEpoch(sql, sqlNode)),
    findStartPosition: (req: Parameters<typeof findStartPosition>[1]) =>
      keepAlive({ step: 'find-start-position' }, () => findStartPosition(sql, req)),
    replayNdbBinlogs: (req: NdbReplayRequest) => replayNdbBinlogs(sql, req),
  };
}
