// NDB PITR clearing (procedure step 5): every data node stopped (`ndb_mgm -e "ALL STOP"`), then each
// started again with `ndbd --initial` / `ndbmtd --initial` on its own host — an initial system restart.
// A data node whose node id is still in use cannot start: its angel fails "Failed to allocate nodeid"
// and exits 1 (storage/ndb/src/kernel/angel.cpp); and one node restarted with --initial while the
// others run copies their data back (an initial node restart), which clears nothing. Each part is
// fenced per clearing round: round 1 is step 5, later rounds clear again after an interrupted ndb_restore.
import type { StepOutcome } from '../../workflows/kit';
import { failure } from '../../workflows/failures';
import { runCommand } from '../runtime/command';
import { Ledger } from '../runtime/ledger';
import { waitUntil } from '../runtime/processes';
import { SqlLedger } from '../mysql/sql-ledger';
import type { SqlPools } from '../mysql/sql';
import { mgm, roundKey, type Cluster, type DataNode } from './ndb-pitr-common';
import { dataNodeState, dataNodeStates, type NodeStatus } from './ndb-mgm-status';

/** How long the data nodes may take to stop, and to start (an initial start of a big cluster is slow). */
const STOP_TIMEOUT_MS = 10 * 60_000;
const START_TIMEOUT_MS = 30 * 60_000;

const roundNote = (round?: number) => (round && round > 1 ? ` (round ${round})` : '');
const lines = (s: NodeStatus[]) => s.map((x) => x.line).join('; ');

// Before step 5: stop every data node and see each of them gone (no contact). Fenced in the SQL
// node's ledger per round, so a rerun of a finished round never stops a cluster it already restarted.
export async function stopDataNodes(
  sql: SqlPools,
  req: { recoveryId: string; cluster: Cluster; round?: number },
): Promise<StepOutcome> {
  const ledger = new SqlLedger(sql, req.cluster.sqlNode);
  const key = roundKey('stop-data-nodes', req.round);
  const done = await ledger.read(req.recoveryId, key);
  if (done)
    return { skipped: true, evidence: [`data nodes stopped earlier at ${done.at}${roundNote(req.round)}`] };
  const ids = req.cluster.dataNodes.map((n) => n.id);
  const before = await dataNodeStates(req.cluster, ids);
  const up = before.filter((s) => s.state !== 'no contact');
  if (up.length) await runCommand(mgm(req.cluster, 'ALL STOP'));
  let now = before;
  await waitUntil(
    `data nodes ${ids.join(', ')} to stop`,
    async () => (now = await dataNodeStates(req.cluster, ids)).every((s) => s.state === 'no contact'),
    STOP_TIMEOUT_MS,
    1000,
  ).catch((err: unknown) => {
    throw failure(
      'DataNodesNotStopped',
      `after ndb_mgm ALL STOP not every data node stopped within ${STOP_TIMEOUT_MS / 60_000} min: ${lines(now)} (${String(err)}); no data node was started with --initial`,
    );
  });
  await ledger.write(req.recoveryId, key, { nodes: ids });
  return {
    evidence: [
      up.length
        ? `ndb_mgm ALL STOP: data node(s) ${up.map((s) => s.id).join(', ')} stopped${roundNote(req.round)}; now ${lines(now)}`
        : `every data node was already stopped${roundNote(req.round)}: ${lines(before)}`,
    ],
  };
}

// Step 5: clear a data node's file system (initial restart), on the node's own host. The node must be
// stopped (the stop above): a node that runs without this activity having started it is refused.
export async function initialRestartDataNode(req: {
  recoveryId: string;
  cluster: Cluster;
  node: DataNode;
  round?: number;
  /** Runs recorded before the stop step existed: no check that the node is stopped (as then). */
  unchecked?: boolean;
}): Promise<StepOutcome> {
  const { node, cluster } = req;
  const ledger = Ledger.besideDatadir(node.dataDir);
  const key = roundKey('initial-restart', req.round);
  const done = await ledger.read(req.recoveryId, key);
  if (done)
    return { skipped: true, evidence: [`node ${node.id} was restarted with --initial at ${done.at}`] };
  const startedByUs = await ledger.read(req.recoveryId, `${key}:started`);
  const status = req.unchecked ? null : await dataNodeState(cluster, node.id);
  if (status && status.state !== 'no contact' && !startedByUs)
    throw failure(
      'DataNodeRunning',
      `data node ${node.id} is not stopped (${status.line}) although the data nodes were stopped for this clearing round; ` +
        `${node.binary} --initial was not started (its node id is in use). No data node file system was cleared by this step on node ${node.id}`,
    );
  // Started by an earlier attempt of this activity (a node that runs since): wait for it, not a second start.
  // The marker goes first (a worker killed after the start must find it), and goes again when the
  // start failed: a node that then runs (its id was taken) was not started by this activity.
  if (!status || status.state === 'no contact') {
    await ledger.write(req.recoveryId, `${key}:started`, { node: node.id });
    await runCommand([
      node.binary,
      '--initial',
      `--ndb-nodeid=${node.id}`,
      `--ndb-connectstring=${cluster.connectstring}`,
    ]).catch(async (err: unknown) => {
      await ledger.remove(req.recoveryId, `${key}:started`);
      throw err;
    });
  }
  let last: NodeStatus | null = null;
  await waitUntil(
    `data node ${node.id} to start`,
    async () => (last = await dataNodeState(cluster, node.id)).state === 'started',
    START_TIMEOUT_MS,
    1000,
  ).catch((err: unknown) => {
    throw failure('Transient', `${String(err)}; last status: ${(last as NodeStatus | null)?.line ?? 'none'}`);
  });
  await ledger.write(req.recoveryId, key, { node: node.id });
  return {
    evidence: [
      `${node.binary} --initial on node ${node.id}: file system cleared, node started${roundNote(req.round)}` +
        (startedByUs && status && status.state !== 'no contact' ? ' (started by an earlier attempt)' : ''),
    ],
  };
}
