// Vitess point-in-time recovery, the side effects. Two kinds:
// - topology bookkeeping through the Vitess tools, argv only: `vtctlclient -server … CreateKeyspace
//   -keyspace_type=SNAPSHOT …`, `GetKeyspace`, `GetTablet`, `GetVSchema`, `ApplyVSchema`, and `vttablet`
//   to register the recovery tablet of a shard with the procedure's flags;
// - the real work on MariaDB: choosing each shard's backup from the backup storage's MANIFESTs, and
//   finding the GTID for the snapshot time in the shard's binlogs within -pitr_gtid_lookup_timeout.
//   The restore, the shard's mysqld and the binlog replay are the shared activities (backup.ts,
//   mysqld.ts, replay.ts).
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepOutcome } from '../../workflows/kit';
import { binlogTlsIssues, goDuration, type BinlogSource } from '../../workflows/schemas-vitess';
import {
  durationMs,
  type Archive,
  type Dialect,
  type EndpointTls,
  type SecretRef,
} from '../../workflows/schemas';
import { BINLOG_NAME, type ArchiveIndex, type BinlogArchive } from '../archive/archive';
import { FsArchive } from '../archive/archive-fs';
import { refreshIndex } from '../archive/archive-index';
import { archiveReader } from '../archive/archive-read';
import { openArchive, stagingDirFor } from '../archive/archives';
import { inspectBackup, type BackupInfo } from '../mysql/backup';
import { clientOptions } from '../mysql/client-options';
import { CommandError, runCommand } from '../runtime/command';
import { dialectOf } from '../mysql/dialect';
import { Ledger } from '../runtime/ledger';
import { temporaryEndpoint, type TemporaryServerSpec } from '../mysql/mysqld';
import { PlanError, planReplay, refuseUnsafeStrategy, type ReplayPlan } from '../replay/replay-plan';
import { checkSecretsResolve } from '../mysql/preflight';
import { resolveSecret } from '../trust/secrets';
import type { SqlPools } from '../mysql/sql';
import { failure } from '../../workflows/failures';
import { heartbeat, pause } from '../runtime/poll';

// ---------------------------------------------------------------------------------------------------
// Backups: `<file_backup_storage_root>/<keyspace>/<shard>/<name>/` holding a prepared mariadb-backup
// plus the MANIFEST Vitess writes (BackupTime, FinishedTime, Position "MariaDB/0-1-123", …).

/** The fields of a Vitess backup MANIFEST the runbook reads. */
export interface VitessManifest {
  BackupMethod?: string;
  /** `<flavor>/<GTID position>`, e.g. `MariaDB/0-1-123` or `MySQL56/uuid:1-5`. */
  Position: string;
  /** When the backup started (RFC 3339). */
  BackupTime: string;
  /** When it finished: its data is consistent as of then. Older manifests lack it. */
  FinishedTime?: string;
  Keyspace: string;
  Shard: string;
  TabletAlias?: string;
}

export interface BackupCandidate {
  name: string;
  dir: string;
  /** null when there is no readable MANIFEST. */
  manifest: VitessManifest | null;
  /** What the backup directory itself says (prepared, binlog position), or why it is unusable. */
  inspected: { ok: true; info: BackupInfo } | { ok: false; problem: string };
}

export interface ChosenBackup {
  name: string;
  dir: string;
  manifest: VitessManifest;
  info: BackupInfo;
  dialect: Dialect;
  /** The instant the backup's data is consistent as of (FinishedTime, else BackupTime), ISO. */
  consistentAt: string;
}

export interface BackupChoice {
  chosen: ChosenBackup | null;
  /** Every other candidate and why it was not taken. */
  passedOver: { name: string; reason: string }[];
}

export function parseManifest(text: string): VitessManifest | null {
  try {
    const m = JSON.parse(text) as Partial<VitessManifest>;
    if (typeof m !== 'object' || m === null) return null;
    if (typeof m.Position !== 'string' || typeof m.BackupTime !== 'string') return null;
    if (typeof m.Keyspace !== 'string' || typeof m.Shard !== 'string') return null;
    return m as VitessManifest;
  } catch {
    return null;
  }
}

