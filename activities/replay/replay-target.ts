// Target resolution for a replay plan, from the archive index before a byte is read: what a target
// says, which files its window spans, the gaps the index shows, and which transactions it takes.
import type { RecoveryTarget } from '../../workflows/schemas';
import { isMariadbGtid, parseMariadbGtid, parseMariadbGtidList } from '../../workflows/gtid';
import { binlogSequence, type ArchivedFile } from '../archive/archive';
import { PlanError, stateIncludes, TargetBeforeBackup, type WindowTransaction } from './replay-window';
import type { PlanInputs } from './replay-plan';

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

export const iso = (s: number | null) => (s === null ? 'unknown' : new Date(s * 1000).toISOString());

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

/** Index-level bounds: the backup's file, and the last file the target can need (before reading any). */
export function bounds(p: PlanInputs): { startIdx: number; lastIdx: number } {
  const { index, backup, target } = p;
  const files = index.files;
  const startIdx = files.findIndex((f) => f.name === backup.file);
  if (startIdx < 0)
    throw new PlanError(
      files.length === 0
        ? `the archive holds no binlog files; the backup needs ${backup.file} onwards`
        : `the archive does not hold ${backup.file}, where the backup's binlog position lies (archive has ${files[0]!.name} … ${files.at(-1)!.name})`,
    );
  const lastTime = files.at(-1)!.lastEventTime;
  switch (target.type) {
    case 'latest':
      return { startIdx, lastIdx: files.length - 1 };
    case 'time': {
      const t = Date.parse(target.time) / 1000;
      if (t > p.nowSeconds) throw new PlanError(`target time ${target.time} is in the future`);
      if (lastTime === null || t > lastTime)
        throw new PlanError(
          `target time ${target.time} is beyond the archive: its newest event is at ${iso(lastTime)}`,
        );
      // Up to the first file that starts after the target's second (read for the transactions stamped in it).
      let lastIdx = startIdx;
      while (lastIdx + 1 < files.length && (files[lastIdx + 1]!.firstEventTime ?? 0) <= t) lastIdx++;
      return { startIdx, lastIdx };
    }
    case 'gtid': {
      if (stateIncludes(backup.gtid, target.gtid))
        throw new TargetBeforeBackup(
          `GTID ${target.gtid} is already in the backup (backup GTID position ${backup.gtid}); use an older backup`,
        );
      const holder = findHolder(files.slice(startIdx), target.gtid);
      if (holder < 0)
        throw new PlanError(
          `GTID ${target.gtid} is not in the archive (${files[0]!.name} … ${files.at(-1)!.name}, last GTID ${files.at(-1)!.lastGtid ?? 'none'})`,
        );
      return { startIdx, lastIdx: startIdx + holder };
    }
    case 'position': {
      const at = files.findIndex((x) => x.name === target.file);
      if (at < startIdx || (at === startIdx && target.position <= backup.position))
        throw new (at >= 0 ? TargetBeforeBackup : PlanError)(
          at >= 0
            ? `position ${target.file}:${target.position} is before the backup (${backup.file}:${backup.position})`
            : `${target.file} is not in the archive`,
        );
      return { startIdx, lastIdx: at };
    }
  }
}

/** Which transactions the target takes: called in window order; false closes the window before `t`. */
export function targetTakes(target: RecoveryTarget): (t: WindowTransaction) => boolean {
  switch (target.type) {
    case 'latest':
      return () => true;
    case 'time': {
      const T = Date.parse(target.time) / 1000;
      return (t) => t.time < T;
    }
    case 'gtid': {
      let seen = false;
      return (t) => {
        if (seen) return false;
        if (t.gtid !== target.gtid) return true;
        seen = true;
        return !target.exclusive;
      };
    }
    case 'position':
      return (t) => !(t.file === target.file && t.endPos > target.position);
  }
}

/** Does a file whose GTID state at its start is `before` carry on exactly where a file ending at `last` stopped? */
function continues(before: string, last: string): boolean {
  if (before === last) return true; // the usual single-domain case, without parsing
  if (isMariadbGtid(last)) {
    const g = parseMariadbGtid(last);
    return parseMariadbGtidList(before).get(g.domain)?.seq === g.seq;
  }
  const [uuid, n] = last.split(':');
  return stateIncludes(before, last) && !stateIncludes(before, `${uuid}:${BigInt(n ?? '0') + 1n}`);
}

/**
 * Gaps the index alone shows (a missing file number, a file that does not start where the previous
 * one ended): refused before a byte is read. The read of the window checks the same on the bytes.
 */
export function indexGaps(files: ArchivedFile[], from: number, to: number): string[] {
  const gaps: string[] = [];
  for (let i = from + 1; i <= to; i++) {
    const prev = files[i - 1]!;
    const cur = files[i]!;
    const missing = binlogSequence(cur.name) - binlogSequence(prev.name) - 1;
    if (missing > 0) gaps.push(`${missing} file(s) missing between ${prev.name} and ${cur.name}`);
    else if (prev.lastGtid && cur.gtidsBefore && !continues(cur.gtidsBefore, prev.lastGtid))
      gaps.push(
        `${cur.name} does not continue ${prev.name}: it starts after ${cur.gtidsBefore}, but ${prev.name} ends at ${prev.lastGtid}`,
      );
  }
  return gaps;
}
