// Every workflow the worker registers.
export { perconaPointInTimeRecovery } from './percona-point-in-time-recovery';
export { perconaRollback } from './percona-rollback';
export { ndbPointInTimeRecovery } from './ndb-point-in-time-recovery';
export { tungstenExternalRestore } from './tungsten-external-restore';
export { vitessSnapshotRestore, vitessShardRestore } from './vitess-snapshot-restore';
export { ndbChannelFailover } from './ndb-channel-failover';
export { restoreDrill } from './restore-drill';
export { tableRestoreAside } from './table-restore-aside';
