// Activities of the NDB replication channel failover: the procedure's SQL on the replica SQL node
// (S'), on the secondary channel's source (M'), and on the primary channel's SQL node (S). Values are
// bound, never spliced; channel names are checked strictly before they are quoted into a statement;
// a file name that comes back from mysql.ndb_binlog_index is checked to be a plain binlog file name.
import type { StepOutcome } from '../../workflows/kit';
import { durationMs, type Dialect, type Endpoint, type SecretRef } from '../../workflows/schemas';
import type { FailoverForm, ReplicationConnect } from '../../workflows/schemas-ndb-failover';
import { formatEpoch, parseEpoch } from '../../workflows/epoch';
import { BINLOG_NAME, binlogSequence } from '../archive/archive';
import { dialectOf } from '../mysql/dialect';
import { checkSecretsResolve } from '../mysql/preflight';
import { redact, resolveSecret } from '../trust/secrets';
import { describeEndpoint, type Row, type SqlPools } from '../mysql/sql';
import { failure, type FailureType } from '../../workflows/failures';
import { heartbeat, pause } from '../runtime/poll';

const refuse = (message: string, type: FailureType = 'FailoverRefused') => failure(type, message);

// ---------------------------------------------------------------------------------------------------
// SQL text (pure): channel clauses, the procedure's queries, the status columns of both dialects.

/** The DDL-exists errors that `--slave-skip-errors=ddl_exist_errors` stands for. */
export const DDL_EXIST_ERRORS = [1007, 1008, 1050, 1051, 1054, 1060, 1061, 1068, 1094, 1146] as const;

/** `'ch'` or "the default channel", for messages. */
export const channelName = (channel: string) => (channel ? `'${channel}'` : 'the default channel');

/** The statements of one channel, whole, from the dialect (activities/mysql/dialect.ts). */
export function channelSql(dialect: Dialect, channel: string) {
  const d = dialectOf(dialect);
  return {
    status: d.replicaStatusSql(channel),
    start: d.startReplicaSql(channel),
    stop: d.stopReplicaSql(channel),
    /** Params: host, port, user, password, file, position. */
    change: d.changeSourceSql(channel),
    skipErrors: d.skipErrorsSql,
  };
}

/** Procedure step 1, on the replica. */
export const LATEST_EPOCH_SQL = 'SELECT CAST(MAX(epoch) AS CHAR) AS latest FROM mysql.ndb_apply_status';

/** Procedure step 2, on the secondary source: the epoch is bound (compared as an unsigned 64-bit number). */
export function startPositionSql(form: FailoverForm): string {
  return form === 'epoch-greater'
    ? `SELECT SUBSTRING_INDEX(File, '/', -1) AS file, Position AS position, CAST(epoch AS CHAR) AS epoch
         FROM mysql.ndb_binlog_index WHERE epoch > CAST(? AS UNSIGNED) ORDER BY epoch ASC LIMIT 1`
    : `SELECT SUBSTRING_INDEX(next_file, '/', -1) AS file, next_position AS position, CAST(epoch AS CHAR) AS epoch
         FROM mysql.ndb_binlog_index WHERE epoch = CAST(? AS UNSIGNED) ORDER BY epoch ASC LIMIT 1`;
}

export interface BinlogPosition {
  file: string;
  position: number;
}

export interface ChannelStatus {
  channel: string;
  /** False when the server has no such channel. */
  exists: boolean;
  ioRunning: string;
  sqlRunning: string;
  /** Either thread runs (or tries to): the channel may still fetch or apply. */
  running: boolean;
  sourceHost: string;
  sourcePort: number;
  sourceUser: string;
  sourceServerId: number;
  /** How far the IO thread has read from the source. */
  read: BinlogPosition;
  /** How far the SQL thread has applied, in the source's coordinates. */
  exec: BinlogPosition;
  secondsBehind: number | null;
  lastIoError: string;
  lastSqlError: string;
  /** One line for evidence and messages. */
  description: string;
}

