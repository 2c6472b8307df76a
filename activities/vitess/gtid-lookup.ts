// Vitess snapshot GTID lookup (procedure step 4): the last transaction before the snapshot time in a
// shard's binlogs, from the binlog source's archive or streamed from the binlog server.
import { mkdir, readdir } from 'node:fs/promises';
import type { StepOutcome } from '../../workflows/kit';
import type { BinlogSource } from '../../workflows/schemas-vitess';
import { durationMs, type Archive, type Dialect } from '../../workflows/schemas';
import { BINLOG_NAME, type ArchiveIndex, type BinlogArchive } from '../archive/archive';
import { FsArchive } from '../archive/archive-fs';
import { refreshIndex } from '../archive/archive-index';
import { archiveReader } from '../archive/archive-read';
import { openArchive, stagingDirFor } from '../archive/archives';
import { clientOptions } from '../mysql/client-options';
import { CommandError, runCommand } from '../runtime/command';
import { dialectOf } from '../mysql/dialect';
import { PlanError, planReplay, refuseUnsafeStrategy, type ReplayPlan } from '../replay/replay-plan';
import { checkSecretsResolve } from '../mysql/preflight';
import { failure } from '../../workflows/failures';
import { heartbeat, pause } from '../runtime/poll';
import type { ChosenBackup } from './backups';
import { refuseClearBinlogSource } from './tablet';

// Finding the GTID for the snapshot time (procedure step 4), bounded by -pitr_gtid_lookup_timeout.

export interface GtidLookupRequest {
  recoveryId: string;
  keyspace: string;
  shard: string;
  snapshotTime: string;
  /** -pitr_gtid_lookup_timeout, e.g. "1m". */
  timeout: string;
  backup: ChosenBackup;
  source: BinlogSource;
  /** Where binlogs streamed from the binlog server are kept for the replay (this shard's own). */
  stagingDir: string;
}

export interface GtidLookup extends StepOutcome {
  replay: ReplayPlan;
  /** Where the replay reads the binlogs: the source's archive, or the files streamed into stagingDir. */
  archive: Archive;
  stagingDir: string;
  /** Time of the backup's last transaction (Unix seconds), when the binlogs show it. */
  backupTime: number | null;
}

const POLL_MS = 500;
const TIMED_OUT = Symbol('timed out');

