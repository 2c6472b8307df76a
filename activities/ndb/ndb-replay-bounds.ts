// Where the NDB PITR replay stops and starts: the failure point made exact (step 3), the latest
// applied epoch (step 9) and the first epoch after it (step 10), read from mysql.ndb_binlog_index.
import { join } from 'node:path';
import type { StepOutcome } from '../../workflows/kit';
import type { Endpoint } from '../../workflows/schemas';
import type { NdbFailurePoint } from '../../workflows/schemas-ndb-pitr';
import { formatEpoch } from '../../workflows/epoch';
import { BINLOG_NAME } from '../archive/archive';
import { FsArchive } from '../archive/archive-fs';
import { refreshIndex } from '../archive/archive-index';
import { eventBoundaries, scanBinlog } from '../archive/binlog-scan';
import type { SqlPools } from '../mysql/sql';
import { refuse } from './ndb-pitr-common';

export interface NdbStopPoint {
  /** Replay stops before this position of this file (exclusive). */
  file: string;
  position: number;
  /** The last epoch the recovery applies (inclusive). */
  lastEpoch: string;
  description: string;
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
         FROM mysql.ndb_binlog_index WHERE epoch = CAST(? AS UNSIGNED)`,
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

export async function startPositionAfter(
  sql: SqlPools,
  e: Endpoint,
  latest: string,
): Promise<{ file: string; position: number } | null> {
  // The epoch is bound as text (it exceeds 2^53): CAST it, or MySQL compares a BIGINT with a string
  // as doubles, and epochs a few apart (one GCI's end and the next's start) compare equal.
  const [row] = await sql.query(
    e,
    "SELECT Position AS position, SUBSTRING_INDEX(File, '/', -1) AS file FROM mysql.ndb_binlog_index WHERE epoch > CAST(? AS UNSIGNED) ORDER BY epoch ASC LIMIT 1",
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