/** Normalizes one row of SHOW SLAVE STATUS (MariaDB) or SHOW REPLICA STATUS (MySQL). */
export function readChannelStatus(
  dialect: Dialect,
  channel: string,
  row: Record<string, unknown> | undefined,
): ChannelStatus {
  const col = (maria: string, my: string): unknown => row?.[dialect === 'mysql' ? my : maria];
  const str = (maria: string, my: string) => String(col(maria, my) ?? '');
  const num = (maria: string, my: string) => Number(col(maria, my) ?? 0) || 0;
  const io = row ? str('Slave_IO_Running', 'Replica_IO_Running') || 'No' : 'No';
  const sqlThread = row ? str('Slave_SQL_Running', 'Replica_SQL_Running') || 'No' : 'No';
  const behind = col('Seconds_Behind_Master', 'Seconds_Behind_Source');
  const status: Omit<ChannelStatus, 'description'> = {
    channel,
    exists: !!row,
    ioRunning: io,
    sqlRunning: sqlThread,
    running: io !== 'No' || sqlThread !== 'No',
    sourceHost: str('Master_Host', 'Source_Host'),
    sourcePort: num('Master_Port', 'Source_Port'),
    sourceUser: str('Master_User', 'Source_User'),
    sourceServerId: num('Master_Server_Id', 'Source_Server_Id'),
    read: {
      file: str('Master_Log_File', 'Source_Log_File'),
      position: num('Read_Master_Log_Pos', 'Read_Source_Log_Pos'),
    },
    exec: {
      file: str('Relay_Master_Log_File', 'Relay_Source_Log_File'),
      position: num('Exec_Master_Log_Pos', 'Exec_Source_Log_Pos'),
    },
    secondsBehind: behind === null || behind === undefined || behind === '' ? null : Number(behind),
    lastIoError: str('Last_IO_Error', 'Last_IO_Error'),
    lastSqlError: str('Last_SQL_Error', 'Last_SQL_Error'),
  };
  return { ...status, description: describeChannel(dialect, status) };
}

export function describeChannel(dialect: Dialect, s: Omit<ChannelStatus, 'description'>): string {
  if (!s.exists) return `channel ${channelName(s.channel)} is not configured`;
  const [io, sqlT, lag] =
    dialect === 'mysql'
      ? ['Replica_IO_Running', 'Replica_SQL_Running', 'Seconds_Behind_Source']
      : ['Slave_IO_Running', 'Slave_SQL_Running', 'Seconds_Behind_Master'];
  const parts = [
    `channel ${channelName(s.channel)}: ${io}=${s.ioRunning}, ${sqlT}=${s.sqlRunning}`,
    `source ${s.sourceHost || '?'}:${s.sourcePort}`,
    `applied to ${s.exec.file || '?'}:${s.exec.position} (read to ${s.read.file || '?'}:${s.read.position})`,
    `${lag}=${s.secondsBehind ?? 'NULL'}`,
  ];
  if (s.lastIoError) parts.push(`last IO error: ${s.lastIoError}`);
  if (s.lastSqlError) parts.push(`last SQL error: ${s.lastSqlError}`);
  return parts.join(', ');
}

/** The DDL-exists error codes a slave_skip_errors value does not cover ([] when it covers them all). */
export function missingDdlSkips(value: string): number[] {
  const v = value.trim().toLowerCase();
  if (v === 'all' || v.split(',').includes('ddl_exist_errors')) return [];
  const listed = new Set(
    v
      .split(',')
      .map((x) => x.trim())
      .filter((x) => /^\d+$/.test(x))
      .map(Number),
  );
  return DDL_EXIST_ERRORS.filter((code) => !listed.has(code));
}

/**
 * A start point as it comes back from mysql.ndb_binlog_index: the file must be a plain binlog file
 * name (no quotes, semicolons, newlines, directories) and the position a whole number ≥ 4.
 */