/** Runs `work` until `deadline`; past it, aborts the work's signal and returns TIMED_OUT. */
async function beforeDeadline<T>(
  deadline: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T | typeof TIMED_OUT> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(
      () => {
        abort.abort(new Error('deadline'));
        resolve(TIMED_OUT);
      },
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([work(abort.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

const iso = (s: number | null) =>
  s === null ? 'none' : new Date(s * 1000).toISOString().replace('.000Z', 'Z');

function describeSource(s: BinlogSource): string {
  const server = `${s.user}@${s.host}:${s.port}`;
  if (!s.archive) return `binlog server ${server}`;
  return `archive ${s.archive.kind === 'fs' ? s.archive.dir : `s3://${s.archive.bucket}/${s.archive.prefix}`} of binlog server ${server}`;
}

/** The newest event time anywhere in the index (Unix seconds). */
function newestEvent(index: ArchiveIndex): number | null {
  let newest: number | null = null;
  for (const f of index.files)
    if (f.lastEventTime !== null && (newest === null || f.lastEventTime > newest)) newest = f.lastEventTime;
  return newest;
}

/**
 * Copies the binlog server's files from `firstFile` on into `dir` (raw, through the replication
 * protocol, as a binlog-server client does): `mariadb-binlog --read-from-remote-server --raw
 * --to-last-log`. Resumes from the newest file already there. The password reaches the tool through a
 * private option file.
 */
async function streamFromServer(
  source: BinlogSource,
  dialect: Dialect,
  dir: string,
  firstFile: string,
  signal: AbortSignal,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const local = (await readdir(dir)).filter((n) => BINLOG_NAME.test(n)).sort();
  const from = local.includes(firstFile) ? local.at(-1)! : firstFile;
  const client = await clientOptions({
    host: source.host,
    port: source.port,
    user: source.user,
    password: source.password,
    ...(source.tls ? { tls: source.tls } : {}),
  });
  try {
    await runCommand(
      [
        dialectOf(dialect).binlogTool,
        ...client.args,
        '--read-from-remote-server',
        '--raw',
        '--to-last-log',
        `--result-file=${dir}/`,
        from,
      ],
      {
        secrets: client.secrets,
        signal,
        progress: () => ({ doing: 'streaming binlogs from the binlog source', streaming: from }),
      },
    );
  } finally {
    await client.cleanup();
  }
}

/** Binlog-server answers that waiting cannot fix. */
const PERMANENT_SOURCE_ERRORS =
  /Could not find first log file|Access denied|Unknown (MySQL|MariaDB) server host/i;

/**
 * The last transaction before the snapshot time in the shard's binlogs, and the replay window from
 * the backup to it. Like vttablet, the lookup waits for the binlog source to show an event at or after
 * the snapshot time (only then is every transaction before it known to be there), and gives up after
 * the timeout with a non-retryable error: nothing has been touched at that point.
 */
export async function findSnapshotGtid(req: GtidLookupRequest): Promise<GtidLookup> {
  // Indexing a large archive can take a while between polls: keep the heartbeat going throughout.
  const beat = setInterval(() => heartbeat({ doing: 'finding the snapshot GTID', shard: req.shard }), 2000);
  try {
    return await lookupSnapshotGtid(req);
  } finally {
    clearInterval(beat);
  }
}

async function lookupSnapshotGtid(req: GtidLookupRequest): Promise<GtidLookup> {
  const started = Date.now();
  const deadline = started + durationMs(req.timeout);
  const t = Date.parse(req.snapshotTime) / 1000;
  const { info: backup, dialect } = req.backup;
  const what = `${req.keyspace}/${req.shard}`;
  refuseClearBinlogSource(req.source, what);
  // The binlog source's secrets are read on this host (here, and by register-tablet): a missing one
  // is refused now, not taken for a silent server until the lookup timeout.
  await checkSecretsResolve(req.source, { at: `${what} binlogSource` });
  const source = describeSource(req.source);
  const archive: Archive = req.source.archive ?? { kind: 'fs', dir: req.stagingDir };
  const stagingDir = req.source.archive
    ? stagingDirFor(req.source.archive, `${req.recoveryId}-${req.shard}`)
    : req.stagingDir;
  const timedOut = (detail: string) =>
    failure(
      'GtidLookupTimeout',
      `${what}: no GTID for ${req.snapshotTime} within the lookup timeout (${req.timeout}): ${detail}. ` +
        'Nothing was changed. Check that the binlog source is up and caught up, or pick an earlier snapshot time, or raise pitrGtidLookupTimeout',
    );

  const files: BinlogArchive = req.source.archive
    ? await openArchive(req.source.archive)
    : new FsArchive(req.stagingDir);
  let lastError = '';
  let index: ArchiveIndex | null = null;
  const behind = (i: ArchiveIndex) =>
    `the ${source} has no event at or after the snapshot time yet; its newest event is at ${iso(newestEvent(i))}`;
  for (let attempt = 1; ; attempt++) {
    const r = await beforeDeadline(deadline, async (signal) => {
      if (!req.source.archive)
        await streamFromServer(req.source, dialect, req.stagingDir, backup.file, signal);
      return refreshIndex(files, stagingDir);
    }).catch((err: Error) => {
      if (PERMANENT_SOURCE_ERRORS.test(err.message))
        throw failure('BinlogSource', `${what}: the ${source} refused: ${err.message}`);
      lastError = err instanceof CommandError ? err.message : String(err.message);
      return null;
    });
    // A poll cut short by the deadline after earlier polls answered: the source is up, just behind.
    if (r === TIMED_OUT)
      throw timedOut(
        index && !lastError
          ? behind(index)
          : `the ${source} did not answer in time${lastError ? ` (last error: ${lastError})` : ''}`,
      );
    if (r) {
      index = r;
      const newest = newestEvent(r);
      if (newest !== null && newest >= t) break;
      lastError = '';
    }
    if (Date.now() + 1 >= deadline)
      throw timedOut(
        lastError || !index
          ? `the ${source} did not answer${lastError ? ` (${lastError})` : ''}`
          : behind(index),
      );
    heartbeat({
      doing: 'waiting for the binlog source to reach the snapshot time',
      attempt,
      waitingFor: `an event at or after ${req.snapshotTime}`,
    });
    await pause(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
  }

  const planned = await beforeDeadline(deadline, async () => {
    const replay = await planReplay({
      index: index!,
      backup: { file: backup.file, position: backup.position, gtid: backup.gtid },
      target: { type: 'time', time: req.snapshotTime },
      allowGaps: false,
      nowSeconds: Date.now() / 1000,
      read: archiveReader(files, stagingDir),
      dialect,
    });
    refuseUnsafeStrategy(replay, 'pipe', false);
    return { replay, backupTime: replay.backupTime };
  }).catch((err: Error) => {
    if (err instanceof PlanError) throw failure(err.kind, `${what}: ${err.message}`);
    throw err;
  });
  if (planned === TIMED_OUT) throw timedOut(`reading the binlogs took longer than that`);
  const { replay, backupTime } = planned;
  return {
    replay,
    archive,
    stagingDir,
    backupTime,
    evidence: [
      replay.stopGtid
        ? `${what}: the last transaction before ${req.snapshotTime} is ${replay.stopGtid} (at ${iso(replay.stopTime)}); replay ${replay.files.length} file(s) ${replay.files[0]} … ${replay.files.at(-1)} after the backup's ${backup.gtid || 'start'}`
        : `${what}: no transaction between the backup (${backup.gtid}) and ${req.snapshotTime}: the backup is the snapshot`,
      `${what}: found in the ${source} in ${((Date.now() - started) / 1000).toFixed(1)} s (timeout ${req.timeout})`,
      ...replay.warnings,
    ],
  };
}
