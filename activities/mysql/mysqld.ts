// The temporary mysqld of the Percona procedure: started on the restored datadir with networking off
// (only this recovery can reach it, over a private socket), binlog on and GTID strict mode, so the
// replay is logged with its original GTIDs and a second application of any GTID is refused.
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { basename, join } from 'node:path';
import { ensureStateDir, statePath } from '../runtime/state-dir';
import type { Dialect, Endpoint, SecretRef } from '../../workflows/schemas';
import type { StepOutcome } from '../../workflows/kit';
import { dialectOf } from './dialect';
import { failpoint } from '../runtime/failpoints';
import { Ledger } from '../runtime/ledger';
import {
  isAlive,
  livePid,
  mysqldOn,
  spawnDetached,
  terminate,
  verifiedPid,
  waitUntil,
} from '../runtime/processes';
import type { SqlPools } from './sql';
import { failure } from '../../workflows/failures';

export interface TemporaryServerSpec {
  recoveryId: string;
  datadir: string;
  binlogBasename: string;
  serverId: number;
  dialect: Dialect;
  user: string;
  password?: SecretRef;
}

/** Short private runtime directory (a unix socket path must stay under 108 bytes). */
export function runtimeDir(spec: Pick<TemporaryServerSpec, 'recoveryId' | 'datadir'>): string {
  const h = createHash('sha256').update(`${spec.datadir}\0${spec.recoveryId}`).digest('hex').slice(0, 12);
  return statePath('run', h);
}

export function temporaryEndpoint(spec: TemporaryServerSpec): Endpoint {
  return { socket: join(runtimeDir(spec), 'mysqld.sock'), user: spec.user, password: spec.password };
}

export function temporaryServerArgv(spec: TemporaryServerSpec): string[] {
  const run = runtimeDir(spec);
  const me = userInfo().username;
  return [
    dialectOf(spec.dialect).server,
    '--no-defaults',
    ...(me === 'root' ? ['--user=root'] : []),
    `--datadir=${spec.datadir}`,
    `--socket=${join(run, 'mysqld.sock')}`,
    '--skip-networking',
    `--pid-file=${join(run, 'mysqld.pid')}`,
    `--tmpdir=${join(run, 'tmp')}`,
    `--log-error=${join(run, 'error.log')}`,
    `--server-id=${spec.serverId}`,
    `--log-bin=${join(spec.datadir, spec.binlogBasename)}`,
    // MIXED logs each replayed transaction as the source logged it (statements as statements, rows as
    // rows, temporary tables included), so the restored binlog can be compared with the archive.
    '--binlog-format=MIXED',
    // Room for the largest event a binlog can hold (the plan refuses larger ones).
    '--max-allowed-packet=1G',
    ...(spec.dialect === 'mariadb'
      ? ['--gtid-strict-mode=ON', '--log-slave-updates=ON']
      : ['--gtid-mode=ON', '--enforce-gtid-consistency=ON']),
    '--innodb-buffer-pool-size=256M',
    // Replay speed: no fsync per commit. Safe against a mysqld or worker crash (the OS still has
    // every write); a host reboot mid-replay is detected by boot id and refused (see below).
    '--innodb-flush-log-at-trx-commit=2',
    '--sync-binlog=0',
    '--performance-schema=OFF',
    // Replication (the applier replay) starts only when the replay asks, never on a restart.
    '--skip-slave-start',
  ];
}

async function errorLogTail(spec: TemporaryServerSpec): Promise<string> {
  const text = await readFile(join(runtimeDir(spec), 'error.log'), 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-12).join('\n');
}