export function checkedStartPoint(row: Record<string, unknown>, form: FailoverForm): BinlogPosition {
  const [fileCol, posCol] = form === 'epoch-greater' ? ['File', 'Position'] : ['next_file', 'next_position'];
  const file = String(row.file ?? '');
  if (file.length > 255 || !BINLOG_NAME.test(file))
    throw refuse(
      `mysql.ndb_binlog_index returned ${fileCol} ${JSON.stringify(file)} (after SUBSTRING_INDEX(${fileCol}, '/', -1)), ` +
        'which is not a plain binlog file name like mysql-bin.000042; it was not used and nothing was changed. ' +
        'The index row is damaged or was not written by the binlog injector: inspect it on the secondary source.',
      'BadIndexRow',
    );
  const pos = String(row.position ?? '');
  if (!/^\d{1,15}$/.test(pos) || Number(pos) < 4)
    throw refuse(
      `mysql.ndb_binlog_index returned ${posCol} ${JSON.stringify(pos)} for ${file}, which is not a binlog position; nothing was changed`,
      'BadIndexRow',
    );
  return { file, position: Number(pos) };
}

/** Orders two positions of the same server's binlog: by file sequence, then offset. */
export function compareBinlogPositions(a: BinlogPosition, b: BinlogPosition): number {
  const fa = binlogSequence(a.file);
  const fb = binlogSequence(b.file);
  return fa !== fb ? fa - fb : a.position - b.position;
}

export const describeSecretRef = (ref: SecretRef | undefined) =>
  !ref ? '(none)' : 'env' in ref ? `<secret from env ${ref.env}>` : `<secret from file ${ref.file}>`;

// ---------------------------------------------------------------------------------------------------
// Reads.

function errno(err: unknown): number | undefined {
  let e: unknown = err;
  while (e instanceof Error) {
    const n = (e as { errno?: number }).errno;
    if (typeof n === 'number') return n;
    e = e.cause;
  }
  return undefined;
}

/** MariaDB ER_MASTER_INFO (no such connection name), MySQL ER_REPLICA_CHANNEL_DOES_NOT_EXIST. */
const NO_SUCH_CHANNEL = new Set([1617, 3074]);

export async function channelStatus(
  sql: SqlPools,
  e: Endpoint,
  dialect: Dialect,
  channel: string,
): Promise<ChannelStatus> {
  let rows: Row[];
  try {
    rows = await sql.query(e, channelSql(dialect, channel).status);
  } catch (err) {
    if (NO_SUCH_CHANNEL.has(errno(err) ?? 0)) return readChannelStatus(dialect, channel, undefined);
    throw err;
  }
  return readChannelStatus(dialect, channel, rows[0]);
}

async function channelNames(sql: SqlPools, e: Endpoint, dialect: Dialect): Promise<string[]> {
  const rows = await sql.query(e, dialectOf(dialect).allReplicasStatusSql);
  return rows.map((r) => String(r.Channel_Name ?? r.Connection_name ?? ''));
}

export interface ReplicaNodeReport {
  server: string;
  version: string;
  channels: ChannelStatus[];
  /** All channels configured on the node (for messages). */
  configured: string[];
  /** @@slave_skip_errors / @@replica_skip_errors, and the DDL-exists errors it does not skip. */
  skipErrors: string;
  ddlSkipMissing: number[];
  evidence: string[];
}

/** Reads a replica SQL node: its flavour (must match the dialect), the channels asked for, and its skip list. */
export async function inspectReplicaNode(
  sql: SqlPools,
  req: {
    dialect: Dialect;
    endpoint: Endpoint;
    channels: string[];
    /** Input fields whose secrets this node's worker reads in later steps (CHANGE MASTER's password). */
    refsToCheck?: unknown;
  },
): Promise<ReplicaNodeReport> {
  await checkSecretsResolve(req.refsToCheck);
  const server = describeEndpoint(req.endpoint);
  let version: string;
  try {
    const [v] = await sql.query(req.endpoint, 'SELECT VERSION() AS v');
    version = String(v?.v ?? '');
  } catch (err) {
    throw refuse(
      `cannot reach the replica SQL node ${server}: ${err instanceof Error ? err.message : String(err)}`,
      'Unreachable',
    );
  }
  const flavour: Dialect = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  if (flavour !== req.dialect)
    throw refuse(
      `${server} runs ${version}, but the input says "dialect": "${req.dialect}"; set "dialect": "${flavour}"`,
      'InvalidInput',
    );
  const channels: ChannelStatus[] = [];
  for (const ch of req.channels) channels.push(await channelStatus(sql, req.endpoint, req.dialect, ch));
  const configured = await channelNames(sql, req.endpoint, req.dialect);
  const [skip] = await sql.query(req.endpoint, channelSql(req.dialect, '').skipErrors);
  const skipErrors = String(skip?.v ?? 'OFF');
  return {
    server,
    version,
    channels,
    configured,
    skipErrors,
    ddlSkipMissing: missingDdlSkips(skipErrors),
    evidence: [
      `${server}: ${version}`,
      ...channels.map((c) => c.description),
      `${req.dialect === 'mysql' ? 'replica' : 'slave'}_skip_errors=${skipErrors}`,
    ],
  };
}

