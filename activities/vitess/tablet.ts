// The recovery tablet of a shard: vttablet's argv with the procedure's flags, and its registration
// against the restored mysqld (the binlog password by reference, never on argv).
import type { StepOutcome } from '../../workflows/kit';
import { binlogSourceTlsIssue, goDuration } from '../../workflows/schemas-vitess';
import type { EndpointTls, SecretRef } from '../../workflows/schemas';
import { runCommand } from '../runtime/command';
import { temporaryEndpoint, type TemporaryServerSpec } from '../mysql/mysqld';
import { resolveSecret } from '../trust/secrets';
import { failure } from '../../workflows/failures';
import { parseTablet, vtctlRead } from './topology';

/** The recovery tablet of one shard, with the procedure's vttablet flags. */
export interface TabletSpec {
  alias: string;
  snapshotKeyspace: string;
  shard: string;
  dbName: string;
  /** The restored mysqld's socket (-db_socket). */
  socket: string;
  fileBackupStorageRoot: string;
  binlog: { host: string; port: number; user: string; password?: SecretRef; tls?: EndpointTls };
  pitrGtidLookupTimeout: string;
}

/** A binlog source vttablet would reach in clear (no CA, TLS not disabled on loopback) is refused. */
export function refuseClearBinlogSource(source: { tls?: EndpointTls }, what: string): void {
  const issue = binlogSourceTlsIssue(source);
  if (issue) throw failure('InvalidInput', `${what}: binlogSource.tls: ${issue}; nothing was done`);
}

/** vttablet's argv. The binlog password is never on it (argv is world-readable): see VT_BINLOG_PASSWORD. */
export function vttabletArgv(t: TabletSpec): string[] {
  return [
    'vttablet',
    '-tablet-path',
    t.alias,
    '-init_keyspace',
    t.snapshotKeyspace,
    '-init_shard',
    t.shard,
    '-init_tablet_type',
    'replica',
    '-init_db_name_override',
    t.dbName,
    '-db_socket',
    t.socket,
    '-restore_from_backup',
    '-backup_storage_implementation',
    'file',
    '-file_backup_storage_root',
    t.fileBackupStorageRoot,
    '-binlog_host',
    t.binlog.host,
    '-binlog_port',
    String(t.binlog.port),
    '-binlog_user',
    t.binlog.user,
    // vttablet connects in clear unless given a CA: the schema makes `verify` carry one.
    ...(t.binlog.tls?.mode !== 'disabled' && t.binlog.tls?.ca ? ['-binlog_ssl_ca', t.binlog.tls.ca] : []),
    ...(t.binlog.tls?.mode !== 'disabled' && t.binlog.tls?.serverName
      ? ['-binlog_ssl_server_name', t.binlog.tls.serverName]
      : []),
    '-pitr_gtid_lookup_timeout',
    goDuration(t.pitrGtidLookupTimeout),
  ];
}

/**
 * Registers the shard's recovery tablet (check-then-act: skipped when it already is, for this shard).
 * Its -db_socket is the private socket of the mysqld the runbook starts on the restored datadir.
 */
export async function registerVitessTablet(
  server: string,
  spec: Omit<TabletSpec, 'socket'>,
  mysqld: TemporaryServerSpec,
): Promise<StepOutcome> {
  const t: TabletSpec = { ...spec, socket: temporaryEndpoint(mysqld).socket! };
  refuseClearBinlogSource(t.binlog, t.alias);
  const existing = await vtctlRead(server, 'GetTablet', t.alias);
  if (existing !== null) {
    const p = parseTablet(existing);
    if (p.keyspace === t.snapshotKeyspace && p.shard === t.shard)
      return {
        skipped: true,
        evidence: [`tablet ${t.alias} is already registered for ${p.keyspace}/${p.shard}`],
      };
    throw failure(
      'TabletExists',
      `tablet ${t.alias} already exists for ${p.keyspace}/${p.shard}, not ${t.snapshotKeyspace}/${t.shard}`,
    );
  }
  // The password by reference: resolved here, handed over in the environment, never in argv or history.
  const password = await resolveSecret(t.binlog.password);
  const argv = vttabletArgv(t);
  await runCommand(argv, {
    env: password === undefined ? {} : { VT_BINLOG_PASSWORD: password },
    secrets: [password],
  });
  return {
    evidence: [
      `${argv.join(' ')}${password === undefined ? '' : ' (binlog password from its reference, in VT_BINLOG_PASSWORD)'}`,
    ],
  };
}
