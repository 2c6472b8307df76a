// The failover procedure's steps 1–2: the latest epoch the replica applied (ndb_apply_status), and
// the secondary channel's start point from its source's mysql.ndb_binlog_index, checked.
import type { StepOutcome } from '../../workflows/kit';
import type { Endpoint } from '../../workflows/schemas';
import type { FailoverForm } from '../../workflows/schemas-ndb-failover';
import { formatEpoch, parseEpoch } from '../../workflows/epoch';
import { BINLOG_NAME } from '../archive/archive';
import { describeEndpoint, type Row, type SqlPools } from '../mysql/sql';
import { errno, refuse } from './failover-common';
import type { BinlogPosition } from './channel-status';

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
