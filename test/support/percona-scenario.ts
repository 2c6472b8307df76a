// A recorded accident for the Percona tests, on a real MariaDB source with a real archiver and a real
// base backup. Ground truth is read from the source itself at each point of interest.
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoint, TableFingerprint } from '../../workflows/schemas';
import { temporaryEndpoint } from '../../activities/mysql/mysqld';
import {
  createShop,
  fingerprint,
  gtidPos,
  runWorkload,
  secondBoundary,
  startSource,
  takeBackup,
  type Source,
} from '../../scripts/lib/scenario';

// The stand-ins first on PATH: one definition for the tests and the demos.
export { fixturesBin, useStandIns } from '../../scripts/lib/stand-ins';

export interface Accident {
  base: string;
  source: Source;
  backupDir: string;
  /** Source state just before the DROP: what a recovery must reproduce. */
  truth: Record<string, TableFingerprint>;
  /** An instant after the last good transaction and before the DROP. */
  beforeAccident: string;
  lastGoodGtid: string;
  dropGtid: string;
  /** Where the DROP transaction starts (from SHOW BINLOG EVENTS on the source). */
  dropPosition: { file: string; position: number };
  /** Source tables after everything, and the GTID of an update that cannot apply on the backup. */
  finalTruth: Record<string, TableFingerprint>;
  ghostUpdateGtid: string;
  sleep(ms: number): Promise<void>;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function recordAccident(opts: { afterBackup?: number } = {}): Promise<Accident> {
  const base = await mkdtemp(join(tmpdir(), 'pitr-'));
  const source = await startSource(base);
  const s = source.server;
  await createShop(s);
  await runWorkload(s, 1, 1500);
  await s.query('FLUSH BINARY LOGS');
  await runWorkload(s, 2, 1000);
  const backupDir = join(base, 'backup');
  await takeBackup(s, backupDir);
  await runWorkload(s, 3, opts.afterBackup ?? 1500);
  await s.query('FLUSH BINARY LOGS');
  await runWorkload(s, 4, 1500);
  await s.query('FLUSH BINARY LOGS');
  await runWorkload(s, 5, 1000);

  const truth = await fingerprint(source.sql, source.endpoint);
  const lastGoodGtid = await gtidPos(s);
  // Binlog times are whole seconds: the accident goes into a later second than the last good work.
  const beforeAccident = await secondBoundary();
  await s.query('DROP TABLE shop.orders');
  const dropGtid = await gtidPos(s);
  const [status] = await s.query<{ File: string }[]>('SHOW MASTER STATUS');
  const events = await s.query<{ Pos: number; Event_type: string; Info: string }[]>(
    `SHOW BINLOG EVENTS IN '${status!.File}'`,
  );
  const dropEvent = events.find((e) => e.Event_type === 'Gtid' && e.Info.endsWith(`GTID ${dropGtid}`));
  if (!dropEvent) throw new Error(`no Gtid event for ${dropGtid} in ${status!.File}`);

  // After the accident the application goes on; one row exists only on the source (written with the
  // binlog off), so a later binlogged UPDATE of it cannot apply on the restored data (error 1032).
  await s.query("UPDATE shop.customers SET tier = 'platinum' WHERE id < 20");
  await s.query(
    "SET SESSION sql_log_bin = 0; INSERT INTO shop.customers VALUES (99999, 'ghost', 'none'); SET SESSION sql_log_bin = 1",
  );
  await s.query("UPDATE shop.customers SET tier = 'gold' WHERE id = 99999");
  const ghostUpdateGtid = await gtidPos(s);
  const finalTruth = await fingerprint(source.sql, source.endpoint);

  await source.archiver.waitCaughtUp();
  await source.archiver.sync();
  await source.archiver.stop();
  return {
    base,
    source,
    backupDir,
    truth,
    beforeAccident,
    lastGoodGtid,
    dropGtid,
    dropPosition: { file: status!.File, position: Number(dropEvent.Pos) },
    finalTruth,
    ghostUpdateGtid,
    sleep,
    async cleanup() {
      await source.sql.closeAll();
      await source.server.stop().catch(() => {});
      await removeTestDir(base); // also temporary mysqlds a failed run left for inspection
    },
  };
}

export interface StandInClusterOptions {
  /** spec.mysql.size (default 1). */
  size?: number;
  /** The operator's reconcile fails with this error (status.state error), while spec.pause is `whilePause` if given. */
  reconcileError?: string;
  whilePause?: boolean;
}

/** A PerconaServerMySQL resource in the kubectl stand-in's state file (a new file). */
export async function standInCluster(
  dir: string,
  name: string,
  state: 'ready' | 'paused' = 'ready',
  opts: StandInClusterOptions = {},
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'kubectl-state.json');
  await writeFile(file, JSON.stringify({}));
  await addStandInCluster(file, name, state, opts);
  process.env.KUBECTL_STANDIN_STATE = file;
  return file;
}

