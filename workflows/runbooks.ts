// Every runbook, declared once: its kind (the workflow type), the procedure it follows, its input
// schema, its steps (destructive ones marked; a step a workflow did not declare here does not
// compile), the fields a request may set, the search-attribute facts its runs carry, and checks of an
// input beyond the schema. Workflows, the fleet catalog, the CLI and the webhook all read this file;
// none of them loads workflow code to learn a runbook. Pure code.
import type { z } from 'zod';
import type { StepSpec } from './kit';
import { NdbChannelFailoverInput } from './schemas-ndb-failover';
import { NdbPitrInput } from './schemas-ndb-pitr';
import { PerconaRollbackInput } from './schemas-rollback';
import { PerconaPitrInput } from './schemas';
import { TungstenExternalRestoreInput } from './schemas-tungsten';
import { binlogTlsIssues, VitessSnapshotRestoreInput, vitessTopoIssues } from './schemas-vitess';
import { describeTargetBrief } from './targets';
import { TableRestoreAsideInput } from './schemas-aside';

/** The search attributes a run carries (Cluster, RecoveryTarget), known from its input before it starts. */
export interface RunbookFacts {
  cluster: string;
  target: string;
}

export interface RunbookDeclaration<S extends z.ZodType = z.ZodType, N extends string = string> {
  kind: string;
  procedure: string;
  schema: S;
  steps: readonly StepSpec<N>[];
  /** The target and the options of the procedure a request may choose (plus the common ones). */
  requestFields: readonly string[];
  facts(input: z.output<S>): RunbookFacts;
  /** Problems of an input the schema does not judge (kept out of it so that recorded runs replay). */
  inputChecks?: (input: unknown) => string[];
}

/** Keeps the step names as literal types, so `rb.step('…')` is checked against the declaration. */
function declare<S extends z.ZodType, const N extends string>(d: RunbookDeclaration<S, N>) {
  return d;
}

export const PERCONA_PITR = declare({
  kind: 'perconaPointInTimeRecovery',
  procedure: 'Percona operator point-in-time recovery',
  schema: PerconaPitrInput,
  steps: [
    { name: 'locate-binlogs' },
    { name: 'fetch-backup' },
    { name: 'pause-cluster', destructive: true },
    { name: 'restore-backup', destructive: true },
    { name: 'start-temporary-mysqld' },
    { name: 'replay-binlogs' },
    { name: 'verify' },
    { name: 'stop-temporary-mysqld' },
    // New-server mode only: the verified datadir started as the new server and left running.
    { name: 'start-new-server' },
    { name: 'unpause-cluster' },
  ],
  requestFields: ['target', 'backupName', 'allowGaps', 'force', 'verify', 'replay', 'restoreTo'],
  facts: (i) => ({ cluster: i.cluster.name, target: describeTargetBrief(i.target) }),
});

export const PERCONA_ROLLBACK = declare({
  kind: 'perconaRollback',
  procedure: 'Rollback of a Percona point-in-time recovery (production back as it was before it)',
  schema: PerconaRollbackInput,
  steps: [
    { name: 'inspect' },
    { name: 'stop-temporary-mysqld' },
    { name: 'pause-cluster', destructive: true },
    { name: 'set-restored-datadir-aside', destructive: true },
    { name: 'put-back-previous-datadir', destructive: true },
    { name: 'start-cluster' },
    { name: 'verify-cluster' },
  ],
  requestFields: [],
  facts: (i) => ({ cluster: i.cluster.name, target: `rollback:${i.recoveryId}` }),
});

export const NDB_PITR = declare({
  kind: 'ndbPointInTimeRecovery',
  procedure: 'NDB Cluster PITR via NDB Cluster Replication',
  schema: NdbPitrInput,
  steps: [
    { name: 'backup-cluster' },
    { name: 'backup-binlog-index' },
    { name: 'failure-point' },
    { name: 'locate-backup' },
    { name: 'stop-data-nodes', destructive: true },
    { name: 'initial-restart-data-nodes', destructive: true },
    { name: 'truncate-binlog-index', destructive: true },
    { name: 'restore-backup' },
    { name: 'restore-binlog-index' },
    { name: 'find-latest-epoch' },
    { name: 'find-start-position' },
    { name: 'replay-binlogs' },
    { name: 'verify' },
  ],
  requestFields: ['failurePoint', 'verify'],
  facts: (i) => {
    const fp = i.failurePoint;
    return {
      cluster: i.cluster.name,
      target:
        fp.type === 'epoch'
          ? `epoch:${fp.epoch}`
          : fp.type === 'time'
            ? `time:${fp.time}`
            : `position:${fp.file}:${fp.position}`,
    };
  },
});