/** Procedure step 1: SELECT MAX(epoch) FROM mysql.ndb_apply_status on the replica. */
export async function readLatestAppliedEpoch(
  sql: SqlPools,
  replica: Endpoint,
): Promise<StepOutcome & { epoch: string }> {
  const server = describeEndpoint(replica);
  let rows: Row[];
  try {
    rows = await sql.query(replica, LATEST_EPOCH_SQL);
  } catch (err) {
    if (errno(err) === 1146)
      throw refuse(`${server} has no mysql.ndb_apply_status: it is not a replica SQL node of an NDB cluster`);
    throw err;
  }
  const latest = rows[0]?.latest;
  if (latest === null || latest === undefined)
    throw refuse(
      `mysql.ndb_apply_status on ${server} is empty: the replica has applied no epoch, so there is no point to ` +
        'fail over from (this runbook continues replication; it does not seed a new replica)',
    );
  const epoch = parseEpoch(String(latest));
  return { epoch, evidence: [`latest applied epoch ${epoch} (${formatEpoch(epoch)}) on ${server}`] };
}

export interface StartPoint extends BinlogPosition {
  /** The epoch of the index row used. */
  rowEpoch: string;
  form: FailoverForm;
}

/** Procedure step 2: the start point from mysql.ndb_binlog_index on the secondary source, checked. */
export async function locateFailoverStart(
  sql: SqlPools,
  req: { source: Endpoint; form: FailoverForm; latestEpoch: string },
): Promise<StepOutcome & { start: StartPoint }> {
  const server = describeEndpoint(req.source);
  const latest = parseEpoch(req.latestEpoch);
  let rows: Row[];
  try {
    rows = await sql.query(req.source, startPositionSql(req.form), [latest]);
  } catch (err) {
    if (errno(err) === 1146)
      throw refuse(
        `${server} has no mysql.ndb_binlog_index: it is not an NDB source SQL node with binary logging`,
      );
    throw err;
  }
  const row = rows[0];
  if (!row) {
    const [range] = await sql.query(
      req.source,
      'SELECT CAST(MIN(epoch) AS CHAR) AS lo, CAST(MAX(epoch) AS CHAR) AS hi, COUNT(*) AS n FROM mysql.ndb_binlog_index',
    );
    const holds =
      range?.lo === null || range?.lo === undefined
        ? 'its index is empty'
        : `its index holds ${range.n} epoch(s), ${range.lo} (${formatEpoch(String(range.lo))}) … ${range.hi} (${formatEpoch(String(range.hi))})`;
    throw refuse(
      req.form === 'epoch-greater'
        ? `no epoch after ${latest} (${formatEpoch(latest)}) in mysql.ndb_binlog_index on ${server}; ${holds}. ` +
            'The secondary source has binlogged nothing newer than the replica applied (or no longer indexes it), ' +
            "so there is no start point: check that it is the secondary channel's source and that its binary log is current. Nothing was changed."
        : `epoch ${latest} (${formatEpoch(latest)}), the latest the replica applied, is not in mysql.ndb_binlog_index on ${server}; ${holds}. ` +
            'The secondary source has not binlogged it (or its index was purged), so next_file/next_position cannot be had. Nothing was changed.',
      'EpochNotFound',
    );
  }
  const point = checkedStartPoint(row, req.form);
  const rowEpoch = parseEpoch(String(row.epoch));
  // The file must still be on the source, and the position inside it.
  const logs = await sql.query(req.source, 'SHOW BINARY LOGS');
  const log = logs.find((l) => String(l.Log_name) === point.file);
  if (!log)
    throw refuse(
      `${point.file}, the start file from mysql.ndb_binlog_index on ${server}, is not among its binary logs ` +
        `(${logs.map((l) => String(l.Log_name)).join(', ') || 'none'}): purged, or the index belongs to another server. Nothing was changed.`,
      'BinlogMissing',
    );
  if (point.position > Number(log.File_size))
    throw refuse(
      `start position ${point.file}:${point.position} from mysql.ndb_binlog_index on ${server} is past the end of that file (${String(log.File_size)} bytes). Nothing was changed.`,
      'BadIndexRow',
    );
  const how =
    req.form === 'epoch-greater'
      ? `File/Position of epoch ${rowEpoch} (${formatEpoch(rowEpoch)}), the first after ${formatEpoch(latest)}`
      : `next_file/next_position of epoch ${rowEpoch} (${formatEpoch(rowEpoch)})`;
  return {
    start: { ...point, rowEpoch, form: req.form },
    evidence: [`start=${point.file}:${point.position} on ${server}: ${how}`],
  };
}