/**
 * Adds a cluster in namespace db as the operator leaves it (test/fixtures/bin/kubectl): the resource,
 * and per member its datadir claim datadir-<name>-mysql-<n> with the StatefulSet's labels, bound to a PV.
 */
export async function addStandInCluster(
  file: string,
  name: string,
  state: 'ready' | 'paused' = 'ready',
  opts: StandInClusterOptions = {},
): Promise<void> {
  const size = opts.size ?? 1;
  const world = JSON.parse(await readFile(file, 'utf8')) as Record<string, Record<string, unknown>>;
  const running = state === 'paused' ? 0 : size;
  // A reconcile error that holds already: the operator has written it (pkg/controller/ps/status.go).
  const broken =
    opts.reconcileError && (opts.whilePause === undefined || opts.whilePause === (state === 'paused'));
  (world.perconaservermysqls ??= {})[`db/${name}`] = {
    spec: { pause: state === 'paused', mysql: { size } },
    status: {
      state: broken ? 'error' : state,
      mysql: { size: running, ready: running, state },
      conditions: broken
        ? [
            {
              type: 'Error',
              status: 'True',
              reason: 'ErrorReconcile',
              message: opts.reconcileError,
              lastTransitionTime: '2026-12-07T00:00:00Z',
            },
          ]
        : [],
    },
  };
  for (let i = 0; i < size; i++) {
    const claim = `datadir-${name}-mysql-${i}`;
    const pv = `pvc-${name}-${i}`;
    (world.persistentvolumeclaims ??= {})[`db/${claim}`] = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: claim,
        namespace: 'db',
        labels: {
          'app.kubernetes.io/component': 'database',
          'app.kubernetes.io/instance': name,
          'app.kubernetes.io/managed-by': 'percona-server-mysql-operator',
          'app.kubernetes.io/name': 'mysql',
          'app.kubernetes.io/part-of': 'percona-server',
        },
      },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } }, volumeName: pv },
      status: { phase: 'Bound' },
    };
    (world.persistentvolumes ??= {})[pv] = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pv },
      spec: {
        claimRef: { kind: 'PersistentVolumeClaim', name: claim, namespace: 'db' },
        persistentVolumeReclaimPolicy: 'Delete',
      },
      status: { phase: 'Bound' },
    };
  }
  if (opts.reconcileError)
    (world.operator ??= {})[`db/${name}`] = {
      reconcileError: opts.reconcileError,
      ...(opts.whilePause === undefined ? {} : { whilePause: opts.whilePause }),
    };
  await writeFile(file, JSON.stringify(world));
}

/** An input that restores the recorded accident into `datadir`, pausing the stand-in Kubernetes cluster. */
export function perconaInput(
  acc: Accident,
  recoveryId: string,
  datadir: string,
  extra: Record<string, unknown> = {},
) {
  return {
    recoveryId,
    cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'shop' },
    backup: { dir: acc.backupDir },
    restore: { datadir },
    archive: { kind: 'fs', dir: acc.source.archiveDir },
    target: { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
    verify: { schemas: ['shop'] },
    ...extra,
  };
}

/** Where that recovery's temporary mysqld listens (the runbook's default settings). */
export function temporaryServerOf(recoveryId: string, datadir: string): Endpoint {
  return temporaryEndpoint({
    recoveryId,
    datadir,
    binlogBasename: 'mysql-bin',
    serverId: 1,
    dialect: 'mariadb',
    user: 'root',
  });
}
