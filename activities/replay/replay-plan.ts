// Turns a recovery target into an exact replay window over the archive: which files, where to start
// (the backup's GTID), and the last transaction to apply. Every target kind becomes "apply up to and
// including GTID X", so replay, resume and proof share one rule. The window is read once, every byte
// of it verified (replay-window.ts), before anything is paused or overwritten; unreachable targets,
// damage and gaps fail here. The plan also says which replay strategies can apply this window
// correctly, and for a time target which transactions share the target's second.
import type { RecoveryTarget, ReplayStrategy } from '../../workflows/schemas';
import type { ArchiveIndex } from '../archive/archive';
import type { ReadArchived } from '../archive/archive-read';
import {
  PlanError,
  TargetBeforeBackup,
  WindowReader,
  type BackupCoordinates,
  type VerifiedFile,
  type WindowTransaction,
} from './replay-window';
import { bounds, describeTarget, indexGaps, iso, targetTakes } from './replay-target';

export { PlanError, TargetBeforeBackup, type BackupCoordinates } from './replay-window';
export { describeTarget } from './replay-target';

/** The pipe replays an event as a base64 BINLOG statement: 4/3 of it must fit max_allowed_packet (1 GiB). */
export const PIPE_MAX_EVENT = 700 * 1024 * 1024;
/** The replica SQL thread takes events up to slave_max_allowed_packet (at most 1 GiB). */
export const APPLIER_MAX_EVENT = 1024 * 1024 * 1024 - 4096;
const LISTED = 20;

/** A transaction named in a plan: enough for an operator to recognise it. */
export interface TransactionRef {
  gtid: string;
  time: number;
  file: string;
  position: number;
  statement: string;
  tables: string[];
}

export interface WindowFacts {
  /** Every file of the window as it was read and verified; the replay verifies the same bytes again. */
  files: VerifiedFile[];
  /** crc32 when every file carries event checksums (all of them were verified). */
  checksums: 'crc32' | 'none';
  events: number;
  /** Transactions to apply (after the backup, through the stop). */
  transactions: number;
  largestEvent: number;
  /** Row images are full and packed 8 KiB to an event: the proof compares row events, else row statements. */
  rowPacking: 'default' | 'other';
  /** Groups that depend on session state (temporary tables): a resume in the middle may not see them. */
  sessionSpecific: number;
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
  window: WindowFacts;
  /** Strategies that cannot apply this window correctly, and why (refused before anything is touched). */
  unsafeFor: { pipe?: string; applier?: string };
  /** Time of the backup's last transaction (Unix seconds), when its file shows it. */
  backupTime: number | null;
  /** Time targets: the transactions stamped in the target's second, none of which is applied. */
  sameSecond?: { left: TransactionRef[]; count: number; lastApplied: TransactionRef | null };
}

export interface PlanInputs {
  index: ArchiveIndex;
  backup: BackupCoordinates;
  target: RecoveryTarget;
  allowGaps: boolean;
  nowSeconds: number;
  /** Reads an archived file once (staging it when the archive is remote). */
  read: ReadArchived;
  dialect?: 'mariadb' | 'mysql';
}

const ref = (t: WindowTransaction): TransactionRef => ({
  gtid: t.gtid,
  time: t.time,
  file: t.file,
  position: t.startPos,
  statement: t.statement,
  tables: t.tables,
});

/** What is known of the window so far, and where it stops. */
class Window {
  stop: WindowTransaction | null = null;
  transactions = 0;
  largestEvent = 0;
  partial = false;
  sessionSpecific = 0;
  ddlWithRows: WindowTransaction | null = null;
  mixedEngines: WindowTransaction | null = null;
  largest: WindowTransaction | null = null;

  take(t: WindowTransaction): void {
    this.stop = t;
    this.transactions++;
    if (t.largestEvent > this.largestEvent) {
      this.largestEvent = t.largestEvent;
      this.largest = t;
    }
    if (t.partialRowImage || t.widePacking) this.partial = true;
    if (t.sessionSpecific) this.sessionSpecific++;
    if (t.ddl && !t.standalone && t.rowEvents > 0) this.ddlWithRows ??= t;
    // Not flagged transactional yet several statements: non-transactional tables written inside a
    // transaction (STATEMENT format). A replaying server may log such a write as a group of its own.
    if (t.transactional === false && !t.ddl && !t.standalone && t.queries + t.rowStatements >= 2)
      this.mixedEngines ??= t;
  }
}

