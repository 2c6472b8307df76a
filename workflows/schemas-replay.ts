// How a point-in-time recovery applies the binlogs (part of the Percona input): the strategy and its
// threads, and the strategy a run uses when none is asked for.
import { z } from 'zod';

export const ReplayStrategy = z.enum(['pipe', 'applier']);
export type ReplayStrategy = z.output<typeof ReplayStrategy>;
/**
 * How the binlogs are applied: `pipe` (mysqlbinlog | mysql, one client session) or `applier` (the
 * restored server replicates from a throwaway server that serves the archived files; parallel when
 * parallelThreads > 1). Without a strategy: the applier on MariaDB, the pipe under force or on MySQL.
 */
export const ReplayOptions = z
  .object({
    strategy: ReplayStrategy.optional(),
    parallelThreads: z.number().int().min(1).max(64).default(1),
  })
  .strict();

/** The strategy a run uses: the one asked for, else the faster one where it is safe. */
export function replayStrategyOf(v: {
  dialect: 'mariadb' | 'mysql';
  force: boolean;
  replay: { strategy?: ReplayStrategy };
}): ReplayStrategy {
  return v.replay.strategy ?? (v.dialect === 'mariadb' && !v.force ? 'applier' : 'pipe');
}