/** `MariaDB/0-1-5` → { dialect, gtid }; null for flavors this runbook cannot restore. */
export function parsePosition(position: string): { dialect: Dialect; gtid: string } | null {
  const m = /^(MariaDB|MySQL56)\/(.*)$/.exec(position.trim());
  if (!m) return null;
  return { dialect: m[1] === 'MariaDB' ? 'mariadb' : 'mysql', gtid: m[2]!.replace(/\s+/g, '') };
}

const sameGtidSet = (a: string, b: string) =>
  a
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort()
    .join(',') ===
  b
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort()
    .join(',');

/**
 * The most recent usable backup of `keyspace/shard` whose data is consistent before the snapshot time.
 * A backup is consistent as of when it *finished* (mariadb-backup takes its binlog position at the
 * end), so one that was still running at the snapshot time is passed over: it may hold later
 * transactions. Usable: a MANIFEST for this keyspace and shard, a prepared directory, and a MANIFEST
 * Position that agrees with the directory's own binlog coordinates.
 */
export function chooseBackup(
  candidates: BackupCandidate[],
  keyspace: string,
  shard: string,
  snapshotTime: string,
): BackupChoice {
  const t = Date.parse(snapshotTime);
  const passedOver: BackupChoice['passedOver'] = [];
  const usable: ChosenBackup[] = [];
  for (const c of candidates) {
    const m = c.manifest;
    const reject = (reason: string) => passedOver.push({ name: c.name, reason });
    if (!m) {
      reject('no readable MANIFEST');
      continue;
    }
    if (m.Keyspace !== keyspace || m.Shard !== shard) {
      reject(`its MANIFEST is for ${m.Keyspace}/${m.Shard}`);
      continue;
    }
    const consistentText = m.FinishedTime ?? m.BackupTime;
    const consistent = Date.parse(consistentText);
    if (!Number.isFinite(consistent)) {
      reject(`MANIFEST time ${JSON.stringify(consistentText)} is not an RFC 3339 time`);
      continue;
    }
    const consistentAt = new Date(consistent).toISOString();
    if (consistent >= t) {
      reject(`${m.FinishedTime ? 'finished' : 'taken'} at ${consistentAt}, not before the snapshot time`);
      continue;
    }
    const pos = parsePosition(m.Position);
    if (!pos) {
      reject(`MANIFEST Position ${JSON.stringify(m.Position)} is neither MariaDB/… nor MySQL56/…`);
      continue;
    }
    if (!c.inspected.ok) {
      reject(c.inspected.problem);
      continue;
    }
    if (!sameGtidSet(pos.gtid, c.inspected.info.gtid)) {
      reject(
        `MANIFEST Position ${m.Position} disagrees with the backup's own binlog position (GTID ${c.inspected.info.gtid || 'none'})`,
      );
      continue;
    }
    usable.push({
      name: c.name,
      dir: c.dir,
      manifest: m,
      info: c.inspected.info,
      dialect: pos.dialect,
      consistentAt,
    });
  }
  usable.sort((a, b) => b.consistentAt.localeCompare(a.consistentAt) || b.name.localeCompare(a.name));
  const [chosen, ...older] = usable;
  for (const o of older) passedOver.push({ name: o.name, reason: `older than ${chosen!.name}` });
  return { chosen: chosen ?? null, passedOver };
}

