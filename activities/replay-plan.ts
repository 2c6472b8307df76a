// Turns a recovery target into an exact replay window over the archive: which files, where to start
// (the backup's GTID), and the last transaction to apply. Every target kind becomes "apply up to and
// including GTID X", so replay, resume and verification share one rule. Unreachable targets fail here,
// before anything is paused or overwritten.
import type { RecoveryTarget } from '../workflows/schemas';
import {
  isMariadbGtid,
  parseMariadbGtid,
  parseMariadbGtidList,
  mariadbPositionIncludes,
  mysqlSetIncludes,
} from '../workflows/gtid';
import { binlogSequence, type ArchiveIndex, type ArchivedFile } from './archive';
import { eventBoundaries, scanBinlog, type BinlogTransaction } from './binlog-scan';

export interface BackupCoordinates {
  file: string;
  position: number;
  gtid: string;
  /** Unix seconds when the backup's consistent point was taken (null when unknown). */
  time: number | null;
}

export interface ReplayPlan {
  files: string[];
  startGtid: string;
  /** The last transaction to apply (inclusive); null when the backup already is the target. */
  stopGtid: string | null;
  /** Where that transaction ends in the last file (a numeric stop for tools that need one). */
  stopEndPos: number | null;
  stopTime: number | null;
  target: string;
  bytes: number;
  gaps: string[];
  warnings: string[];
}

/** The last transaction to apply, and where it is. */
interface Stop {
  gtid: string | null;
  file: string;
  endPos: number | null;
  time: number | null;
}

const stopAtTransaction = (file: string, tx: BinlogTransaction): Stop => ({
  gtid: tx.gtid,
  file,
  endPos: tx.endPos,
  time: tx.time,
});
/** The end of an archived file (its last transaction), or the backup itself when there is none. */
const stopAtFileEnd = (f: ArchivedFile | undefined, backup: BackupCoordinates): Stop =>
  f
    ? { gtid: f.lastGtid, file: f.name, endPos: f.size, time: f.lastEventTime }
    : { gtid: null, file: backup.file, endPos: null, time: null };

/** Is `gtid` inside the GTID state `state`? MariaDB positions and MySQL sets alike. */
function stateIncludes(state: string, gtid: string): boolean {
  if (!state) return false;
  return isMariadbGtid(gtid) ? mariadbPositionIncludes(state, gtid) : mysqlSetIncludes(state, gtid);
}

/** A plan-time refusal: bad or unreachable target, gap, missing file. Never retried. */
export class PlanError extends Error {
  override name = 'PlanError';
}

export function describeTarget(t: RecoveryTarget): string {
  switch (t.type) {
    case 'time':
      return `time < ${t.time}`;
    case 'gtid':
      return `gtid ${t.exclusive ? 'before' : 'through'} ${t.gtid}`;
    case 'position':
      return `position < ${t.file}:${t.position}`;
    case 'latest':
      return 'latest archived';
  }
}

const iso = (s: number | null) => (s === null ? 'unknown' : new Date(s * 1000).toISOString());

/**
 * The first file that could hold `gtid` (-1 when none). For MariaDB this is decided from the index's
 * GTID states alone, each file's state parsed once (archives hold 100,000s of files); for MySQL, from
 * the file's own GTID set (first…last of the GTID's server uuid).
 */
function findHolder(files: ArchivedFile[], gtid: string): number {
  if (!isMariadbGtid(gtid)) {
    return files.findIndex((f, i) => {
      const next = files[i + 1];
      return (
        !stateIncludes(f.gtidsBefore, gtid) &&
        (!next || stateIncludes(next.gtidsBefore, gtid) || !next.gtidsBefore)
      );
    });
  }
  const g = parseMariadbGtid(gtid);
  const seqBefore = (f: ArchivedFile) => parseMariadbGtidList(f.gtidsBefore).get(g.domain)?.seq ?? -1n;
  let before = files[0] ? seqBefore(files[0]) : -1n;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const next = files[i + 1];
    let after: bigint;
    if (next) after = seqBefore(next);
    else if (f.lastGtid) {
      const last = parseMariadbGtid(f.lastGtid);
      if (last.domain !== g.domain) return before < g.seq ? i : -1; // multi-domain tail: scan to be sure
      after = last.seq;
    } else return -1;
    if (before < g.seq && g.seq <= after) return i;
    before = after; // the next file starts where this one ends
  }
  return -1;
}

