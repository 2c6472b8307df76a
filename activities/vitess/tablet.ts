// The recovery tablet of a shard: the vttablet that serves the runbook's restored mysqld as the
// SNAPSHOT keyspace's tablet. The runbook owns the restore (docs/vitess-snapshot-restore.md, "Who
// restores"), so vttablet gets neither -restore_from_backup nor any -binlog_* flag: it never restores,
// never replays and never holds the binlog server's password.
import type { StepOutcome } from '../../workflows/kit';
import { binlogSourceTlsIssue, type VitessTopo } from '../../workflows/schemas-vitess';
import type { EndpointTls, SecretRef } from '../../workflows/schemas';
import { failure } from '../../workflows/failures';

/** The recovery tablet of one shard, as the parent workflow hands it to the shard's child. */
export interface TabletSpec {
  alias: string;
  snapshotKeyspace: string;
  shard: string;
  dbName: string;
  /** Runs started before the runbook owned the restore passed these to vttablet; now only the runbook's GTID lookup reads the binlog source. */
  fileBackupStorageRoot: string;
  binlog: { host: string; port: number; user: string; password?: SecretRef; tls?: EndpointTls };
  pitrGtidLookupTimeout: string;
}

/** What vttablet is started with: all of it from the catalog and the run, nothing secret. */
export interface TabletServe {
  alias: string;
  keyspace: string;
  shard: string;
  dbName: string;
  topo: VitessTopo;
  /** The restored mysqld's socket (-db_socket) and the user vttablet connects as. */
  socket: string;
  user: string;
  /** -db-credentials-file (JSON user → passwords, mode 0600 in the state dir) when the user has a password. */
  credentialsFile?: string;
  /** The status page (-port: /debug/health, /debug/status) and the gRPC port (-grpc_port). */
  port: number;
  grpcPort: number;
}

/** A binlog source the runbook's own client would reach in clear (no CA, TLS not disabled on loopback) is refused. */
export function refuseClearBinlogSource(source: { tls?: EndpointTls }, what: string): void {
  const issue = binlogSourceTlsIssue(source);
  if (issue) throw failure('InvalidInput', `${what}: binlogSource.tls: ${issue}; nothing was done`);
}

/** The database users vttablet connects as (go/vt/dbconfigs): all the catalog's tablet user. */
const DB_ROLES = ['app', 'appdebug', 'allprivs', 'dba', 'filtered', 'repl'] as const;

/**
 * vttablet's argv (v7–v12 single-dash flags). No password is on it: the mysqld user's password goes
 * through -db-credentials-file, and there is no binlog password because vttablet does not restore.
 */
export function vttabletArgv(t: TabletServe): string[] {
  return [
    'vttablet',
    '-topo_implementation',
    t.topo.implementation,
    '-topo_global_server_address',
    t.topo.globalServerAddress,
    '-topo_global_root',
    t.topo.globalRoot,
    '-tablet-path',
    t.alias,
    '-init_keyspace',
    t.keyspace,
    '-init_shard',
    t.shard,
    '-init_tablet_type',
    'replica',
    '-init_db_name_override',
    t.dbName,
    '-port',
    String(t.port),
    '-grpc_port',
    String(t.grpcPort),
    '-db_socket',
    t.socket,
    ...DB_ROLES.flatMap((r) => [`-db_${r}_user`, t.user]),
    ...(t.credentialsFile
      ? ['-db-credentials-server', 'file', '-db-credentials-file', t.credentialsFile]
      : []),
    // A snapshot tablet must not chase a primary: there is none for a SNAPSHOT keyspace.
    '-disable_active_reparents',
  ];
}

/**
 * Runs started before the runbook owned the restore registered the tablet first, with
 * -restore_from_backup and the binlog flags: a real vttablet would then restore by itself over the
 * runbook's datadir, and serve forever instead of exiting. Such a run is stopped here, before it
 * touches anything; a new run with the same recoveryId takes the current path.
 */
export async function registerVitessTablet(): Promise<StepOutcome> {
  throw failure(
    'InvalidInput',
    'this run was started by an older version that registered vttablet with -restore_from_backup before the restore: ' +
      'nothing was started or changed by this step. Start the recovery again with the same recoveryId: ' +
      'it restores the shard itself and then starts vttablet to serve it',
  );
}
