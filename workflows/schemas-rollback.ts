// Input of perconaRollback: which recovery to undo, and the same cluster and restore datadir that
// recovery was given (the ledger beside that datadir says what it changed).
import { z } from 'zod';
import { Cluster, Dialect, RestoreTarget, RunbookCommon, Slug } from './schemas';

export const PerconaRollbackInput = z
  .object({
    ...RunbookCommon,
    /** The recovery to roll back (its recoveryId, by default its workflow id). */
    recoveryId: Slug,
    /** Every move of production waits for an approval unless the request waives it. */
    requireApproval: z.boolean().default(true),
    dialect: Dialect.default('mariadb'),
    cluster: Cluster,
    restore: RestoreTarget,
  })
  .strict();
export type PerconaRollbackInput = z.output<typeof PerconaRollbackInput>;
