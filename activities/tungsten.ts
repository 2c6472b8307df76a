// Tungsten Replicator's tools for tungstenExternalRestore: trepctl (replicator state), thl (the
// Transaction History Log) and dsctl (the replicator's position in trep_commit_seqno). Commands are
// argv arrays, never a shell; every value read from a tool's output (event ids, source ids, seqnos)
// is parsed strictly and refused when malformed, before it reaches another tool or SQL.
// The parsers and formatters at the top are pure (unit-tested); the activities follow.
import { ApplicationFailure } from '@temporalio/activity';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { durationMs, type Cluster, type Dialect, type Endpoint } from '../workflows/schemas';
import { TUNGSTEN_SERVICE } from '../workflows/schemas-tungsten';
import type { StepOutcome } from '../workflows/kit';
import { inspectBackup, type BackupInfo } from './backup';
import { pauseCluster } from './cluster';
import { CommandError, runCommand } from './command';
import { Ledger } from './ledger';
import { waitUntil } from './processes';
import type { SqlPools } from './sql';
import { quoteIdent } from './verify';

// ---------------------------------------------------------------------------------------------
// Event ids: `<binlog file>:<offset, zero-padded to 16 digits>[;<session id>]`,
// e.g. `mysql-bin.000032:0000000473863524;-1`. The offset is where the transaction ends.

export interface EventId {
  file: string;
  offset: number;
  /** The `;N` suffix (a session id, -1 when unknown); absent in `thl dsctl` output. */
  session?: number;
}

const EVENT_ID = /^([A-Za-z0-9_.-]{1,200}\.\d{6,}):(\d{1,16})(?:;(-?\d{1,10}))?$/;

/** Parses an event id exactly; anything else (quotes, spaces, `;` payloads, newlines) is refused. */
export function parseEventId(text: string): EventId {
  const m = EVENT_ID.exec(text);
  if (!m)
    throw new Error(
      `not a Tungsten event id: ${JSON.stringify(text.slice(0, 200))} (expected <binlog file>:<offset>[;<session>], e.g. mysql-bin.000032:0000000473863524;-1)`,
    );
  const offset = Number(m[2]);
  if (!Number.isSafeInteger(offset)) throw new Error(`event id offset out of range: ${m[2]}`);
  return m[3] === undefined ? { file: m[1]!, offset } : { file: m[1]!, offset, session: Number(m[3]) };
}

/** Formats an event id the way Tungsten writes it: the offset zero-padded to 16 digits. */
export function formatEventId(e: EventId): string {
  if (!Number.isSafeInteger(e.offset) || e.offset < 0) throw new Error(`bad event id offset ${e.offset}`);
  const id = `${e.file}:${String(e.offset).padStart(16, '0')}`;
  return e.session === undefined ? id : `${id};${e.session}`;
}

/** The `-event` argument for a binlog position (what the procedure passes to `thl list` and `thl dsctl`). */
export function positionEventId(file: string, position: number): string {
  return formatEventId({ file, offset: position });
}

export function samePosition(e: EventId, p: { file: string; position: number }): boolean {
  return e.file === p.file && e.offset === p.position;
}

/** A source id is a host name (`db1-east.continuent.com`): nothing that could carry quotes or spaces. */
const SOURCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export function checkSourceId(text: string): string {
  if (!SOURCE_ID.test(text))
    throw new Error(`not a Tungsten source id (a host name): ${JSON.stringify(text.slice(0, 200))}`);
  return text;
}

const SEQNO = /^\d{1,15}$/;
function seqnoOf(text: string, what: string): number {
  if (!SEQNO.test(text)) throw new Error(`${what} is not a sequence number: ${JSON.stringify(text)}`);
  return Number(text);
}

// ---------------------------------------------------------------------------------------------
// `thl list -event <id> -headers`:
//   SEQ# = 7748 / FRAG# = 0 (last frag)
//   - FILE = thl.data.0000000010
//   - TIME = 2014-10-17 16:58:11.0
//   - EPOCH# = 0
//   - EVENTID = mysql-bin.000032:0000000473863524;-1
//   - SOURCEID = db1-east.continuent.com

export interface ThlEvent {
  seqno: number;
  epoch: number;
  /** The event id as the THL holds it, re-formatted from its parsed form. */
  eventId: string;
  sourceId: string;
  fragments: number;
  thlFile?: string;
  time?: string;
}

