// Pausing and unpausing the cluster being recovered. Two adapters:
// - process: a mariadbd/mysqld managed by pid file and the argv that starts it;
// - kubernetes: the Percona operator's PerconaServerMySQL resource, via `kubectl patch … spec.pause`
//   (kubernetes.ts: what it follows of the operator, and what it refuses).
import { basename, dirname, join } from 'node:path';
import type { Cluster } from '../../workflows/schemas';
import type { StepOutcome } from '../../workflows/kit';
import {
  livePid,
  spawnDetached,
  terminate,
  verifiedPid,
  waitUntil,
  type Expected,
} from '../runtime/processes';
import type { SqlPools } from '../mysql/sql';
import { describeEndpoint } from '../mysql/sql';
import { failpoint } from '../runtime/failpoints';
import { failure } from '../../workflows/failures';
import { checkKubernetesCluster, setKubernetesPause } from './kubernetes';

type ProcessCluster = Extract<Cluster, { adapter: 'process' }>;

/** Is the cluster reachable (and, on Kubernetes, sound and of one member)? Checked by the plan, before anything is paused. */
export async function checkCluster(sql: SqlPools, c: Cluster): Promise<string> {
  if (c.adapter === 'kubernetes') return checkKubernetesCluster(c);
  const pid = await livePid(c.pidFile);
  if (c.connection && pid) {
    await sql.query(c.connection, 'SELECT 1').catch((err: Error) => {
      throw failure(
        'Unreachable',
        `cluster ${c.name} unreachable at ${describeEndpoint(c.connection!)}: ${err.message}`,
      );
    });
  }
  return pid ? `${c.name}: running (pid ${pid})` : `${c.name}: not running`;
}

/** What the pid file of a process cluster must name: the program it is started with, on its --datadir. */
function clusterProcess(c: ProcessCluster): Expected {
  const program = basename(c.start[0] ?? '');
  const datadir = c.start.find((a) => a.startsWith('--datadir='))?.slice('--datadir='.length);
  return { programs: [program, 'mariadbd', 'mysqld'], datadir, what: `the server of cluster ${c.name}` };
}

/** The cluster's GTID state while it still runs (null when no connection is configured or it does not answer). */
async function gtidStateOf(sql: SqlPools, c: Cluster): Promise<string | null> {
  if (!c.connection) return null;
  const [row] = await sql
    .query(c.connection, 'SELECT @@GLOBAL.gtid_binlog_pos AS g')
    .catch(() => [undefined]);
  return row ? String(row.g ?? '') : null;
}

/** Pauses the cluster; first reads its GTID state (what a rollback must find again). */
export async function pauseCluster(
  sql: SqlPools,
  c: Cluster,
): Promise<StepOutcome & { gtidBefore: string | null }> {
  const gtidBefore = await gtidStateOf(sql, c);
  const noted = gtidBefore === null ? [] : [`GTID state before the pause: ${gtidBefore || '(empty)'}`];
  if (c.adapter === 'kubernetes') {
    const r = await setKubernetesPause(c, true);
    return { ...r, evidence: [...noted, ...(r.evidence ?? [])], gtidBefore };
  }
  const pid = await verifiedPid(c.pidFile, clusterProcess(c));
  if (!pid)
    return { skipped: true, evidence: [`${c.name} is not running (pid file ${c.pidFile})`], gtidBefore };
  await terminate(pid, 30 * 60_000);
  return { evidence: [...noted, `stopped ${c.name} (pid ${pid})`], gtidBefore };
}

export async function unpauseCluster(sql: SqlPools, c: Cluster): Promise<StepOutcome> {
  failpoint('unpause-cluster'); // still paused, the restored datadir in place
  if (c.adapter === 'kubernetes') return setKubernetesPause(c, false);
  return startProcessCluster(sql, c);
}

async function startProcessCluster(sql: SqlPools, c: ProcessCluster): Promise<StepOutcome> {
  const running = await livePid(c.pidFile);
  if (running) return { skipped: true, evidence: [`${c.name} already running (pid ${running})`] };
  const pid = await spawnDetached(c.start, join(dirname(c.pidFile), `${c.name}.start.log`));
  await waitUntil(`${c.name} to start`, async () => (await livePid(c.pidFile)) !== null, 10 * 60_000);
  if (c.connection) {
    await sql.forget(c.connection);
    await waitUntil(
      `${c.name} to accept connections`,
      () =>
        sql.query(c.connection!, 'SELECT 1').then(
          () => true,
          () => false,
        ),
      10 * 60_000,
    );
  }
  return { evidence: [`started ${c.name} (pid ${(await livePid(c.pidFile)) ?? pid})`] };
}
