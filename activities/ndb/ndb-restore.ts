// NDB PITR restore (step 7): ndb_restore of the backup, fenced per clearing round (the clearing itself,
// step 5, is in ndb-clear.ts). The restore epoch is read back from mysql.ndb_apply_status, never
// predicted: how the backup's StopGCP maps to it has changed across NDB versions.
import type { StepOutcome } from '../../workflows/kit';
import type { Endpoint } from '../../workflows/schemas';
import { runCommand } from '../runtime/command';
import { SqlLedger } from '../mysql/sql-ledger';
import type { SqlPools } from '../mysql/sql';
import { failure } from '../../workflows/failures';
import { formatEpoch } from '../../workflows/epoch';
import { roundKey, type Cluster } from './ndb-pitr-common';
import type { NdbBackup } from './ndb-backup';

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
  req: {
    recoveryId: string;
    cluster: Cluster;
    backup: NdbBackup;
    round?: number;
    /** The failure point's last epoch: a restore epoch at or past it cannot be replayed from. */
    failureEpoch?: string;
  },
): Promise<StepOutcome & { interrupted?: string; restoreEpoch?: string }> {
  const ledger = new SqlLedger(sql, req.cluster.sqlNode);
  const { backup, cluster } = req;
  const round = req.round ?? 1;
  const fence = await ledger.read(req.recoveryId, 'restore-backup');
  const now = await applyRestoreEpoch(sql, cluster.sqlNode);
  // The epoch this recovery's restore wrote (recorded with the fence; runs before that: the plan's).
  const fenced = fence ? String(fence.epoch ?? backup.restoreEpoch) : null;
  if (fenced && now === fenced)
    return {
      skipped: true,
      restoreEpoch: now,
      evidence: [
        `backup ${backup.id} restored earlier; ndb_apply_status holds its epoch ${now} for server_id 0`,
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
      // The last part writes the backup's epoch after its rows: with a server_id 0 row there (the
      // clearing emptied ndb_apply_status), it finished and only its fence is missing.
      if (i === parts.length - 1 && (await applyRestoreEpoch(sql, cluster.sqlNode)) !== null) {
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
  const state = `the data nodes hold backup ${backup.id} (round ${round}); nothing was replayed`;
  if (epoch === null)
    throw failure(
      'NoEpoch',
      `after ndb_restore --restore-epoch, mysql.ndb_apply_status has no row for server_id 0: the replay cannot know where the backup ends; ${state}`,
    );
  if (req.failureEpoch !== undefined && BigInt(epoch) >= BigInt(req.failureEpoch))
    throw failure(
      'RestoreEpochWrong',
      `ndb_restore wrote epoch ${epoch} (${formatEpoch(epoch)}) for server_id 0, at or past the failure point's epoch ${req.failureEpoch} (${formatEpoch(req.failureEpoch)}): backup ${backup.id} holds epochs after the failure point; ${state}`,
    );
  await ledger.write(req.recoveryId, 'restore-backup', { backupId: backup.id, round, epoch });
  return {
    restoreEpoch: epoch,
    evidence: [
      ...evidence,
      `ndb_apply_status after the restore: server_id 0 at epoch ${epoch} (${formatEpoch(epoch)}), read back` +
        (epoch === backup.restoreEpoch
          ? ` (as --print-meta's StopGCP ${backup.stopGcp} said)`
          : `; --print-meta's StopGCP ${backup.stopGcp} suggested ${backup.restoreEpoch}: the replay starts after what ndb_restore wrote`),
    ],
  };
}
