// NDB PITR clearing and restore: the data nodes' initial restart (step 5) and ndb_restore of the
// backup (step 7), each fenced per clearing round.
import type { StepOutcome } from '../../workflows/kit';
import type { Endpoint } from '../../workflows/schemas';
import { runCommand } from '../runtime/command';
import { Ledger } from '../runtime/ledger';
import { waitUntil } from '../runtime/processes';
import { SqlLedger } from '../mysql/sql-ledger';
import type { SqlPools } from '../mysql/sql';
import { mgm, type Cluster, type DataNode } from './ndb-pitr-common';
import type { NdbBackup } from './ndb-backup';

/** Checkpoint names of clearing round `round` (1: step 5; later: after an interrupted ndb_restore). */
const roundKey = (name: string, round = 1) => (round === 1 ? name : `${name}:round-${round}`);

// Step 5: clear a data node's file system (initial restart). Round 2 and later clear it again after
// an interrupted ndb_restore (step 7), each round checkpointed on its own.
export async function initialRestartDataNode(req: {
  recoveryId: string;
  cluster: Cluster;
  node: DataNode;
  round?: number;
}): Promise<StepOutcome> {
  const ledger = Ledger.besideDatadir(req.node.dataDir);
  const done = await ledger.read(req.recoveryId, roundKey('initial-restart', req.round));
  if (done)
    return { skipped: true, evidence: [`node ${req.node.id} was restarted with --initial at ${done.at}`] };
  await runCommand([
    req.node.binary,
    '--initial',
    `--ndb-nodeid=${req.node.id}`,
    `--ndb-connectstring=${req.cluster.connectstring}`,
  ]);
  await waitUntil(
    `data node ${req.node.id} to start`,
    async () => /started/.test((await runCommand(mgm(req.cluster, `${req.node.id} STATUS`))).stdout),
    30 * 60_000,
    1000,
  );
  await ledger.write(req.recoveryId, roundKey('initial-restart', req.round), { node: req.node.id });
  return {
    evidence: [
      `${req.node.binary} --initial on node ${req.node.id}: file system cleared, node started` +
        (req.round && req.round > 1 ? ` (round ${req.round})` : ''),
    ],
  };
}

async function applyRestoreEpoch(sql: SqlPools, e: Endpoint): Promise<string | null> {
  const [row] = await sql.query(e, 'SELECT epoch FROM mysql.ndb_apply_status WHERE server_id = 0');
  return row ? String(row.epoch) : null;
}

// Step 7: ndb_restore — metadata once, data for every node, the epoch once. Each part is fenced in
// the ledger (started, then done), per clearing round. A part that started and never finished left
// part of its rows in the cluster: restoring on top of them would layer data (duplicate keys at best),
// so the activity stops and says so (`interrupted`); the workflow clears the data nodes again (a new
// round) and restores from the start.
export async function restoreNdbBackup(
  sql: SqlPools,
  req: { recoveryId: string; cluster: Cluster; backup: NdbBackup; round?: number },
): Promise<StepOutcome & { interrupted?: string }> {
  const ledger = new SqlLedger(sql, req.cluster.sqlNode);
  const { backup, cluster } = req;
  const round = req.round ?? 1;
  const restoredEarlier = async () => (await applyRestoreEpoch(sql, cluster.sqlNode)) === backup.restoreEpoch;
  if ((await ledger.read(req.recoveryId, 'restore-backup')) && (await restoredEarlier()))
    return {
      skipped: true,
      evidence: [
        `backup ${backup.id} restored earlier; ndb_apply_status holds its epoch ${backup.restoreEpoch} for server_id 0`,
      ],
    };
  const base = [
    'ndb_restore',
    `--ndb-connectstring=${cluster.connectstring}`,
    `--backupid=${backup.id}`,
    `--backup-path=${backup.path}`,
    '--no-binlog',
  ];
  const nodes = cluster.dataNodes;
  const parts = [
    { key: 'meta', argv: [...base, `--nodeid=${nodes[0]!.id}`, '--restore-meta'] },
    ...nodes.map((n, i) => ({
      key: `data-${n.id}`,
      argv: [
        ...base,
        `--nodeid=${n.id}`,
        '--restore-data',
        ...(i === nodes.length - 1 ? ['--restore-epoch'] : []),
      ],
    })),
  ];
  const evidence: string[] = [];
  for (const [i, part] of parts.entries()) {
    const key = roundKey(`restore:${part.key}`, round);
    if (await ledger.read(req.recoveryId, key)) continue;
    if (await ledger.read(req.recoveryId, `${key}:started`)) {
      // The last part writes the backup's epoch after its rows: with the epoch there (the clearing
      // emptied ndb_apply_status), it finished and only its fence is missing.
      if (i === parts.length - 1 && (await restoredEarlier())) {
        await ledger.write(req.recoveryId, key);
        evidence.push(`ndb_restore (${part.key}) had finished before its worker died`);
        continue;
      }
      return {
        interrupted: part.key,
        evidence: [
          `ndb_restore (${part.key}) of backup ${backup.id} was interrupted in round ${round}: the cluster holds part of its data`,
        ],
      };
    }
    await ledger.write(req.recoveryId, `${key}:started`);
    await runCommand(part.argv);
    await ledger.write(req.recoveryId, key);
    evidence.push(`ndb_restore ${part.argv.slice(5).join(' ')}`);
  }
  const epoch = await applyRestoreEpoch(sql, cluster.sqlNode);
  if (epoch !== backup.restoreEpoch)
    throw new Error(
      `after ndb_restore --restore-epoch, ndb_apply_status has epoch ${epoch} for server_id 0, expected ${backup.restoreEpoch}`,
    );
  await ledger.write(req.recoveryId, 'restore-backup', { backupId: backup.id, round });
  return { evidence: [...evidence, `ndb_apply_status: server_id 0 at epoch ${epoch}`] };
}
