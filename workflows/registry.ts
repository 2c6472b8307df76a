// The runbooks, in one table: their input schema, their steps (destructive ones marked) and the
// procedure each follows. The CLI and the webhook read it; workflows do not import it.
import type { z } from 'zod';
import type { StepSpec } from './kit';
import { NDB_FAILOVER_STEPS } from './ndb-channel-failover';
import { NDB_PITR_STEPS } from './ndb-point-in-time-recovery';
import { PERCONA_STEPS } from './percona-point-in-time-recovery';
import { ROLLBACK_STEPS } from './percona-rollback';
import { PerconaRollbackInput } from './schemas-rollback';
import { PerconaPitrInput } from './schemas';
import { NdbChannelFailoverInput } from './schemas-ndb-failover';
import { NdbPitrInput } from './schemas-ndb-pitr';
import { TungstenExternalRestoreInput } from './schemas-tungsten';
import { VitessSnapshotRestoreInput } from './schemas-vitess';
import { TUNGSTEN_STEPS } from './tungsten-external-restore';
import { VITESS_STEPS } from './vitess-snapshot-restore';

export interface RunbookSpec {
  kind: string;
  procedure: string;
  schema: z.ZodType;
  steps: StepSpec[];
}

export const RUNBOOKS: RunbookSpec[] = [
  {
    kind: 'perconaPointInTimeRecovery',
    procedure: 'Percona operator point-in-time recovery',
    schema: PerconaPitrInput,
    steps: PERCONA_STEPS,
  },
  {
    kind: 'perconaRollback',
    procedure: 'Rollback of a Percona point-in-time recovery (production back as it was before it)',
    schema: PerconaRollbackInput,
    steps: ROLLBACK_STEPS,
  },
  {
    kind: 'ndbPointInTimeRecovery',
    procedure: 'NDB Cluster PITR via NDB Cluster Replication',
    schema: NdbPitrInput,
    steps: NDB_PITR_STEPS,
  },
  {
    kind: 'ndbChannelFailover',
    procedure: 'NDB Cluster replication channel failover',
    schema: NdbChannelFailoverInput,
    steps: NDB_FAILOVER_STEPS,
  },
  {
    kind: 'tungstenExternalRestore',
    procedure: 'Tungsten: restoring an external backup',
    schema: TungstenExternalRestoreInput,
    steps: TUNGSTEN_STEPS,
  },
  {
    kind: 'vitessSnapshotRestore',
    procedure: 'Vitess point-in-time recovery into a SNAPSHOT keyspace',
    schema: VitessSnapshotRestoreInput,
    steps: VITESS_STEPS,
  },
];

export function runbookOf(kind: string): RunbookSpec | undefined {
  return RUNBOOKS.find((r) => r.kind === kind);
}
