// Tungsten's tools as the plan reads them (nothing changes): trepctl for the replicator's status, the
// Replica's backup and server, and the Primary's THL (thl list/dsctl) for the backup position's seqno.
import { ApplicationFailure } from '@temporalio/activity';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dialect, Endpoint } from '../../workflows/schemas';
import { inspectBackup, type BackupInfo } from '../mysql/backup';
import { CommandError, runCommand } from '../runtime/command';
import {
  checkService,
  parseEventId,
  parseThlDsctl,
  parseThlHeaders,
  parseThlInfo,
  parseTrepctlStatus,
  parseTrepctlVersion,
  isSupportedVersion,
  positionEventId,
  SUPPORTED_MAJORS,
  samePosition,
  type ReplicatorStatus,
  type ThlEvent,
  type TungstenVersion,
} from './tungsten-output';
import { checkReachable, checkSecretsResolve } from '../mysql/preflight';
import { livePid } from '../runtime/processes';
import { describeEndpoint, type SqlPools } from '../mysql/sql';
import { failure } from '../../workflows/failures';

export interface TungstenService {
  service: string;
  /** Directory of trepctl/thl/dsctl; default: PATH. */
  bin?: string;
}

export function tool(t: TungstenService, name: 'trepctl' | 'thl' | 'dsctl'): string {
  return t.bin ? join(t.bin, name) : name;
}

export function commandMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function replicatorStatus(t: TungstenService): Promise<ReplicatorStatus> {
  const { stdout } = await runCommand([tool(t, 'trepctl'), '-service', checkService(t.service), 'status']);
  const s = parseTrepctlStatus(stdout);
  if (s.serviceName !== t.service)
    throw failure('BadToolOutput', `trepctl answered for service ${s.serviceName}, not ${t.service}`);
  return s;
}

/**
 * `trepctl -service <svc> version` on this host, refused unless it is a release whose tools this
 * runbook speaks (SUPPORTED_MAJORS): on 5.x, `thl list -event` and `thl dsctl` do not exist, and
 * their failure would otherwise read as "no seqno for the backup's position".
 */
export async function checkTungstenVersion(t: TungstenService, where: string): Promise<TungstenVersion> {
  const { stdout } = await runCommand([tool(t, 'trepctl'), '-service', checkService(t.service), 'version']);
  const v = parseTrepctlVersion(stdout);
  const supported = SUPPORTED_MAJORS.map((m) => `${m}.x`).join(' and ');
  if (!v)
    throw failure(
      'UnsupportedVersion',
      `cannot tell the Tungsten release on ${where}: trepctl version printed ${JSON.stringify(stdout.slice(0, 200))}; this runbook supports Tungsten ${supported}. Nothing was changed.`,
    );
  if (!isSupportedVersion(v))
    throw failure(
      'UnsupportedVersion',
      `${v.release} on ${where} is not supported: this runbook supports Tungsten ${supported} (the procedure's \`thl list -event … -headers\` and \`thl dsctl\` exist from 6.x). Nothing was changed.`,
    );
  return v;
}

export interface ReplicaPlanRequest extends TungstenService {
  backupDir: string;
  tool?: string;
  dialect: Dialect;
  /** The Replica's server, which steps 3–4 stop, start and query (replica.connection, replica.pidFile). */
  server?: { connection: Endpoint; pidFile: string };
}

/**
 * Plan, on the Replica's host (reads only): the replicator knows the service; the backup is
 * prepared, has its binlog position, and holds the tungsten_<svc> schema the procedure requires.
 */
export async function inspectTungstenReplica(
  sql: SqlPools,
  req: ReplicaPlanRequest,
): Promise<{ backup: BackupInfo; replicator: ReplicatorStatus; evidence: string[] }> {
  const serverEvidence = req.server ? await checkReplicaServer(sql, req.server) : [];
  let replicator: ReplicatorStatus;
  try {
    replicator = await replicatorStatus(req);
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    throw failure(
      'UnknownService',
      `the replication service "${req.service}" is not known to trepctl on this host (${commandMessage(err)}); check the service name (trepctl services) and that the replicator is running`,
    );
  }
  const version = await checkTungstenVersion(req, 'the Replica');
  const backup = await inspectBackup(req.backupDir, req.dialect, req.tool);
  const schema = join(backup.dir, `tungsten_${req.service}`);
  const table = await Promise.all(
    ['trep_commit_seqno.ibd', 'trep_commit_seqno.frm'].map((f) => stat(join(schema, f)).catch(() => null)),
  );
  if (!table.some(Boolean))
    throw failure(
      'BadBackup',
      `backup ${backup.dir} does not contain tungsten_${req.service}.trep_commit_seqno: the Tungsten schema must be part of the backup, or the replicator cannot restart at the right point (see "Creating an External Backup")`,
    );
  return {
    backup,
    replicator,
    evidence: [
      `replicator ${req.service}: ${replicator.state}, role ${replicator.role}, applied seqno ${replicator.appliedLastSeqno}; ${version.release}`,
      `backup ${backup.dir} at ${backup.file}:${backup.position}, with tungsten_${req.service}.trep_commit_seqno`,
      ...serverEvidence,
    ],
  };
}