const THL_HEADER = /^SEQ# = (\d{1,15}) \/ FRAG# = (\d{1,9})( \(last frag\))?$/;
const THL_FIELD = /^- ([A-Z][A-Z#]*) = (.*)$/;

/**
 * Parses the headers of ONE transaction (one or more fragments of the same seqno). Refused: no
 * event, two different events, a fragment without its last, a repeated field, an unknown line shape,
 * a malformed seqno/epoch/event id/source id.
 */
export function parseThlHeaders(stdout: string): ThlEvent {
  const frags: { seqno: number; frag: number; last: boolean; fields: Map<string, string> }[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) continue;
    const h = THL_HEADER.exec(line);
    if (h) {
      frags.push({ seqno: Number(h[1]), frag: Number(h[2]), last: !!h[3], fields: new Map() });
      continue;
    }
    const f = THL_FIELD.exec(line);
    const cur = frags.at(-1);
    if (!f || !cur) throw new Error(`unexpected line in thl output: ${JSON.stringify(line.slice(0, 200))}`);
    if (cur.fields.has(f[1]!))
      throw new Error(`thl output repeats ${f[1]} for SEQ# ${cur.seqno}: refusing to guess which is meant`);
    cur.fields.set(f[1]!, f[2]!);
  }
  const first = frags[0];
  if (!first) throw new Error('thl printed no event');
  const field = (fr: (typeof frags)[number], k: string) => {
    const v = fr.fields.get(k);
    if (v === undefined) throw new Error(`thl output has no ${k} for SEQ# ${fr.seqno}`);
    return v;
  };
  const event: ThlEvent = {
    seqno: first.seqno,
    epoch: seqnoOf(field(first, 'EPOCH#'), 'EPOCH#'),
    eventId: formatEventId(parseEventId(field(first, 'EVENTID'))),
    sourceId: checkSourceId(field(first, 'SOURCEID')),
    fragments: frags.length,
    thlFile: first.fields.get('FILE'),
    time: first.fields.get('TIME'),
  };
  const other = frags.find((fr) => fr.seqno !== event.seqno);
  if (other)
    throw new Error(`thl printed more than one transaction (SEQ# ${event.seqno} and ${other.seqno})`);
  frags.forEach((fr, i) => {
    if (fr.frag !== i) throw new Error(`thl printed fragments out of order for SEQ# ${fr.seqno}`);
    if (fr.last !== (i === frags.length - 1))
      throw new Error(`thl printed an incomplete transaction for SEQ# ${fr.seqno} (last fragment missing)`);
    if (
      i > 0 &&
      (seqnoOf(field(fr, 'EPOCH#'), 'EPOCH#') !== event.epoch ||
        formatEventId(parseEventId(field(fr, 'EVENTID'))) !== event.eventId ||
        checkSourceId(field(fr, 'SOURCEID')) !== event.sourceId)
    )
      throw new Error(`the fragments of SEQ# ${fr.seqno} disagree on epoch, event id or source id`);
  });
  return event;
}

// `thl dsctl -event <id>` prints the dsctl command that positions a replicator there:
//   dsctl -service alpha set -reset -seqno 7748 -epoch 0 -event-id "mysql-bin.000032:0000000473863524" -source-id "db1-east.continuent.com"
const THL_DSCTL =
  /^dsctl -service ([A-Za-z0-9_]{1,64}) set -reset -seqno (\d{1,15}) -epoch (\d{1,15}) -event-id "([^"]*)" -source-id "([^"]*)"$/;

export function parseThlDsctl(stdout: string, service: string): ThlEvent {
  const lines = stdout.split('\n').filter((l) => l.trim());
  if (lines.length !== 1)
    throw new Error(`thl dsctl printed ${lines.length} lines; expected exactly one dsctl command`);
  const m = THL_DSCTL.exec(lines[0]!.trim());
  if (!m) throw new Error(`unexpected thl dsctl output: ${JSON.stringify(lines[0]!.slice(0, 300))}`);
  if (m[1] !== service) throw new Error(`thl dsctl answered for service ${m[1]}, not ${service}`);
  return {
    seqno: Number(m[2]),
    epoch: Number(m[3]),
    eventId: formatEventId(parseEventId(m[4]!)),
    sourceId: checkSourceId(m[5]!),
    fragments: 1,
  };
}

/** The argv of step 4's `dsctl -service <svc> set -reset -seqno N -epoch E -source-id S -event-id ID`. */
export function dsctlSetArgv(dsctl: string, service: string, e: ThlEvent): string[] {
  checkService(service);
  return [
    dsctl,
    '-service',
    service,
    'set',
    '-reset',
    '-seqno',
    String(e.seqno),
    '-epoch',
    String(e.epoch),
    '-source-id',
    checkSourceId(e.sourceId),
    '-event-id',
    formatEventId(parseEventId(e.eventId)),
  ];
}

// ---------------------------------------------------------------------------------------------
// `trepctl -service <svc> status`: `name : value` lines between "Processing status command..." and
// "Finished status command...".

export interface ReplicatorStatus {
  serviceName: string;
  state: string;
  role: string;
  appliedLastSeqno: number;
  appliedLastEventId: string;
  minimumStoredSeqNo: number;
  maximumStoredSeqNo: number;
  pendingError: string;
  pendingErrorSeqno: number;
}

export function parseTrepctlStatus(stdout: string): ReplicatorStatus {
  const fields = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^([A-Za-z][A-Za-z0-9]*)\s*:\s?(.*)$/.exec(line.replace(/\r$/, ''));
    if (m) fields.set(m[1]!, m[2]!.trim());
  }
  const num = (k: string) => {
    const v = fields.get(k);
    return v !== undefined && /^-?\d{1,15}$/.test(v) ? Number(v) : -1;
  };
  const serviceName = fields.get('serviceName');
  const state = fields.get('state');
  if (!serviceName || !state) throw new Error('trepctl status printed no serviceName/state');
  return {
    serviceName,
    state,
    role: fields.get('role') ?? 'unknown',
    appliedLastSeqno: num('appliedLastSeqno'),
    appliedLastEventId: fields.get('appliedLastEventId') ?? 'NONE',
    minimumStoredSeqNo: num('minimumStoredSeqNo'),
    maximumStoredSeqNo: num('maximumStoredSeqNo'),
    pendingError: fields.get('pendingError') ?? 'NONE',
    pendingErrorSeqno: num('pendingErrorSeqno'),
  };
}

/** `thl info`: `min seq# = N`, `max seq# = N`, `events = N` (-1 / 0 when the log is empty). */
export function parseThlInfo(stdout: string): { minSeqno: number; maxSeqno: number; events: number } {
  const get = (k: string) => {
    const m = new RegExp(`^${k.replace(/[#]/g, '\\#')}\\s*=\\s*(-?\\d{1,15})\\s*$`, 'm').exec(stdout);
    if (!m) throw new Error(`thl info printed no "${k}"`);
    return Number(m[1]);
  };
  return { minSeqno: get('min seq#'), maxSeqno: get('max seq#'), events: get('events') };
}

// ---------------------------------------------------------------------------------------------
// Activities.

export interface TungstenService {
  service: string;
  /** Directory of trepctl/thl/dsctl; default: PATH. */
  bin?: string;
}

function checkService(service: string): string {
  if (!TUNGSTEN_SERVICE.test(service))
    throw ApplicationFailure.nonRetryable(
      `invalid Tungsten service name ${JSON.stringify(service)}`,
      'InvalidInput',
    );
  return service;
}

function tool(t: TungstenService, name: 'trepctl' | 'thl' | 'dsctl'): string {
  return t.bin ? join(t.bin, name) : name;
}

function commandMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function replicatorStatus(t: TungstenService): Promise<ReplicatorStatus> {
  const { stdout } = await runCommand([tool(t, 'trepctl'), '-service', checkService(t.service), 'status']);
  const s = parseTrepctlStatus(stdout);
  if (s.serviceName !== t.service)
    throw new Error(`trepctl answered for service ${s.serviceName}, not ${t.service}`);
  return s;
}

export interface ReplicaPlanRequest extends TungstenService {
  backupDir: string;
  tool?: string;
  dialect: Dialect;
}

/**
 * Plan, on the Replica's host (reads only): the replicator knows the service; the backup is
 * prepared, has its binlog position, and holds the tungsten_<svc> schema the procedure requires.
 */
export async function inspectTungstenReplica(
  req: ReplicaPlanRequest,
): Promise<{ backup: BackupInfo; replicator: ReplicatorStatus; evidence: string[] }> {
  let replicator: ReplicatorStatus;
  try {
    replicator = await replicatorStatus(req);
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    throw ApplicationFailure.nonRetryable(
      `the replication service "${req.service}" is not known to trepctl on this host (${commandMessage(err)}); check the service name (trepctl services) and that the replicator is running`,
      'UnknownService',
    );
  }
  const backup = await inspectBackup(req.backupDir, req.dialect, req.tool);
  const schema = join(backup.dir, `tungsten_${req.service}`);
  const table = await Promise.all(
    ['trep_commit_seqno.ibd', 'trep_commit_seqno.frm'].map((f) => stat(join(schema, f)).catch(() => null)),
  );
  if (!table.some(Boolean))
    throw ApplicationFailure.nonRetryable(
      `backup ${backup.dir} does not contain tungsten_${req.service}.trep_commit_seqno: the Tungsten schema must be part of the backup, or the replicator cannot restart at the right point (see "Creating an External Backup")`,
      'BadBackup',
    );
  return {
    backup,
    replicator,
    evidence: [
      `replicator ${req.service}: ${replicator.state}, role ${replicator.role}, applied seqno ${replicator.appliedLastSeqno}`,
      `backup ${backup.dir} at ${backup.file}:${backup.position}, with tungsten_${req.service}.trep_commit_seqno`,
    ],
  };
}

export interface PrimaryThlRequest extends TungstenService {
  /** The backup's binlog position; null when no seqno is needed (a backup of a Replica). */
  position: { file: string; position: number } | null;
  lookup: 'list' | 'dsctl';
}

/**
 * Plan, on the Primary's host (reads only): the newest seqno of its THL and, for a backup of the
 * Primary, the THL event that ends at the backup's binlog position (its seqno, epoch, event id and
 * source id: the arguments of step 4's `dsctl set`). Not found → refused before anything is touched.
 */
export async function inspectPrimaryThl(
  req: PrimaryThlRequest,
): Promise<{ event: ThlEvent | null; newestSeqno: number; evidence: string[] }> {
  const thl = tool(req, 'thl');
  const svc = checkService(req.service);
  const info = await runCommand([thl, '-service', svc, 'info']).then(
    (r) => parseThlInfo(r.stdout),
    (err: unknown) => {
      throw ApplicationFailure.nonRetryable(
        `cannot read the Primary's THL for service "${svc}": ${commandMessage(err)}`,
        'UnknownService',
      );
    },
  );
  const evidence = [`Primary THL ${svc}: seqno ${info.minSeqno}–${info.maxSeqno} (${info.events} events)`];
  if (!req.position) return { event: null, newestSeqno: info.maxSeqno, evidence };

  const at = positionEventId(req.position.file, req.position.position);
  const argv =
    req.lookup === 'list'
      ? [thl, '-service', svc, 'list', '-event', at, '-headers']
      : [thl, '-service', svc, 'dsctl', '-event', at];
  const notFound = (why: string) =>
    ApplicationFailure.nonRetryable(
      `no seqno for the backup's binlog position ${at}: the Primary's THL (service ${svc}, seqno ${info.minSeqno}–${info.maxSeqno}) ${why}. ` +
        'The Replica could not resume from this backup; restore a backup whose position the THL still holds (or one taken on a Replica).',
      'SeqnoNotFound',
    );
  let stdout: string;
  try {
    ({ stdout } = await runCommand(argv));
  } catch (err) {
    if (err instanceof CommandError && err.exitCode !== undefined)
      throw notFound(`has no such event (${err.message})`);
    throw err;
  }
  if (!stdout.trim()) throw notFound('has no such event');
  let event: ThlEvent;
  try {
    event = req.lookup === 'list' ? parseThlHeaders(stdout) : parseThlDsctl(stdout, svc);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(
      `refusing the answer of \`thl ${req.lookup} -event ${at}\`: ${commandMessage(err)}`,
      'BadToolOutput',
    );
  }
  if (!samePosition(parseEventId(event.eventId), req.position))
    throw ApplicationFailure.nonRetryable(
      `thl answered for ${event.eventId}, not for the backup's position ${at}`,
      'BadToolOutput',
    );
  evidence.push(
    `the backup's position ${at} is seqno ${event.seqno} (epoch ${event.epoch}, event id ${event.eventId}, source ${event.sourceId})`,
  );
  return { event, newestSeqno: info.maxSeqno, evidence };
}

export interface ReplicaStepRequest extends TungstenService {
  recoveryId: string;
  /** The Replica's datadir: the checkpoint ledger lives beside it. */
  datadir: string;
}

/** Step 1: `trepctl -service <svc> offline`. */
export async function replicatorOffline(req: ReplicaStepRequest): Promise<StepOutcome> {
  const ledger = Ledger.besideDatadir(req.datadir);
  const online = await ledger.read(req.recoveryId, 'replicator-online');
  if (online)
    return {
      skipped: true,
      evidence: [`this recovery already brought ${req.service} back online at ${online.at}`],
    };
  const before = await replicatorStatus(req);
  if (before.state.startsWith('OFFLINE'))
    return { skipped: true, evidence: [`replicator ${req.service} is already ${before.state}`] };
  await runCommand([tool(req, 'trepctl'), '-service', req.service, 'offline']);
  const after = await replicatorStatus(req);
  if (!after.state.startsWith('OFFLINE'))
    throw new Error(`replicator ${req.service} is still ${after.state} after trepctl offline`);
  return {
    evidence: [
      `replicator ${req.service}: ${before.state} → ${after.state} at applied seqno ${after.appliedLastSeqno}`,
    ],
  };
}

/** Step 2: `thl -service <svc> purge -y` on the Replica (its local THL only). */
export async function purgeThl(req: ReplicaStepRequest): Promise<StepOutcome> {
  const ledger = Ledger.besideDatadir(req.datadir);
  const done = await ledger.read(req.recoveryId, 'purge-thl');
  if (done) return { skipped: true, evidence: [`THL purged by this recovery at ${done.at}`] };
  const s = await replicatorStatus(req);
  if (!s.state.startsWith('OFFLINE'))
    throw ApplicationFailure.nonRetryable(
      `refusing to purge the THL of ${req.service}: the replicator is ${s.state} (it must be offline)`,
      'ReplicatorOnline',
    );
  if (s.minimumStoredSeqNo === -1 && s.maximumStoredSeqNo === -1) {
    await ledger.write(req.recoveryId, 'purge-thl', { purged: 'empty' });
    return { skipped: true, evidence: [`the THL of ${req.service} is already empty`] };
  }
  await runCommand([tool(req, 'thl'), '-service', req.service, 'purge', '-y']);
  const after = await replicatorStatus(req);
  if (after.maximumStoredSeqNo !== -1)
    throw new Error(
      `the THL of ${req.service} still holds seqno up to ${after.maximumStoredSeqNo} after purge`,
    );
  await ledger.write(req.recoveryId, 'purge-thl', {
    purged: `${s.minimumStoredSeqNo}-${s.maximumStoredSeqNo}`,
  });
  return { evidence: [`purged THL seqno ${s.minimumStoredSeqNo}–${s.maximumStoredSeqNo}`] };
}

/** Step 3 (before the copy-back): stop the Replica's server, unless this backup was already restored. */
export async function stopDatabaseForRestore(req: {
  recoveryId: string;
  backupId: string;
  datadir: string;
  cluster: Cluster;
}): Promise<StepOutcome> {
  const done = await Ledger.besideDatadir(req.datadir).read(req.recoveryId, 'restore-backup');
  if (done?.backupId === req.backupId)
    return {
      skipped: true,
      evidence: [
        `backup ${req.backupId} was already restored at ${done.at}; the server is not stopped again`,
      ],
    };
  return pauseCluster(req.cluster);
}

export interface CommitSeqnoRow {
  seqno: number;
  epoch: number;
  sourceId: string;
  eventId: string;
}

async function readCommitSeqno(sql: SqlPools, e: Endpoint, service: string): Promise<CommitSeqnoRow[]> {
  const table = `${quoteIdent(`tungsten_${checkService(service)}`)}.trep_commit_seqno`;
  const rows = await sql.query(
    e,
    `SELECT seqno, epoch_number AS epoch, source_id AS sourceId, eventid AS eventId FROM ${table} ORDER BY seqno`,
  );
  return rows.map((r) => ({
    seqno: Number(r.seqno),
    epoch: Number(r.epoch),
    sourceId: String(r.sourceId ?? ''),
    eventId: String(r.eventId ?? ''),
  }));
}

function describeRow(r: CommitSeqnoRow): string {
  return `seqno ${r.seqno} epoch ${r.epoch} event ${r.eventId} source ${r.sourceId}`;
}

export interface ResetRequest extends ReplicaStepRequest {
  connection: Endpoint;
  backup: { id: string; file: string; position: number };
  /** The THL event at the backup's position (null for a backup of a Replica: nothing to reset). */
  event: ThlEvent | null;
}

/**
 * Step 4: compare trep_commit_seqno of the restored data with the backup's binlog position; when
 * they differ, `dsctl set -reset` to the THL event of the backup's position, then read it back.
 */
export async function resetCommitSeqno(
  sql: SqlPools,
  req: ResetRequest,
): Promise<StepOutcome & { before: CommitSeqnoRow[]; after: CommitSeqnoRow[] }> {
  const ledger = Ledger.besideDatadir(req.datadir);
  const restored = await ledger.read(req.recoveryId, 'restore-backup');
  const done = await ledger.read(req.recoveryId, 'reset-commit-seqno');
  let before: CommitSeqnoRow[];
  try {
    before = await readCommitSeqno(sql, req.connection, req.service);
  } catch (err) {
    if (/ER_NO_SUCH_TABLE|ER_BAD_DB_ERROR|doesn't exist|Unknown database/.test(commandMessage(err)))
      throw ApplicationFailure.nonRetryable(
        `the restored data has no tungsten_${req.service}.trep_commit_seqno: the backup must include the Tungsten schema`,
        'BadBackup',
      );
    throw err;
  }
  if (done && done.backupId === req.backup.id && done.restoredAt === restored?.at)
    return {
      skipped: true,
      evidence: [
        `reset by this recovery at ${done.at} (seqno ${String(done.seqno)}); now ${before.map(describeRow).join('; ')}`,
      ],
      before,
      after: before,
    };
  const at = `${req.backup.file}:${req.backup.position}`;
  const row = before.length === 1 ? before[0]! : null;
  const rowPos = (() => {
    try {
      return row ? parseEventId(row.eventId) : null;
    } catch {
      return null;
    }
  })();
  const evidence = [
    before.length ? `trep_commit_seqno: ${before.map(describeRow).join('; ')}` : 'trep_commit_seqno is empty',
    `backup position ${at}`,
  ];
  if (!req.event) {
    return {
      skipped: true,
      evidence: [
        ...evidence,
        'backup taken on a Replica: trep_commit_seqno matches its data, nothing to reset',
      ],
      before,
      after: before,
    };
  }
  if (
    row &&
    rowPos &&
    samePosition(rowPos, req.backup) &&
    row.seqno === req.event.seqno &&
    row.epoch === req.event.epoch
  ) {
    await ledger.write(req.recoveryId, 'reset-commit-seqno', {
      backupId: req.backup.id,
      restoredAt: restored?.at,
      seqno: row.seqno,
    });
    return {
      skipped: true,
      evidence: [...evidence, 'trep_commit_seqno is already at the backup position: nothing to change'],
      before,
      after: before,
    };
  }
  await runCommand(dsctlSetArgv(tool(req, 'dsctl'), req.service, req.event));
  const after = await readCommitSeqno(sql, req.connection, req.service);
  const a = after.length === 1 ? after[0]! : null;
  if (
    !a ||
    a.seqno !== req.event.seqno ||
    a.epoch !== req.event.epoch ||
    !samePosition(parseEventId(a.eventId), req.backup)
  )
    throw new Error(
      `dsctl set did not take: trep_commit_seqno is ${after.map(describeRow).join('; ') || 'empty'}, expected seqno ${req.event.seqno} epoch ${req.event.epoch} at ${at}`,
    );
  await ledger.write(req.recoveryId, 'reset-commit-seqno', {
    backupId: req.backup.id,
    restoredAt: restored?.at,
    seqno: a.seqno,
  });
  return {
    evidence: [
      ...evidence,
      `dsctl set -reset -seqno ${req.event.seqno} -epoch ${req.event.epoch} -source-id ${req.event.sourceId} -event-id ${req.event.eventId}`,
    ],
    before,
    after,
  };
}

/** Step 5: `trepctl -service <svc> online`. */
export async function replicatorOnline(req: ReplicaStepRequest): Promise<StepOutcome> {
  const before = await replicatorStatus(req);
  const ledger = Ledger.besideDatadir(req.datadir);
  if (before.state === 'ONLINE') {
    await ledger.write(req.recoveryId, 'replicator-online', { seqno: before.appliedLastSeqno });
    return { skipped: true, evidence: [`replicator ${req.service} is already ONLINE`] };
  }
  let failure: unknown = null;
  await runCommand([tool(req, 'trepctl'), '-service', req.service, 'online']).catch((err: unknown) => {
    failure = err;
  });
  const after = await replicatorStatus(req);
  if (after.state.startsWith('OFFLINE:ERROR'))
    throw ApplicationFailure.nonRetryable(
      `replicator ${req.service} could not go online: ${after.pendingError} (seqno ${after.pendingErrorSeqno})`,
      'ReplicatorError',
    );
  if (failure) throw failure as Error;
  await ledger.write(req.recoveryId, 'replicator-online', { seqno: after.appliedLastSeqno });
  return { evidence: [`replicator ${req.service}: ${before.state} → ${after.state}`] };
}

/**
 * Step 5, verified: the replicator reports ONLINE and its applied seqno moves from the reset seqno up
 * to `untilSeqno` (the Primary's newest seqno at plan time). An error state fails at once.
 */
export async function awaitReplicatorOnline(
  req: TungstenService & { fromSeqno: number; untilSeqno: number; timeout: string },
): Promise<StepOutcome & { appliedLastSeqno: number; state: string }> {
  let last: ReplicatorStatus | null = null;
  try {
    await waitUntil(
      `replicator ${req.service} to be ONLINE at seqno ${req.untilSeqno}`,
      async () => {
        last = await replicatorStatus(req);
        if (last.state.startsWith('OFFLINE:ERROR'))
          throw ApplicationFailure.nonRetryable(
            `replicator ${req.service} failed at seqno ${last.pendingErrorSeqno}: ${last.pendingError}`,
            'ReplicatorError',
          );
        return last.state === 'ONLINE' && last.appliedLastSeqno >= req.untilSeqno;
      },
      durationMs(req.timeout),
      500,
    );
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    const l = last as ReplicatorStatus | null;
    throw ApplicationFailure.nonRetryable(
      `${commandMessage(err)}; last seen ${l ? `${l.state} at applied seqno ${l.appliedLastSeqno}` : 'nothing'}`,
      'OnlineTimeout',
    );
  }
  const s = last as unknown as ReplicatorStatus;
  return {
    evidence: [
      `ONLINE; applied seqno ${req.fromSeqno} → ${s.appliedLastSeqno}` +
        (req.untilSeqno > req.fromSeqno
          ? ` (caught up with the Primary's seqno ${req.untilSeqno} at plan time)`
          : ' (the Primary had nothing newer at plan time)'),
    ],
    appliedLastSeqno: s.appliedLastSeqno,
    state: s.state,
  };
}

/** The activities of tungstenExternalRestore, as registered by createActivities. */
export function tungstenActivities(sql: SqlPools) {
  return {
    inspectTungstenReplica: (req: ReplicaPlanRequest) => inspectTungstenReplica(req),
    inspectPrimaryThl: (req: PrimaryThlRequest) => inspectPrimaryThl(req),
    replicatorOffline: (req: ReplicaStepRequest) => replicatorOffline(req),
    purgeThl: (req: ReplicaStepRequest) => purgeThl(req),
    stopDatabaseForRestore: (req: Parameters<typeof stopDatabaseForRestore>[0]) =>
      stopDatabaseForRestore(req),
    resetCommitSeqno: (req: ResetRequest) => resetCommitSeqno(sql, req),
    replicatorOnline: (req: ReplicaStepRequest) => replicatorOnline(req),
    awaitReplicatorOnline: (req: Parameters<typeof awaitReplicatorOnline>[0]) => awaitReplicatorOnline(req),
  };
}