/** Reads every backup of `keyspace/shard` in the file backup storage (read only). */
export async function listBackupCandidates(
  root: string,
  keyspace: string,
  shard: string,
): Promise<BackupCandidate[]> {
  const shardDir = join(root, keyspace, shard);
  const names = await readdir(shardDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const out: BackupCandidate[] = [];
  for (const name of names.sort()) {
    const dir = join(shardDir, name);
    if (!(await stat(dir).catch(() => null))?.isDirectory()) continue;
    const manifest = parseManifest(await readFile(join(dir, 'MANIFEST'), 'utf8').catch(() => ''));
    const dialect = (manifest && parsePosition(manifest.Position)?.dialect) ?? 'mariadb';
    const inspected = await inspectBackup(dir, dialect).then(
      (info) => ({ ok: true as const, info }),
      (err: Error) => ({ ok: false as const, problem: err.message }),
    );
    out.push({ name, dir, manifest, inspected });
  }
  return out;
}

export interface ChooseBackupsRequest {
  fileBackupStorageRoot: string;
  baseKeyspace: string;
  shards: string[];
  snapshotTime: string;
}

export interface ChooseBackupsResult extends StepOutcome {
  backups: Record<string, ChosenBackup>;
}

/** Procedure step 2, for every shard; refuses (non-retryable) when a shard has no usable backup. */
export async function chooseVitessBackups(req: ChooseBackupsRequest): Promise<ChooseBackupsResult> {
  const backups: Record<string, ChosenBackup> = {};
  const evidence: string[] = [];
  const refusals: string[] = [];
  for (const shard of req.shards) {
    const where = join(req.fileBackupStorageRoot, req.baseKeyspace, shard);
    const candidates = await listBackupCandidates(req.fileBackupStorageRoot, req.baseKeyspace, shard);
    const { chosen, passedOver } = chooseBackup(candidates, req.baseKeyspace, shard, req.snapshotTime);
    const why = passedOver.map((p) => `${p.name}: ${p.reason}`).join('; ');
    if (!chosen) {
      refusals.push(
        candidates.length
          ? `no usable backup of ${req.baseKeyspace}/${shard} earlier than ${req.snapshotTime} in ${where} (${why})`
          : `no backup of ${req.baseKeyspace}/${shard} in ${where}`,
      );
      continue;
    }
    backups[shard] = chosen;
    evidence.push(
      `${req.baseKeyspace}/${shard}: backup ${chosen.name} (consistent at ${chosen.consistentAt}, ${chosen.manifest.Position}, ${chosen.info.file}:${chosen.info.position})` +
        (passedOver.length ? `; passed over ${why}` : ''),
    );
  }
  if (refusals.length)
    throw failure(
      'NoUsableBackup',
      `${refusals.join('; ')}. Choose a later snapshot time, or restore an older backup into the storage first`,
    );
  // Shards in the storage that the input does not restore (e.g. from before a resharding).
  const stored = await readdir(join(req.fileBackupStorageRoot, req.baseKeyspace)).catch(() => [] as string[]);
  const others = stored.filter((s) => !req.shards.includes(s));
  if (others.length)
    evidence.push(
      `the backup storage also holds shard(s) ${others.join(', ')} of ${req.baseKeyspace}, not restored`,
    );
  return { backups, evidence };
}

// ---------------------------------------------------------------------------------------------------
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
      { secrets: client.secrets, signal, progress: () => ({ step: 'find-snapshot-gtids', streaming: from }) },
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
  const beat = setInterval(() => heartbeat({ step: 'find-snapshot-gtids', shard: req.shard }), 2000);
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
      step: 'find-snapshot-gtids',
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

// ---------------------------------------------------------------------------------------------------
// Topology: vtctlclient and vttablet (argv only; never a shell).

export function vtctlclientArgv(server: string, command: string, ...args: string[]): string[] {
  return ['vtctlclient', '-server', server, command, ...args];
}

const NO_NODE = /node doesn't exist/;

/** Runs a vtctlclient command that reads a topology object; null when the object does not exist. */
async function vtctlRead(server: string, command: string, ...args: string[]): Promise<string | null> {
  try {
    return (await runCommand(vtctlclientArgv(server, command, ...args))).stdout;
  } catch (err) {
    if (err instanceof CommandError && NO_NODE.test(err.message)) return null;
    throw err;
  }
}

export interface KeyspaceInfo {
  type: 'NORMAL' | 'SNAPSHOT';
  baseKeyspace: string | null;
  /** RFC 3339 UTC, to the second. */
  snapshotTime: string | null;
}

/** GetKeyspace's JSON (protojson of topodata.Keyspace: enum by name or number, Time as seconds). */
export function parseKeyspace(json: string): KeyspaceInfo {
  const k = JSON.parse(json) as {
    keyspace_type?: string | number;
    base_keyspace?: string;
    snapshot_time?: { seconds?: string | number } | null;
  };
  const snapshot = k.keyspace_type === 'SNAPSHOT' || k.keyspace_type === 1;
  const seconds = k.snapshot_time?.seconds;
  return {
    type: snapshot ? 'SNAPSHOT' : 'NORMAL',
    baseKeyspace: k.base_keyspace || null,
    snapshotTime:
      seconds === undefined ? null : new Date(Number(seconds) * 1000).toISOString().replace('.000Z', 'Z'),
  };
}

/** GetTablet's JSON: the keyspace and shard a tablet belongs to. */
export function parseTablet(json: string): { keyspace: string; shard: string } {
  const t = JSON.parse(json) as { keyspace?: string; shard?: string };
  return { keyspace: t.keyspace ?? '', shard: t.shard ?? '' };
}

export interface KeyspaceRequest {
  recoveryId: string;
  server: string;
  baseKeyspace: string;
  snapshotKeyspace: string;
  snapshotTime: string;
  /** Where this recovery's topology checkpoint lives on the vtctlclient host. */
  ledgerDir: string;
  tablets: { alias: string; shard: string }[];
}

const ledgerOf = (dir: string) => new Ledger(dir);

/** Is the existing snapshot keyspace the one this recovery created (its ledger says so, and it matches)? */
async function ours(req: KeyspaceRequest, k: KeyspaceInfo): Promise<string | null> {
  const all = await ledgerOf(req.ledgerDir).readAll(req.recoveryId);
  const mark = all['create-snapshot-keyspace'] ?? all['create-snapshot-keyspace-started'];
  const same =
    k.type === 'SNAPSHOT' && k.baseKeyspace === req.baseKeyspace && k.snapshotTime === req.snapshotTime;
  return mark && same ? mark.at : null;
}

function describeKeyspace(k: KeyspaceInfo): string {
  return k.type === 'SNAPSHOT' ? `SNAPSHOT of ${k.baseKeyspace} at ${k.snapshotTime}` : 'a NORMAL keyspace';
}

/** Read only: the base keyspace exists; the snapshot keyspace and the recovery tablets do not (or are ours). */
export async function checkVitessTopology(req: KeyspaceRequest): Promise<StepOutcome> {
  const evidence: string[] = [];
  const base = await vtctlRead(req.server, 'GetKeyspace', req.baseKeyspace);
  if (base === null)
    throw failure(
      'NoBaseKeyspace',
      `base keyspace ${req.baseKeyspace} does not exist in the topology of vtctld ${req.server}`,
    );
  evidence.push(`base keyspace ${req.baseKeyspace}: ${describeKeyspace(parseKeyspace(base))}`);
  const snap = await vtctlRead(req.server, 'GetKeyspace', req.snapshotKeyspace);
  if (snap !== null) {
    const k = parseKeyspace(snap);
    const at = await ours(req, k);
    if (!at)
      throw failure(
        'KeyspaceExists',
        `snapshot keyspace ${req.snapshotKeyspace} already exists (${describeKeyspace(k)}); CreateKeyspace would fail with "node already exists". ` +
          `Choose another snapshot keyspace name, or remove it first (vtctlclient DeleteKeyspace -recursive ${req.snapshotKeyspace})`,
      );
    evidence.push(`snapshot keyspace ${req.snapshotKeyspace} was created by this recovery at ${at}`);
  } else evidence.push(`snapshot keyspace ${req.snapshotKeyspace} does not exist yet`);
  for (const t of req.tablets) {
    const tablet = await vtctlRead(req.server, 'GetTablet', t.alias);
    if (tablet === null) continue;
    const p = parseTablet(tablet);
    if (p.keyspace !== req.snapshotKeyspace || p.shard !== t.shard)
      throw failure(
        'TabletExists',
        `tablet ${t.alias} already exists (keyspace ${p.keyspace}, shard ${p.shard}): choose another tabletUid for shard ${t.shard}`,
      );
    evidence.push(`tablet ${t.alias} is already registered for ${req.snapshotKeyspace}/${t.shard}`);
  }
  return { evidence };
}

/** Procedure step 1: `CreateKeyspace -keyspace_type=SNAPSHOT`. Intent, act, then the checkpoint. */
export async function createSnapshotKeyspace(req: KeyspaceRequest): Promise<StepOutcome> {
  const ledger = ledgerOf(req.ledgerDir);
  const existing = await vtctlRead(req.server, 'GetKeyspace', req.snapshotKeyspace);
  if (existing !== null) {
    const k = parseKeyspace(existing);
    const at = await ours(req, k);
    if (!at)
      throw failure(
        'KeyspaceExists',
        `snapshot keyspace ${req.snapshotKeyspace} already exists (${describeKeyspace(k)}), created by someone else`,
      );
    await ledger.write(req.recoveryId, 'create-snapshot-keyspace', { keyspace: req.snapshotKeyspace });
    return {
      skipped: true,
      evidence: [`${req.snapshotKeyspace} (${describeKeyspace(k)}) was created by this recovery at ${at}`],
    };
  }
  // The intent goes in first, so a retry after a crash right after CreateKeyspace recognises its own keyspace.
  await ledger.write(req.recoveryId, 'create-snapshot-keyspace-started', { keyspace: req.snapshotKeyspace });
  const argv = vtctlclientArgv(
    req.server,
    'CreateKeyspace',
    '-keyspace_type=SNAPSHOT',
    `-base_keyspace=${req.baseKeyspace}`,
    `-snapshot_time=${req.snapshotTime}`,
    req.snapshotKeyspace,
  );
  await runCommand(argv);
  await ledger.write(req.recoveryId, 'create-snapshot-keyspace', { keyspace: req.snapshotKeyspace });
  return { evidence: [argv.join(' ')] };
}

export interface VSchemaRequest {
  server: string;
  baseKeyspace: string;
  snapshotKeyspace: string;
  /** The input's vschema, replacing the base keyspace's. */
  override?: Record<string, unknown>;
}

/** JSON with sorted keys: two vschemas are the same when their canonical texts are. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** The snapshot keyspace's vschema: the base's (or the input's), always with require_explicit_routing. */
export function snapshotVSchema(
  base: Record<string, unknown>,
  override?: Record<string, unknown>,
): Record<string, unknown> {
  return { ...(override ?? base), require_explicit_routing: true };
}

/** Procedure step 6. CreateKeyspace may already have copied it: then only checked. */
export async function copySnapshotVSchema(
  req: VSchemaRequest,
): Promise<StepOutcome & { vschema: Record<string, unknown>; from: 'base' | 'input' }> {
  const baseText = await vtctlRead(req.server, 'GetVSchema', req.baseKeyspace);
  const base = baseText === null ? {} : (JSON.parse(baseText) as Record<string, unknown>);
  const want = snapshotVSchema(base, req.override);
  const from = req.override ? 'input' : 'base';
  const nowText = await vtctlRead(req.server, 'GetVSchema', req.snapshotKeyspace);
  const what = from === 'input' ? "the input's vschema" : `${req.baseKeyspace}'s vschema`;
  if (nowText !== null && canonicalJson(JSON.parse(nowText)) === canonicalJson(want))
    return {
      skipped: true,
      vschema: want,
      from,
      evidence: [`${req.snapshotKeyspace} already has ${what} with require_explicit_routing=true`],
    };
  await runCommand(
    vtctlclientArgv(req.server, 'ApplyVSchema', `-vschema=${JSON.stringify(want)}`, req.snapshotKeyspace),
  );
  return {
    vschema: want,
    from,
    evidence: [`applied ${what} to ${req.snapshotKeyspace} with require_explicit_routing=true`],
  };
}

/** The recovery tablet of one shard, with the procedure's vttablet flags. */
export interface TabletSpec {
  alias: string;
  snapshotKeyspace: string;
  shard: string;
  dbName: string;
  /** The restored mysqld's socket (-db_socket). */
  socket: string;
  fileBackupStorageRoot: string;
  binlog: { host: string; port: number; user: string; password?: SecretRef; tls?: EndpointTls };
  pitrGtidLookupTimeout: string;
}

/** A binlog source vttablet would reach in clear (no CA, TLS not disabled on loopback) is refused. */
function refuseClearBinlogSource(source: { tls?: EndpointTls }, what: string): void {
  const issues = binlogTlsIssues({ shards: [{ binlogSource: source }] });
  if (issues.length)
    throw failure('InvalidInput', `${what}: ${issues[0]!.replace(/^shards\.0\./, '')}; nothing was done`);
}

/** vttablet's argv. The binlog password is never on it (argv is world-readable): see VT_BINLOG_PASSWORD. */
export function vttabletArgv(t: TabletSpec): string[] {
  return [
    'vttablet',
    '-tablet-path',
    t.alias,
    '-init_keyspace',
    t.snapshotKeyspace,
    '-init_shard',
    t.shard,
    '-init_tablet_type',
    'replica',
    '-init_db_name_override',
    t.dbName,
    '-db_socket',
    t.socket,
    '-restore_from_backup',
    '-backup_storage_implementation',
    'file',
    '-file_backup_storage_root',
    t.fileBackupStorageRoot,
    '-binlog_host',
    t.binlog.host,
    '-binlog_port',
    String(t.binlog.port),
    '-binlog_user',
    t.binlog.user,
    // vttablet connects in clear unless given a CA: the schema makes `verify` carry one.
    ...(t.binlog.tls?.mode !== 'disabled' && t.binlog.tls?.ca ? ['-binlog_ssl_ca', t.binlog.tls.ca] : []),
    ...(t.binlog.tls?.mode !== 'disabled' && t.binlog.tls?.serverName
      ? ['-binlog_ssl_server_name', t.binlog.tls.serverName]
      : []),
    '-pitr_gtid_lookup_timeout',
    goDuration(t.pitrGtidLookupTimeout),
  ];
}

/**
 * Registers the shard's recovery tablet (check-then-act: skipped when it already is, for this shard).
 * Its -db_socket is the private socket of the mysqld the runbook starts on the restored datadir.
 */
export async function registerVitessTablet(
  server: string,
  spec: Omit<TabletSpec, 'socket'>,
  mysqld: TemporaryServerSpec,
): Promise<StepOutcome> {
  const t: TabletSpec = { ...spec, socket: temporaryEndpoint(mysqld).socket! };
  refuseClearBinlogSource(t.binlog, t.alias);
  const existing = await vtctlRead(server, 'GetTablet', t.alias);
  if (existing !== null) {
    const p = parseTablet(existing);
    if (p.keyspace === t.snapshotKeyspace && p.shard === t.shard)
      return {
        skipped: true,
        evidence: [`tablet ${t.alias} is already registered for ${p.keyspace}/${p.shard}`],
      };
    throw failure(
      'TabletExists',
      `tablet ${t.alias} already exists for ${p.keyspace}/${p.shard}, not ${t.snapshotKeyspace}/${t.shard}`,
    );
  }
  // The password by reference: resolved here, handed over in the environment, never in argv or history.
  const password = await resolveSecret(t.binlog.password);
  const argv = vttabletArgv(t);
  await runCommand(argv, {
    env: password === undefined ? {} : { VT_BINLOG_PASSWORD: password },
    secrets: [password],
  });
  return {
    evidence: [
      `${argv.join(' ')}${password === undefined ? '' : ' (binlog password from its reference, in VT_BINLOG_PASSWORD)'}`,
    ],
  };
}

export function vitessActivities(_sql: SqlPools) {
  return {
    checkVitessTopology,
    chooseVitessBackups,
    findSnapshotGtid,
    createSnapshotKeyspace,
    copySnapshotVSchema,
    registerVitessTablet,
  };
}