/**
 * Before replicator-offline: the Replica's password resolves here (reset-commit-seqno reads it on this
 * host; verify reads it on the controller when the connection is TCP, which this cannot check), and
 * the running server accepts the connection. A server already stopped (a run again after
 * stop-database) is not connected to: start-database starts it.
 */
async function checkReplicaServer(
  sql: SqlPools,
  server: { connection: Endpoint; pidFile: string },
): Promise<string[]> {
  await checkSecretsResolve({ replica: { connection: server.connection } });
  const pid = await livePid(server.pidFile);
  if (!pid) return [`Replica server not running (pid file ${server.pidFile}): not connected to`];
  await checkReachable(sql, server.connection, 'replica.connection');
  return [`Replica server ${describeEndpoint(server.connection)} answers (pid ${pid})`];
}

export interface PrimaryThlRequest extends TungstenService {
  /** The backup's binlog position; null when no seqno is needed (a backup of a Replica). */
  position: { file: string; position: number } | null;
  lookup: 'list' | 'dsctl';
}

/**
 * Plan, on the Primary's host (reads only): the newest seqno of its THL and, for a backup of the
 * Primary, the THL event that ends at the backup's binlog position (its seqno, epoch, event id and
 * source id: the arguments of step 4's `dsctl set`). Not found → refused before anything is touched.
 */
export async function inspectPrimaryThl(
  req: PrimaryThlRequest,
): Promise<{ event: ThlEvent | null; newestSeqno: number; evidence: string[] }> {
  const thl = tool(req, 'thl');
  const svc = checkService(req.service);
  const info = await runCommand([thl, '-service', svc, 'info']).then(
    (r) => parseThlInfo(r.stdout),
    (err: unknown) => {
      throw failure(
        'UnknownService',
        `cannot read the Primary's THL for service "${svc}": ${commandMessage(err)}`,
      );
    },
  );
  const version = await checkTungstenVersion(req, 'the Primary');
  const evidence = [`Primary THL ${svc}: seqno ${info.minSeqno}–${info.maxSeqno} (${version.release})`];
  if (!req.position) return { event: null, newestSeqno: info.maxSeqno, evidence };

  const at = positionEventId(req.position.file, req.position.position);
  const argv =
    req.lookup === 'list'
      ? [thl, '-service', svc, 'list', '-event', at, '-headers']
      : [thl, '-service', svc, 'dsctl', '-event', at];
  const notFound = (why: string) =>
    failure(
      'SeqnoNotFound',
      `no seqno for the backup's binlog position ${at}: the Primary's THL (service ${svc}, seqno ${info.minSeqno}–${info.maxSeqno}) ${why}. ` +
        'The Replica could not resume from this backup; restore a backup whose position the THL still holds (or one taken on a Replica).',
    );
  let stdout: string;
  try {
    ({ stdout } = await runCommand(argv));
  } catch (err) {
    if (err instanceof CommandError && err.exitCode !== undefined)
      throw notFound(`has no such event (${err.message})`);
    throw err;
  }
  if (!stdout.trim()) throw notFound('has no such event');
  let event: ThlEvent;
  try {
    event = req.lookup === 'list' ? parseThlHeaders(stdout) : parseThlDsctl(stdout, svc);
  } catch (err) {
    throw failure(
      'BadToolOutput',
      `refusing the answer of \`thl ${req.lookup} -event ${at}\`: ${commandMessage(err)}`,
    );
  }
  if (!samePosition(parseEventId(event.eventId), req.position))
    throw failure('BadToolOutput', `thl answered for ${event.eventId}, not for the backup's position ${at}`);
  evidence.push(
    `the backup's position ${at} is seqno ${event.seqno} (epoch ${event.epoch}, event id ${event.eventId}, source ${event.sourceId})`,
  );
  return { event, newestSeqno: info.maxSeqno, evidence };
}
