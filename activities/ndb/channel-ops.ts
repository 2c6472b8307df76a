// The failover's changes to channels, each checking first, then acting, then showing the result:
// stop, repoint (CHANGE MASTER), start, and the wait until the secondary channel has caught up.
import type { StepOutcome } from '../../workflows/kit';
import { durationMs, type Dialect, type Endpoint, type SecretRef } from '../../workflows/schemas';
import type { ReplicationConnect } from '../../workflows/schemas-ndb-failover';
import { formatEpoch } from '../../workflows/epoch';
import { dialectOf } from '../mysql/dialect';
import { redact, resolveSecret } from '../trust/secrets';
import { describeEndpoint, type Row, type SqlPools } from '../mysql/sql';
import { heartbeat, pause } from '../runtime/poll';
import { refuse } from './failover-common';
import {
  bothRunning,
  channelName,
  channelSql,
  channelStatus,
  compareBinlogPositions,
  threadFailure,
  type BinlogPosition,
  type ChannelStatus,
} from './channel-status';
import { readLatestAppliedEpoch } from './failover-start';
import { failure } from '../../workflows/failures';

export const describeSecretRef = (ref: SecretRef | undefined) =>
  !ref ? '(none)' : 'env' in ref ? `<secret from env ${ref.env}>` : `<secret from file ${ref.file}>`;

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
    throw failure(
      'Transient',
      `STOP on ${channelName(req.channel)} returned but it still runs: ${after.description}`,
    );
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
    throw failure('Transient', redact(err instanceof Error ? err.message : String(err), [password]));
  }
  const after = await channelStatus(sql, req.replica, req.dialect, req.channel);
  if (!atStart(after))
    throw failure(
      'Transient',
      `after CHANGE MASTER, ${after.description}; expected ${start.file}:${start.position}`,
    );
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
