// createActivities(deps) builds every activity from injected clients, so the worker passes real
// ones and unit tests pass small fakes. Workflows import the *type* only.
//
// Where each activity may run is decided here, once (ACTIVITY_PLACEMENT): `host` activities touch a
// host's files, processes or commands and run only on that host's agent (workers/host-agent.ts);
// `sql` activities only talk SQL and run on the controller — or on the server's own host when the
// server is reached by its unix socket (workflows/routing.ts), so agents serve them too.
import type { Endpoint, PerconaPitrInput, Cluster, TableFingerprint } from '../workflows/schemas';
import { openArchive } from './archive/archives';
import type { Archive } from '../workflows/schemas';
import { recordBeforeRun, restoreBackup, type RestoreRequest } from './mysql/backup';
import { fetchBackup, type FetchBackupRequest } from './mysql/backup-fetch';
import { checkCluster, pauseCluster, unpauseCluster } from './percona/cluster';
import { resolveRequest } from './trust/fleet-catalog';
import { startTemporaryServer, stopTemporaryServer, type TemporaryServerSpec } from './mysql/mysqld';
import { planPerconaRecovery } from './percona/percona';
import { replayBinlogs, type ReplayRequest } from './replay/replay';
import { proveRestoredReplay, type ProveRequest } from './replay/replay-proof';
import { recoveryState } from './percona/recovery-state';
import { removeRunFiles } from './percona/run-files';
import { checkNewServer, restoreNewServer, startNewServer } from './percona/new-server';
import { putPreviousDatadirBack, setRestoredDatadirAside, verifyClusterBack } from './percona/rollback';
import { ndbPitrActivities } from './ndb/ndb-pitr';
import { ndbFailoverActivities } from './ndb/ndb-failover';
import { keepAlive } from './runtime/command';
import { SqlPools } from './mysql/sql';
import { tungstenActivities } from './tungsten/tungsten';
import { verifyRestore } from './mysql/verify';
import { vitessActivities } from './vitess/vitess';
import { saveRunReport, type SaveReportRequest } from './report/save-report';
import { findAccidentIn } from './archive/accident-activity';
import type { FindQuery } from './archive/accident-finder';
import { drillActivities } from './drill/drill';
import { recordRates } from './runtime/rates';
import { asideActivities } from './aside/aside';

export interface ActivityDeps {
  sql: SqlPools;
}

