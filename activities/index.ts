// createActivities(deps) builds every activity from injected clients, so the worker passes real
// ones and unit tests pass small fakes. Workflows import the *type* only.
import type { Endpoint, PerconaPitrInput, Cluster, TableFingerprint } from '../workflows/schemas';
import { openArchive } from './archives';
import type { Archive } from '../workflows/schemas';
import { restoreBackup, type RestoreRequest } from './backup';
import { pauseCluster, unpauseCluster } from './cluster';
import { startTemporaryServer, stopTemporaryServer, type TemporaryServerSpec } from './mysqld';
import { planPerconaRecovery } from './percona';
import { replayBinlogs, type ReplayRequest } from './replay';
import { ndbPitrActivities } from './ndb-pitr';
import { ndbFailoverActivities } from './ndb-failover';
import { keepAlive } from './command';
import { SqlPools } from './sql';
import { tungstenActivities } from './tungsten';
import { verifyRestore } from './verify';
import { vitessActivities } from './vitess';

export interface ActivityDeps {
  sql: SqlPools;
}

export function createActivities(deps: ActivityDeps = { sql: new SqlPools() }) {
  const { sql } = deps;
  return {
    planPerconaRecovery: (input: PerconaPitrInput & { recoveryId: string }) =>
      keepAlive({ step: 'locate-binlogs' }, () => planPerconaRecovery(sql, input)),
    pauseCluster: (cluster: Cluster) => pauseCluster(cluster),
    unpauseCluster: (cluster: Cluster) => unpauseCluster(sql, cluster),
    restoreBackup: (req: RestoreRequest) => restoreBackup(req),
    startTemporaryServer: (spec: TemporaryServerSpec & { backupGtid: string }) =>
      startTemporaryServer(sql, spec),
    stopTemporaryServer: (spec: TemporaryServerSpec) => stopTemporaryServer(sql, spec),
    replayBinlogs: async (archive: Archive, req: ReplayRequest) =>
      replayBinlogs(sql, await openArchive(archive), req),
    verifyRestore: (
      endpoint: Endpoint,
      verify: { schemas?: string[]; expected?: Record<string, TableFingerprint> },
    ) => verifyRestore(sql, endpoint, verify),
    ...ndbPitrActivities(sql),
    ...ndbFailoverActivities(sql),
    ...tungstenActivities(sql),
    ...vitessActivities(sql),
  };
}

export type Activities = ReturnType<typeof createActivities>;