export async function planReplay(p: PlanInputs): Promise<ReplayPlan> {
  const { index, target } = p;
  const { startIdx, lastIdx } = bounds(p);
  const seen = indexGaps(index.files, startIdx, lastIdx);
  if (seen.length && !p.allowGaps)
    throw new PlanError(
      `the archive has gaps inside the replay window: ${seen.join('; ')} (refused; set allowGaps to replay anyway and lose those transactions)`,
      'ArchiveGap',
    );
  const reader = new WindowReader(p.backup);
  const window = new Window();
  const takes = targetTakes(target);
  const T = target.type === 'time' ? Date.parse(target.time) / 1000 : null;
  const left: TransactionRef[] = [];
  let leftCount = 0;
  let cut = false;
  let targetSeen = false;
  let boundary = target.type === 'position' && target.position === 4;

  for (let i = startIdx; i <= lastIdx && !(cut && T === null); i++) {
    const entry = index.files[i]!;
    const onEventEnd =
      target.type === 'position' && entry.name === target.file
        ? (end: number) => void (end === target.position && (boundary = true))
        : undefined;
    await reader.read(
      entry,
      await p.read(entry),
      (t) => {
        if (target.type === 'gtid' && t.gtid === target.gtid) targetSeen = true;
        if (!cut && takes(t)) return window.take(t);
        if (!cut) {
          cut = true;
          // Nothing after the cut is replayed; a time target still lists what its second holds.
          reader.close({ keepHandingOut: T !== null });
        }
        if (T !== null && t.time <= T) {
          leftCount++;
          if (left.length < LISTED) left.push(ref(t));
        }
      },
      onEventEnd,
    );
  }
  if (target.type === 'gtid' && !targetSeen)
    throw new PlanError(
      `GTID ${target.gtid} is not in the archive files where the index places it (${index.files[lastIdx]!.name})`,
    );
  if (target.type === 'position' && !boundary)
    throw new PlanError(
      `${target.file}:${target.position} is not an event boundary (mysqlbinlog prints boundaries as "# at N")`,
    );
  if (T !== null && reader.backupTime !== null && T <= reader.backupTime)
    throw new TargetBeforeBackup(
      `target time ${(target as { time: string }).time} is before the backup was taken (its last transaction is stamped ${iso(reader.backupTime)}); use an older backup`,
    );
  const plan = finish(p, reader, window);
  if (T !== null)
    plan.sameSecond = { left, count: leftCount, lastApplied: window.stop ? ref(window.stop) : null };
  return plan;
}

/** Which strategies cannot apply this window as the source applied it, and why. */
function unsafeFor(w: Window, dialect: 'mariadb' | 'mysql'): ReplayPlan['unsafeFor'] {
  const out: ReplayPlan['unsafeFor'] = {};
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  const ctas = w.ddlWithRows;
  if (ctas && dialect === 'mariadb')
    out.pipe =
      `${ctas.gtid} (${ctas.file}:${ctas.startPos}, "${ctas.statement}") is CREATE … SELECT logged in ROW format: ` +
      'the client replays it as two transactions (the DDL under its GTID, the rows under the next), so the next GTID would be refused or renumbered';
  else if (w.mixedEngines && dialect === 'mariadb') {
    const t = w.mixedEngines;
    out.pipe =
      `${t.gtid} (${t.file}:${t.startPos}, "${t.statement}") writes non-transactional tables inside a transaction of several statements: ` +
      'a client session may log that write as a transaction of its own, so the next GTID would be refused or renumbered';
  } else if (w.largest && w.largestEvent > PIPE_MAX_EVENT)
    out.pipe = `${w.largest.gtid} (${w.largest.file}:${w.largest.startPos}) holds a ${mib(w.largestEvent)} event; the client cannot send it (max_allowed_packet is at most 1 GiB and the event travels base64-encoded)`;
  if (w.largest && w.largestEvent > APPLIER_MAX_EVENT)
    out.applier = `${w.largest.gtid} (${w.largest.file}:${w.largest.startPos}) holds a ${mib(w.largestEvent)} event, more than slave_max_allowed_packet can take (1 GiB)`;
  return out;
}

function finish(p: PlanInputs, reader: WindowReader, w: Window): ReplayPlan {
  const stop = w.stop;
  const stopIdx = stop ? reader.verified.findIndex((f) => f.name === stop.file) : -1;
  const files = stopIdx >= 0 ? reader.verified.slice(0, stopIdx + 1) : [];
  const gaps = stop ? reader.gaps : [];
  if (gaps.length && !p.allowGaps)
    throw new PlanError(
      `the archive has gaps inside the replay window: ${gaps.join('; ')} (refused; set allowGaps to replay anyway and lose those transactions)`,
      'ArchiveGap',
    );
  const warnings = [...reader.warnings];
  if (gaps.length) warnings.push(`replaying across gaps (allowGaps): ${gaps.join('; ')}`);
  if (w.sessionSpecific)
    warnings.push(
      `${w.sessionSpecific} transaction(s) use temporary tables (STATEMENT/MIXED format): they need the session that created them, so a replay resumed in the middle of such a session fails rather than apply them wrong`,
    );
  return {
    files: files.map((f) => f.name),
    startGtid: p.backup.gtid,
    backupTime: reader.backupTime,
    stopGtid: stop?.gtid ?? null,
    stopEndPos: stop?.endPos ?? null,
    stopTime: stop?.time ?? null,
    target: describeTarget(p.target),
    bytes: files.reduce((n, f) => n + f.size, 0),
    gaps,
    warnings,
    window: {
      files,
      checksums: files.every((f) => f.checksums === 'crc32') ? 'crc32' : 'none',
      events: reader.events,
      transactions: w.transactions,
      largestEvent: w.largestEvent,
      rowPacking: w.partial ? 'other' : 'default',
      sessionSpecific: w.sessionSpecific,
    },
    unsafeFor: unsafeFor(w, p.dialect ?? 'mariadb'),
  };
}

/** A window the chosen strategy would apply wrong is refused here, with the strategy that can apply it. */
export function refuseUnsafeStrategy(plan: ReplayPlan, strategy: ReplayStrategy, force: boolean): void {
  const why = plan.unsafeFor[strategy];
  if (!why) return;
  const other: ReplayStrategy = strategy === 'pipe' ? 'applier' : 'pipe';
  const alternative = plan.unsafeFor[other]
    ? 'no strategy can replay this window: restore to a target before that transaction'
    : force
      ? `force needs the pipe: drop force and let the ${other} apply it, or restore to a target before that transaction`
      : `use replay.strategy "${other}"${other === 'applier' ? ' (the default on MariaDB)' : ''}, or restore to a target before that transaction`;
  throw new PlanError(
    `the ${strategy} strategy cannot replay this window correctly: ${why}. ${alternative}; nothing was touched`,
  );
}