// ---------------------------------------------------------------------------------------------------
// Changes (each checks first, then acts, then shows the result).

/** STOP SLAVE on a channel, and show it stopped. */
export async function stopReplicationChannel(
  sql: SqlPools,
  req: { dialect: Dialect; endpoint: Endpoint; channel: string },
): Promise<StepOutcome & { status: ChannelStatus }> {
  const server = describeEndpoint(req.endpoint);
  const before = await channelStatus(sql, req.endpoint, req.dialect, req.channel);
  if (!before.exists) throw refuse(`${server} has no replication channel ${channelName(req.channel)}`);
  if (!before.running)
    return {
      skipped: true,
      status: before,
      evidence: [`already stopped on ${server}: ${before.description}`],
    };
  await sql.query(req.endpoint, channelSql(req.dialect, req.channel).stop);
  const after = await channelStatus(sql, req.endpoint, req.dialect, req.channel);
  if (after.running)
    throw new Error(`STOP on ${channelName(req.channel)} returned but it still runs: ${after.description}`);
  return {
    status: after,
    evidence: [`stopped on ${server}: ${after.description}`],
  };
}

export interface RepointRequest {
  dialect: Dialect;
  replica: Endpoint;
  channel: string;
  connect: ReplicationConnect;
  start: BinlogPosition;
}

/** Procedure step 3: CHANGE MASTER 'ch' TO MASTER_HOST=?, …, MASTER_LOG_FILE=?, MASTER_LOG_POS=? (all bound). */
export async function repointSecondaryChannel(
  sql: SqlPools,
  req: RepointRequest,
): Promise<StepOutcome & { status: ChannelStatus }> {
  const server = describeEndpoint(req.replica);
  const { connect, start } = req;
  const before = await channelStatus(sql, req.replica, req.dialect, req.channel);
  if (before.running)
    throw refuse(
      `${channelName(req.channel)} on ${server} is running (${before.description}); ` +
        'it was not repointed. Stop it first if it must start over from the computed point.',
    );
  const atStart = (s: ChannelStatus) =>
    s.sourceHost === connect.host &&
    s.sourcePort === connect.port &&
    s.sourceUser === connect.user &&
    s.read.file === start.file &&
    s.read.position === start.position &&
    s.exec.file === start.file &&
    s.exec.position === start.position;
  if (before.exists && atStart(before))
    return {
      skipped: true,
      status: before,
      evidence: [
        `already points at ${connect.host}:${connect.port} ${start.file}:${start.position}: ${before.description}`,
      ],
    };
  const password = await resolveSecret(connect.password);
  try {
    await sql.query(req.replica, channelSql(req.dialect, req.channel).change, [
      connect.host,
      connect.port,
      connect.user,
      password ?? '',
      start.file,
      start.position,
    ]);
  } catch (err) {
    // A fresh error without the driver's (which carries the statement text, password included).
    throw new Error(redact(err instanceof Error ? err.message : String(err), [password]));
  }
  const after = await channelStatus(sql, req.replica, req.dialect, req.channel);
  if (!atStart(after))
    throw new Error(`after CHANGE MASTER, ${after.description}; expected ${start.file}:${start.position}`);
  const p = req.dialect === 'mysql' ? 'SOURCE' : 'MASTER';
  return {
    status: after,
    evidence: [
      `before: ${before.description}`,
      `${p}_HOST='${connect.host}', ${p}_PORT=${connect.port}, ${p}_USER='${connect.user}', ` +
        `${p}_PASSWORD=${describeSecretRef(connect.password)}, ${p}_LOG_FILE='${start.file}', ${p}_LOG_POS=${start.position}`,
      `now: ${after.description}`,
    ],
  };
}

