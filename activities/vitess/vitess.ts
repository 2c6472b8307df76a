// Vitess point-in-time recovery, the side effects. Two kinds:
// - topology bookkeeping through the Vitess tools, argv only: `vtctlclient -server … CreateKeyspace
//   -keyspace_type=SNAPSHOT …`, `GetKeyspace`, `GetTablet`, `GetVSchema`, `ApplyVSchema`, and the
//   recovery tablet of a shard: a supervised `vttablet` serving the restored mysqld (tablet-process.ts);
// - the real work on MariaDB: choosing each shard's backup from the backup storage's MANIFESTs, and
//   finding the GTID for the snapshot time in the shard's binlogs within -pitr_gtid_lookup_timeout.
//   The restore, the shard's mysqld and the binlog replay are the shared activities (backup.ts,
//   mysqld.ts, replay.ts).
// Each concern has its own file: topology.ts, backups.ts, gtid-lookup.ts, tablet.ts, tablet-process.ts.
import type { SqlPools } from '../mysql/sql';
import { chooseVitessBackups } from './backups';
import { findSnapshotGtid } from './gtid-lookup';
import { registerVitessTablet } from './tablet';
import { startVitessTablet, type StartTabletRequest } from './tablet-process';
import { checkVitessTopology, copySnapshotVSchema, createSnapshotKeyspace } from './topology';

export function vitessActivities(sql: SqlPools) {
  return {
    checkVitessTopology,
    chooseVitessBackups,
    findSnapshotGtid,
    createSnapshotKeyspace,
    copySnapshotVSchema,
    registerVitessTablet,
    startVitessTablet: (req: StartTabletRequest) => startVitessTablet(sql, req),
  };
}