export async function startTemporaryServer(
  sql: SqlPools,
  spec: TemporaryServerSpec & { backupGtid: string },
): Promise<StepOutcome & { endpoint: Endpoint }> {
  const run = runtimeDir(spec);
  const pidFile = join(run, 'mysqld.pid');
  const endpoint = temporaryEndpoint(spec);
  const evidence: string[] = [];
  let skipped = false;
  await refuseAfterHostReboot(spec);
  const running = await verifiedPid(pidFile, mysqldOn(spec.datadir, 'the temporary mysqld'));
  if (running) {
    skipped = true;
    evidence.push(`temporary mysqld already running (pid ${running}, socket ${endpoint.socket})`);
  } else {
    await ensureStateDir('run', basename(run), 'tmp');
    await sql.forget(endpoint);
    const pid = await spawnDetached(temporaryServerArgv(spec), join(run, 'stdout.log'));
    try {
      await waitUntil(
        `the temporary mysqld on ${spec.datadir} to accept connections`,
        async () => {
          if (!(await livePid(pidFile)) && !isAlive(pid)) throw failure('Transient', 'exited');
          return sql.query(endpoint, 'SELECT 1').then(
            () => true,
            () => false,
          );
        },
        10 * 60_000,
      );
    } catch (err) {
      throw failure(
        'Transient',
        `the temporary mysqld on ${spec.datadir} did not start (${(err as Error).message}); its error log ends:\n${await errorLogTail(spec)}`,
      );
    }
    evidence.push(`temporary mysqld pid ${pid} on socket ${endpoint.socket} (networking off)`);
    failpoint('start-temporary-mysqld');
  }

  // A restored datadir carries no binlog, so the server would not know the backup's GTID state:
  // seed it, so the replay resumes after it and strict mode refuses any GTID applied twice.
  const d = dialectOf(spec.dialect);
  const [row] = await sql.query(endpoint, d.gtidStateSql);
  const state = String(row?.gtid ?? '');
  if (!state && spec.backupGtid) {
    if (spec.dialect === 'mariadb') {
      await sql.query(endpoint, 'RESET MASTER');
      await sql.query(endpoint, 'SET GLOBAL gtid_binlog_state = ?', [spec.backupGtid]);
    } else {
      await sql.query(endpoint, 'RESET MASTER');
      await sql.query(endpoint, 'SET GLOBAL gtid_purged = ?', [spec.backupGtid]);
    }
    evidence.push(`GTID state seeded from the backup: ${spec.backupGtid}`);
  } else {
    evidence.push(`GTID state ${state || '(empty)'}`);
  }
  return { skipped, evidence, endpoint };
}

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown')).trim();
}

/**
 * The temporary server trades fsync for speed, so after a host reboot its binlog (our resume point)
 * and its InnoDB data may disagree. Detect that and stop rather than resume from a wrong point.
 */
async function refuseAfterHostReboot(spec: TemporaryServerSpec): Promise<void> {
  const ledger = Ledger.besideDatadir(spec.datadir);
  const seen = await ledger.read(spec.recoveryId, 'temporary-server');
  const now = await bootId();
  if (seen && seen.bootId !== now)
    throw failure(
      'HostRestarted',
      `the host restarted while the replay into ${spec.datadir} was under way (relaxed durability): its state cannot be trusted. ` +
        'Start the recovery again with a new recoveryId; it restores the base backup afresh.',
    );
  if (!seen) await ledger.write(spec.recoveryId, 'temporary-server', { bootId: now });
}

export async function stopTemporaryServer(sql: SqlPools, spec: TemporaryServerSpec): Promise<StepOutcome> {
  const pidFile = join(runtimeDir(spec), 'mysqld.pid');
  const pid = await verifiedPid(pidFile, mysqldOn(spec.datadir, 'the temporary mysqld'));
  await sql.forget(temporaryEndpoint(spec));
  if (!pid) return { skipped: true, evidence: ['temporary mysqld is not running'] };
  await terminate(pid, 10 * 60_000);
  failpoint('stop-temporary-mysqld');
  // Shut down cleanly: its private socket, pid and temporary files have served their purpose.
  await rm(runtimeDir(spec), { recursive: true, force: true });
  return { evidence: [`temporary mysqld pid ${pid} shut down cleanly; its runtime directory removed`] };
}