export const NDB_FAILOVER = declare({
  kind: 'ndbChannelFailover',
  procedure: 'NDB Cluster replication channel failover',
  schema: NdbChannelFailoverInput,
  steps: [
    { name: 'check-channels' },
    { name: 'stop-primary-channel', destructive: true },
    { name: 'find-latest-epoch' },
    { name: 'find-start-position' },
    { name: 'change-master', destructive: true },
    { name: 'start-slave' },
    { name: 'verify-replication' },
  ],
  requestFields: ['form', 'stopPrimary', 'waitForCatchUp', 'catchUpTimeout'],
  facts: (i) => ({ cluster: i.cluster, target: `channel:${i.secondary.channel || 'default'}:${i.form}` }),
});

export const TUNGSTEN_RESTORE = declare({
  kind: 'tungstenExternalRestore',
  procedure: 'Tungsten: restoring an external backup',
  schema: TungstenExternalRestoreInput,
  steps: [
    { name: 'plan' },
    { name: 'replicator-offline' },
    { name: 'purge-thl', destructive: true },
    { name: 'stop-database', destructive: true },
    { name: 'restore-backup', destructive: true },
    { name: 'start-database' },
    { name: 'reset-commit-seqno' },
    { name: 'replicator-online' },
    { name: 'await-online' },
    { name: 'verify' },
  ],
  requestFields: ['thlLookup', 'onlineTimeout', 'verify'],
  facts: (i) => ({ cluster: i.replica.name, target: `backup:${i.backup.dir}` }),
});

export const VITESS_SNAPSHOT = declare({
  kind: 'vitessSnapshotRestore',
  procedure: 'Vitess point-in-time recovery into a SNAPSHOT keyspace',
  schema: VitessSnapshotRestoreInput,
  steps: [
    { name: 'check-keyspaces' },
    { name: 'choose-backups' },
    { name: 'find-snapshot-gtids' },
    { name: 'create-snapshot-keyspace', destructive: true },
    { name: 'restore-shards', destructive: true },
    { name: 'copy-vschema' },
  ],
  requestFields: ['snapshotKeyspace', 'snapshotTime', 'pitrGtidLookupTimeout'],
  facts: (i) => ({ cluster: i.baseKeyspace, target: `time:${i.snapshotTime}` }),
  inputChecks: (i) => [...binlogTlsIssues(i), ...vitessTopoIssues(i)],
});

export const TABLE_RESTORE_ASIDE = declare({
  kind: 'tableRestoreAside',
  procedure:
    'Table-level restore aside: chosen tables recovered into a scratch server, compared, copied back under new names',
  schema: TableRestoreAsideInput,
  steps: [
    { name: 'locate-binlogs' },
    { name: 'fetch-backup' },
    { name: 'restore-backup', destructive: true },
    { name: 'start-temporary-mysqld' },
    { name: 'replay-binlogs' },
    { name: 'verify' },
    { name: 'diff-against-production' },
    { name: 'copy-back', destructive: true },
    { name: 'stop-temporary-mysqld' },
  ],
  requestFields: ['tables', 'target', 'restoreTo', 'copy', 'backupName', 'allowGaps'],
  facts: (i) => ({
    cluster: i.cluster.name,
    target: `aside:${i.tables.join(',')}@${describeTargetBrief(i.target)}`.slice(0, 200),
  }),
});

/** The runbooks a user can start, in the order the CLI lists them. */
export const RUNBOOKS: readonly RunbookDeclaration[] = [
  PERCONA_PITR,
  PERCONA_ROLLBACK,
  NDB_PITR,
  NDB_FAILOVER,
  TUNGSTEN_RESTORE,
  VITESS_SNAPSHOT,
  TABLE_RESTORE_ASIDE,
] as unknown as readonly RunbookDeclaration[];

export function runbookOf(kind: string): RunbookDeclaration | undefined {
  return RUNBOOKS.find((r) => r.kind === kind);
}