const bothRunning = (s: ChannelStatus) => s.ioRunning === 'Yes' && s.sqlRunning === 'Yes';

/** A thread stopped with an error: what to tell the operator. */
function threadFailure(dialect: Dialect, server: string, s: ChannelStatus): string | null {
  if (s.sqlRunning === 'No' && s.lastSqlError)
    return `the SQL thread of ${channelName(s.channel)} on ${server} stopped: ${s.lastSqlError}`;
  if (s.ioRunning !== 'Yes' && s.lastIoError)
    return `the IO thread of ${channelName(s.channel)} on ${server} cannot read from the source: ${s.lastIoError}`;
  if (s.exists && (s.sqlRunning === 'No' || s.ioRunning === 'No'))
    return `${channelName(s.channel)} on ${server} is not running: ${s.description}`;
  return null;
}

/** Procedure step 4: START SLAVE 'ch'; waits until both threads run, then checks whom it reads from. */
export async function startSecondaryChannel(
  sql: SqlPools,
  req: { dialect: Dialect; replica: Endpoint; channel: string; sourceServerId: number; timeoutMs?: number },
): Promise<StepOutcome & { status: ChannelStatus }> {
  const server = describeEndpoint(req.replica);
  const before = await channelStatus(sql, req.replica, req.dialect, req.channel);
  if (!before.exists) throw refuse(`${server} has no replication channel ${channelName(req.channel)}`);
  const skipped = bothRunning(before);
  if (!skipped) await sql.query(req.replica, channelSql(req.dialect, req.channel).start);
  const deadline = Date.now() + (req.timeoutMs ?? 30_000);
  let now = await channelStatus(sql, req.replica, req.dialect, req.channel);
  while (!bothRunning(now)) {
    const failed = Date.now() > deadline || (now.sqlRunning === 'No' && now.lastSqlError);
    if (failed)
      throw refuse(
        threadFailure(req.dialect, server, now) ??
          `${channelName(req.channel)} on ${server} did not get both threads running: ${now.description}`,
        'ReplicationFailed',
      );
    heartbeat({ waitingFor: 'both replication threads' });
    await pause(200);
    now = await channelStatus(sql, req.replica, req.dialect, req.channel);
  }
  if (now.sourceServerId && now.sourceServerId !== req.sourceServerId)
    throw refuse(
      `${channelName(req.channel)} on ${server} reads from server_id ${now.sourceServerId}, but the secondary source whose ` +
        `ndb_binlog_index gave the start point is server_id ${req.sourceServerId}: the channel's host/port reach another server. ` +
        `Stop the channel (${channelSql(req.dialect, req.channel).stop}) and check secondary.connect.`,
      'WrongSource',
    );
  return {
    skipped,
    status: now,
    evidence: [`${skipped ? 'already running' : 'started'}: ${now.description}`],
  };
}

/** The source's current binlog end and server_id: what "caught up" is measured against. */
export async function readSourceBinlogPosition(
  sql: SqlPools,
  req: { dialect: Dialect; source: Endpoint },
): Promise<BinlogPosition & { serverId: number }> {
  let rows: Row[];
  try {
    rows = await sql.query(req.source, 'SHOW MASTER STATUS');
  } catch (err) {
    if (req.dialect !== 'mysql') throw err;
    rows = await sql.query(req.source, 'SHOW BINARY LOG STATUS'); // MySQL 8.4 dropped SHOW MASTER STATUS
  }
  const [id] = await sql.query(req.source, 'SELECT @@GLOBAL.server_id AS id');
  const row = rows[0];
  if (!row)
    throw refuse(`${describeEndpoint(req.source)} has binary logging off: it cannot be a replication source`);
  return { file: String(row.File), position: Number(row.Position), serverId: Number(id?.id ?? 0) };
}

