// A drill's view of its cluster, read from this worker's fleet catalog (never from the workflow's
// arguments: a drill is asked for by cluster name only), and the refusal to drill on production,
// judged twice: on the catalog's values (as the catalog's validation does) and on the live source,
// which is asked for its own datadir, port and socket — a catalog that names the cluster's datadir
// wrongly does not make its real datadir a scratch server.
import { loadCatalog } from '../trust/fleet-catalog';
import { failure } from '../../workflows/failures';
import { Archive, Cluster, Dialect, Endpoint, NewServer, RestoreTarget } from '../../workflows/schemas';
import { productionOverlap, type DrillSpec } from '../../workflows/schemas-drill';
import type { NewServerSpec } from '../percona/new-server';
import type { SqlPools } from '../mysql/sql';

export interface DrillContext {
  cluster: string;
  drill: DrillSpec;
  scratch: NewServerSpec;
  /** The cluster's server, where the marker is written. */
  source: Endpoint;
  archive: Archive;
  dialect: 'mariadb' | 'mysql';
  clusterDatadir: string;
  start?: string[];
}

const refuse = (cluster: string, why: string) =>
  failure('DrillRefused', `drill of ${cluster} refused: ${why}. Nothing was touched`);

/** The drill section of `cluster` and what it needs of the entry's Percona recovery. */
export async function drillContext(cluster: string): Promise<DrillContext> {
  const entry = (await loadCatalog(undefined, { usableOnly: true })).get(cluster);
  if (!entry) throw refuse(cluster, 'no usable fleet catalog entry of that name on this worker');
  if (!entry.drill) throw refuse(cluster, 'its catalog entry has no drill section');
  const input = entry.runbooks.perconaPointInTimeRecovery?.input;
  if (!input) throw refuse(cluster, 'its catalog entry does not serve perconaPointInTimeRecovery');
  const c = Cluster.safeParse(input.cluster);
  const r = RestoreTarget.safeParse(input.restore);
  const a = Archive.safeParse(input.archive);
  const ns = NewServer.safeParse(
    (input.newServers as Record<string, unknown> | undefined)?.[entry.drill.scratch],
  );
  if (!c.success || !r.success || !a.success || !ns.success)
    throw refuse(
      cluster,
      'its perconaPointInTimeRecovery input lacks a valid cluster, restore, archive or drill.scratch server',
    );
  const connection = c.data.connection;
  if (!connection) throw refuse(cluster, 'cluster.connection is not set: the drill writes its marker there');
  const dialect = Dialect.parse(input.dialect ?? 'mariadb');
  if (dialect !== 'mariadb')
    throw refuse(cluster, 'drills read MariaDB GTID positions; this cluster is MySQL');
  return {
    cluster,
    drill: entry.drill,
    scratch: { ...ns.data, name: entry.drill.scratch },
    source: connection,
    archive: a.data,
    dialect,
    clusterDatadir: r.data.datadir,
    start: c.data.adapter === 'process' ? c.data.start : undefined,
  };
}

/**
 * Refuses (non-retryable, before anything is written) a scratch server that is production: by the
 * catalog's values, and by what the cluster's own server says its datadir, port and socket are.
 */
export async function refuseProduction(sql: SqlPools, ctx: DrillContext): Promise<string[]> {
  const byCatalog = productionOverlap(ctx.scratch.name, ctx.scratch, {
    datadir: ctx.clusterDatadir,
    start: ctx.start,
    connection: ctx.source,
  });
  const [live] = await sql.query(
    ctx.source,
    'SELECT @@datadir AS datadir, @@port AS port, @@socket AS socket',
  );
  const byServer = productionOverlap(ctx.scratch.name, ctx.scratch, {
    datadir: String(live?.datadir ?? ''),
    connection: { port: Number(live?.port) || undefined, socket: String(live?.socket ?? '') || undefined },
  }).map((w) => `${w} (as the running cluster server reports it)`);
  const problems = [...byCatalog, ...byServer];
  if (problems.length) throw refuse(ctx.cluster, problems.join('; '));
  return [
    `scratch server ${ctx.scratch.name} (${ctx.scratch.datadir}${ctx.scratch.port ? `, port ${ctx.scratch.port}` : ''}) is not the cluster's: datadir ${String(live?.datadir)}, port ${String(live?.port)}, socket ${String(live?.socket)}`,
  ];
}