/** Does a file whose GTID state at its start is `before` carry on exactly where a file ending at `last` stopped? */
function continues(before: string, last: string): boolean {
  if (before === last) return true; // the usual single-domain case, without parsing
  if (isMariadbGtid(last)) {
    const g = parseMariadbGtid(last);
    return parseMariadbGtidList(before).get(g.domain)?.seq === g.seq;
  }
  const [uuid, n] = last.split(':');
  return mysqlSetIncludes(before, last) && !mysqlSetIncludes(before, `${uuid}:${BigInt(n ?? '0') + 1n}`);
}

export interface PlanInputs {
  index: ArchiveIndex;
  backup: BackupCoordinates;
  target: RecoveryTarget;
  allowGaps: boolean;
  nowSeconds: number;
  /** Local path of an archived file (fetched when the archive is remote). */
  pathOf: (name: string) => Promise<string>;
}

async function transactionsOf(pathOf: PlanInputs['pathOf'], name: string): Promise<BinlogTransaction[]> {
  const out: BinlogTransaction[] = [];
  await scanBinlog(await pathOf(name), (t) => void out.push(t));
  return out;
}

export async function planReplay(p: PlanInputs): Promise<ReplayPlan> {
  const { index, backup, target } = p;
  const files = index.files;
  const warnings: string[] = [];
  const startIdx = files.findIndex((f) => f.name === backup.file);
  if (startIdx < 0) {
    throw new PlanError(
      files.length === 0
        ? `the archive holds no binlog files; the backup needs ${backup.file} onwards`
        : `the archive does not hold ${backup.file}, where the backup's binlog position lies (archive has ${files[0]!.name} … ${files.at(-1)!.name})`,
    );
  }
  const afterBackup = files.slice(startIdx);
  const lastTime = files.at(-1)!.lastEventTime;

  // Resolve the target to the last transaction to apply.
  let stop: Stop;
  switch (target.type) {
    case 'latest':
      stop = stopAtFileEnd(
        [...afterBackup].reverse().find((f) => f.lastGtid),
        backup,
      );
      break;
    case 'time': {
      const t = Date.parse(target.time) / 1000;
      if (t > p.nowSeconds) throw new PlanError(`target time ${target.time} is in the future`);
      if (backup.time !== null && t <= backup.time)
        throw new PlanError(
          `target time ${target.time} is before the backup was taken (${iso(backup.time)}); use an older backup`,
        );
      if (lastTime === null || t > lastTime)
        throw new PlanError(
          `target time ${target.time} is beyond the archive: its newest event is at ${iso(lastTime)}`,
        );
      stop = stopAtFileEnd(undefined, backup);
      for (const f of afterBackup) {
        if (f.firstEventTime !== null && f.firstEventTime >= t) break;
        if (f.lastEventTime !== null && f.lastEventTime < t && f.lastGtid) {
          stop = stopAtFileEnd(f, backup); // the whole file is before the target: no need to read it
          continue;
        }
        for (const tx of await transactionsOf(p.pathOf, f.name)) {
          if (tx.time >= t) break;
          stop = stopAtTransaction(f.name, tx);
        }
      }
      break;
    }
    case 'gtid': {
      if (stateIncludes(backup.gtid, target.gtid))
        throw new PlanError(
          `GTID ${target.gtid} is already in the backup (backup GTID position ${backup.gtid}); use an older backup`,
        );
      const holderIdx = findHolder(afterBackup, target.gtid);
      const holder = afterBackup[holderIdx];
      const txs = holder ? await transactionsOf(p.pathOf, holder.name) : [];
      const at = txs.findIndex((t) => t.gtid === target.gtid);
      if (!holder || at < 0)
        throw new PlanError(
          `GTID ${target.gtid} is not in the archive (${files[0]!.name} … ${files.at(-1)!.name}, last GTID ${files.at(-1)!.lastGtid ?? 'none'})`,
        );
      const before = txs[at - 1];
      if (!target.exclusive) stop = stopAtTransaction(holder.name, txs[at]!);
      else if (before) stop = stopAtTransaction(holder.name, before);
      else
        stop = stopAtFileEnd(
          afterBackup
            .slice(0, holderIdx)
            .reverse()
            .find((f) => f.lastGtid),
          backup,
        );
      break;
    }
    case 'position': {
      const f = afterBackup.find((x) => x.name === target.file);
      if (!f || (f.name === backup.file && target.position <= backup.position)) {
        throw new PlanError(
          files.some((x) => x.name === target.file)
            ? `position ${target.file}:${target.position} is before the backup (${backup.file}:${backup.position})`
            : `${target.file} is not in the archive`,
        );
      }
      if (!(await eventBoundaries(await p.pathOf(f.name))).has(target.position))
        throw new PlanError(
          `${target.file}:${target.position} is not an event boundary (mysqlbinlog prints boundaries as "# at N")`,
        );
      const fIdx = afterBackup.indexOf(f);
      stop = stopAtFileEnd(
        afterBackup
          .slice(0, fIdx)
          .reverse()
          .find((x) => x.lastGtid),
        backup,
      );
      for (const tx of await transactionsOf(p.pathOf, f.name)) {
        if (tx.endPos > target.position) break;
        stop = stopAtTransaction(f.name, tx);
      }
      break;
    }
  }
  // A stop inside the backup (e.g. exclusive of the first transaction after it) means: nothing to apply.
  if (stop.gtid && stateIncludes(backup.gtid, stop.gtid)) stop = stopAtFileEnd(undefined, backup);

  // The window: the backup's file through the stop file, with no missing file and an unbroken GTID chain.
  const stopIdx = files.findIndex((f) => f.name === stop.file);
  const window = files.slice(startIdx, Math.max(stopIdx, startIdx) + 1);
  const gaps: string[] = [];
  for (let i = 1; i < window.length; i++) {
    const prev = window[i - 1]!;
    const cur = window[i]!;
    const missing = binlogSequence(cur.name) - binlogSequence(prev.name) - 1;
    if (missing > 0) gaps.push(`${missing} file(s) missing between ${prev.name} and ${cur.name}`);
    else if (prev.lastGtid && cur.gtidsBefore && !continues(cur.gtidsBefore, prev.lastGtid))
      gaps.push(
        `${cur.name} does not continue ${prev.name}: it starts after ${cur.gtidsBefore}, but ${prev.name} ends at ${prev.lastGtid}`,
      );
    else if (!prev.complete)
      gaps.push(`${prev.name} was still being written when indexed, yet a newer file exists`);
  }
  if (gaps.length && !p.allowGaps)
    throw new PlanError(
      `the archive has gaps inside the replay window: ${gaps.join('; ')} (refused; set allowGaps to replay anyway and lose those transactions)`,
    );
  if (gaps.length) warnings.push(`replaying across gaps (allowGaps): ${gaps.join('; ')}`);

  return {
    files: stop.gtid ? window.map((f) => f.name) : [],
    startGtid: backup.gtid,
    stopGtid: stop.gtid,
    stopEndPos: stop.gtid ? stop.endPos : null,
    stopTime: stop.time,
    target: describeTarget(target),
    bytes: stop.gtid ? window.reduce((n, f) => n + f.size, 0) : 0,
    gaps,
    warnings,
  };
}
