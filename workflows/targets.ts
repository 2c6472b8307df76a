import type { ReplayPlan, TransactionRef } from '../activities/replay/replay-plan';
import type { RecoveryTarget } from './schemas';

/** Short form of a target for the RecoveryTarget search attribute, e.g. `time:2026-11-22T03:12:00Z`. */
export function describeTargetBrief(t: RecoveryTarget): string {
  switch (t.type) {
    case 'time':
      return `time:${t.time}`;
    case 'gtid':
      return `gtid:${t.gtid}${t.exclusive ? ':exclusive' : ''}`;
    case 'position':
      return `position:${t.file}:${t.position}`;
    case 'latest':
      return 'latest';
  }
}

type PlannedCut = Pick<ReplayPlan, 'stopGtid' | 'stopTime' | 'sameSecond' | 'target'>;
const isoSeconds = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
const named = (t: TransactionRef) =>
  `${t.gtid} (${isoSeconds(t.time)}, ${t.file}:${t.position}${t.statement ? `, "${t.statement}"` : ''}${t.tables.length ? `, ${t.tables.join(' ')}` : ''})`;

/**
 * What a target means, said out loud in the plan: GTID and position targets are exact; a time target
 * is whole-second, so the plan names the last transaction applied and every one stamped in the
 * target's second, none of which is applied.
 */
export function describeCut(t: RecoveryTarget, plan: PlannedCut): string[] {
  if (t.type !== 'time')
    return [
      `${plan.target}: exact (${t.type === 'latest' ? 'everything archived' : 'binlog positions and GTIDs name one transaction'})`,
    ];
  const cut = plan.sameSecond;
  const lines = [
    `${plan.target}: binlog time has whole seconds, so every transaction stamped before ${t.time} is applied and none stamped at or after it` +
      (cut?.lastApplied ? `; the last applied is ${named(cut.lastApplied)}` : ''),
  ];
  if (!cut) return lines;
  if (cut.count === 0)
    lines.push(`no transaction is stamped in the target's second: nothing is left out at the cut`);
  else
    lines.push(
      `left out, stamped in the target's second (${cut.count}): ${cut.left.map(named).join('; ')}${cut.count > cut.left.length ? '; …' : ''}`,
    );
  return lines;
}