export function createActivities(deps: ActivityDeps = { sql: new SqlPools() }) {
  const { sql } = deps;
  return {
    resolveRequest: (req: { kind: string; request: unknown }) => resolveRequest(req.kind, req.request),
    planPerconaRecovery: (input: PerconaPitrInput & { recoveryId: string }) =>
      keepAlive({ doing: 'planning the replay window' }, () => planPerconaRecovery(sql, input)),
    checkCluster: (cluster: Cluster) => checkCluster(sql, cluster),
    pauseCluster: (cluster: Cluster) => pauseCluster(sql, cluster),
    unpauseCluster: (cluster: Cluster) => unpauseCluster(sql, cluster),
    fetchBackup: (req: FetchBackupRequest) => fetchBackup(req),
    restoreBackup: (req: RestoreRequest) => restoreBackup(req),
    startTemporaryServer: (spec: TemporaryServerSpec & { backupGtid: string }) =>
      startTemporaryServer(sql, spec),
    stopTemporaryServer: (spec: TemporaryServerSpec) => stopTemporaryServer(sql, spec),
    replayBinlogs: async (archive: Archive, req: ReplayRequest) =>
      replayBinlogs(sql, await openArchive(archive), req),
    proveReplay: async (archive: Archive, req: ProveRequest) =>
      proveRestoredReplay(sql, await openArchive(archive), req),
    verifyRestore: (
      endpoint: Endpoint,
      verify: { schemas?: string[]; expected?: Record<string, TableFingerprint> },
    ) => verifyRestore(sql, endpoint, verify),
    checkNewServer: (req: Parameters<typeof checkNewServer>[0]) => checkNewServer(req),
    restoreNewServer: (req: Parameters<typeof restoreNewServer>[0]) => restoreNewServer(req),
    startNewServer: (req: Parameters<typeof startNewServer>[1]) => startNewServer(sql, req),
    recordBeforeRun: (req: Parameters<typeof recordBeforeRun>[0]) => recordBeforeRun(req),
    removeRunFiles: (req: Parameters<typeof removeRunFiles>[0]) => removeRunFiles(req),
    recoveryState: (req: { recoveryId: string; datadir: string }) => recoveryState(req),
    setRestoredDatadirAside: (req: { recoveryId: string; datadir: string }) => setRestoredDatadirAside(req),
    putPreviousDatadirBack: (req: { recoveryId: string; datadir: string }) => putPreviousDatadirBack(req),
    verifyClusterBack: (req: { recoveryId: string; datadir: string; cluster: Cluster }) =>
      verifyClusterBack(sql, req),
    saveRunReport: (req: SaveReportRequest) => saveRunReport(req),
    findAccident: (archive: Archive, query: FindQuery) => findAccidentIn(archive, query),
    recordRates: (req: Parameters<typeof recordRates>[0]) => recordRates(req),
    ...ndbPitrActivities(sql),
    ...ndbFailoverActivities(sql),
    ...tungstenActivities(sql),
    ...vitessActivities(sql),
    ...asideActivities(sql),
    ...drillActivities(sql),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type ActivityName = keyof Activities;

/**
 * `host`: files, processes or commands of one host. `sql`: SQL only, from wherever the server is
 * reachable. `controller`: only where workflows run (the fleet catalog is read there), never on an agent.
 */
export type Placement = 'host' | 'sql' | 'controller';

/** Every activity, classified; a new activity does not compile until it is placed here. */
export const ACTIVITY_PLACEMENT = {
  resolveRequest: 'controller', // a request + the fleet catalog on the controller = the runbook's input
  // Percona PITR
  planPerconaRecovery: 'host', // reads the backup dir, stages and scans archived binlogs (restore host)
  checkCluster: 'host', // the cluster's pid file, or kubectl
  pauseCluster: 'host', // stops the cluster's mysqld / kubectl patch
  unpauseCluster: 'host', // starts it again
  fetchBackup: 'host', // a catalog's stream downloaded, extracted and prepared in the restore host's staging
  restoreBackup: 'host', // copy-back into the datadir
  startTemporaryServer: 'host', // spawns mysqld on the restored datadir
  stopTemporaryServer: 'host',
  replayBinlogs: 'host', // mariadb-binlog | mariadb, staging files
  proveReplay: 'host', // reads the restored datadir's binlog and the staged archive files
  verifyRestore: 'sql', // row counts and CHECKSUM TABLE
  checkNewServer: 'host', // the new server's datadir, port and socket (read-only)
  restoreNewServer: 'host', // copy-back into the new server's empty datadir
  startNewServer: 'host', // spawns the new server, left running
  // Percona rollback (and the state a failed recovery reports)
  recordBeforeRun: 'host', // the ledger beside the restore datadir
  removeRunFiles: 'host', // the run's staging and runtime directories
  recoveryState: 'host', // the ledger beside the datadir, the datadirs, the temporary mysqld's pid file
  setRestoredDatadirAside: 'host',
  putPreviousDatadirBack: 'host',
  verifyClusterBack: 'host', // the cluster's GTID state, then the ledger beside the datadir
  // Every runbook as it ends
  saveRunReport: 'host', // the report beside the ledger of the run's datadir (or the state directory)
  // Find the accident (runbook find; a plan may call it too)
  findAccident: 'host', // reads (and stages) the archived binlogs of a window; changes nothing
  recordRates: 'host', // the restore host's measured rates, in its state directory (RTO estimate)
  // NDB PITR
  takeNdbBackup: 'host', // ndb_mgm
  backupBinlogIndex: 'host', // mariadb-dump and binlog files into the archive dir
  resolveFailurePoint: 'host', // scans the archived binlog files
  locateNdbBackup: 'host', // reads BackupDataDir, ndb_restore --print
  checkFileExists: 'host',
  stopDataNodes: 'host', // ndb_mgm ALL STOP
  initialRestartDataNode: 'host', // ndbd/ndbmtd --initial
  truncateBinlogIndex: 'sql',
  restoreNdbBackup: 'host', // ndb_restore
  restoreBinlogIndex: 'host', // reads the dump file
  findLatestEpoch: 'sql',
  findStartPosition: 'sql',
  replayNdbBinlogs: 'host', // mariadb-binlog over the archive dir
  // NDB channel failover: SQL only
  inspectReplicaNode: 'sql',
  readLatestAppliedEpoch: 'sql',
  locateFailoverStart: 'sql',
  stopReplicationChannel: 'sql',
  repointSecondaryChannel: 'sql',
  startSecondaryChannel: 'sql',
  readSourceBinlogPosition: 'sql',
  awaitSecondaryCaughtUp: 'sql',
  // Tungsten: trepctl, thl, dsctl run where the replicator runs
  inspectTungstenReplica: 'host',
  inspectPrimaryThl: 'host',
  replicatorOffline: 'host',
  purgeThl: 'host',
  stopDatabaseForRestore: 'host',
  resetCommitSeqno: 'host',
  replicatorOnline: 'host',
  awaitReplicatorOnline: 'host',
  // Vitess: vtctlclient, the file backup storage, staging of binlogs
  checkVitessTopology: 'host',
  chooseVitessBackups: 'host',
  findSnapshotGtid: 'host',
  createSnapshotKeyspace: 'host',
  copySnapshotVSchema: 'host',
  registerVitessTablet: 'host', // runs recorded before the runbook owned the restore (refuses)
  startVitessTablet: 'host', // a supervised vttablet serving the restored mysqld
  prepareDrill: 'controller', // the catalog's drill section; the marker and fingerprints on the source (SQL)
  checkDrillTables: 'host', // CHECK TABLE on the scratch server, by its socket on its host
  teardownDrill: 'host', // stops the scratch server, removes the datadir the drill's recovery created
  recordDrill: 'controller', // the drill's record in the controller's state dir (runbook drills reads it)
  alertDrill: 'controller', // the signed alert; the secret resolved on the controller
  // Table-level restore aside: on the scratch server's host (its socket), production by its connection
  checkAside: 'host', // the backup directory's files, production's @@datadir (read-only)
  checkRestoredTables: 'host',
  diffAside: 'host', // read-only on production, one consistent snapshot per table
  copyBackAside: 'host', // new tables in production (approved), or dump files in the host's state dir
} as const satisfies Record<ActivityName, Placement>;

export const HOST_ACTIVITIES = placed('host');
export const SQL_ACTIVITIES = placed('sql');
export const CONTROLLER_ACTIVITIES = placed('controller');

function placed(p: Placement): ActivityName[] {
  return (Object.keys(ACTIVITY_PLACEMENT) as ActivityName[]).filter((n) => ACTIVITY_PLACEMENT[n] === p);
}

type Some = Partial<Record<ActivityName, (...args: never[]) => Promise<unknown>>>;

/** The activities of the given names, built from one set of deps. */
export function pickActivities(deps: ActivityDeps, names: readonly ActivityName[]): Some {
  const all = createActivities(deps) as Some;
  return Object.fromEntries(names.map((n) => [n, all[n]]));
}