export interface ReplicationReport {
  ioRunning: string;
  sqlRunning: string;
  secondsBehind: number | null;
  applied: BinlogPosition;
  /** The source's binlog end when verification began. */
  sourceEnd: BinlogPosition;
  caughtUp: boolean;
  latestEpoch: string;
}

/** Both threads run; reports the lag; with `wait`, polls until the channel applied all up to `target`. */
export async function awaitSecondaryCaughtUp(
  sql: SqlPools,
  req: {
    dialect: Dialect;
    replica: Endpoint;
    channel: string;
    target: BinlogPosition;
    wait: boolean;
    /** A Duration, e.g. "10m". */
    timeout: string;
  },
): Promise<StepOutcome & { replication: ReplicationReport }> {
  const server = describeEndpoint(req.replica);
  const timeoutMs = durationMs(req.timeout);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await channelStatus(sql, req.replica, req.dialect, req.channel);
    const failure = threadFailure(req.dialect, server, s);
    if (failure || !s.exists)
      throw refuse(failure ?? `${server} has no channel ${channelName(req.channel)}`, 'ReplicationFailed');
    const running = bothRunning(s);
    const caughtUp = running && !!s.exec.file && compareBinlogPositions(s.exec, req.target) >= 0;
    if (running && (caughtUp || !req.wait)) {
      const { epoch } = await readLatestAppliedEpoch(sql, req.replica);
      const lag = dialectOf(req.dialect).lagColumn;
      return {
        replication: {
          ioRunning: s.ioRunning,
          sqlRunning: s.sqlRunning,
          secondsBehind: s.secondsBehind,
          applied: s.exec,
          sourceEnd: req.target,
          caughtUp,
          latestEpoch: epoch,
        },
        evidence: [
          `both threads running; ${lag}=${s.secondsBehind ?? 'NULL'}`,
          caughtUp
            ? `caught up: applied to ${s.exec.file}:${s.exec.position}, source was at ${req.target.file}:${req.target.position}`
            : `applied to ${s.exec.file}:${s.exec.position}; source at ${req.target.file}:${req.target.position} (not waited for)`,
          `latest applied epoch now ${epoch} (${formatEpoch(epoch)})`,
        ],
      };
    }
    if (Date.now() > deadline)
      throw refuse(
        `${channelName(req.channel)} on ${server} runs but had not caught up within ${req.timeout}: ` +
          `${s.description}; the source was at ${req.target.file}:${req.target.position}. ` +
          'The failover itself is done; watch the channel status.',
        'NotCaughtUp',
      );
    heartbeat({ applied: s.exec, target: req.target, secondsBehind: s.secondsBehind });
    await pause(250);
  }
}

export function ndbFailoverActivities(sql: SqlPools) {
  return {
    inspectReplicaNode: (req: Parameters<typeof inspectReplicaNode>[1]) => inspectReplicaNode(sql, req),
    readLatestAppliedEpoch: (replica: Endpoint) => readLatestAppliedEpoch(sql, replica),
    locateFailoverStart: (req: Parameters<typeof locateFailoverStart>[1]) => locateFailoverStart(sql, req),
    stopReplicationChannel: (req: Parameters<typeof stopReplicationChannel>[1]) =>
      stopReplicationChannel(sql, req),
    repointSecondaryChannel: (req: RepointRequest) => repointSecondaryChannel(sql, req),
    startSecondaryChannel: (req: Parameters<typeof startSecondaryChannel>[1]) =>
      startSecondaryChannel(sql, req),
    readSourceBinlogPosition: (req: Parameters<typeof readSourceBinlogPosition>[1]) =>
      readSourceBinlogPosition(sql, req),
    awaitSecondaryCaughtUp: (req: Parameters<typeof awaitSecondaryCaughtUp>[1]) =>
      awaitSecondaryCaughtUp(sql, req),
  };
}
