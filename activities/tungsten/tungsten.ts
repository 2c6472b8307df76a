// Tungsten Replicator's tools for tungstenExternalRestore: trepctl (replicator state), thl (the
// Transaction History Log) and dsctl (the replicator's position in trep_commit_seqno). Commands are
// argv arrays, never a shell; every value read from a tool's output (event ids, source ids, seqnos)
// is parsed strictly and refused when malformed, before it reaches another tool or SQL.
// The parsers and formatters at the top are pure (unit-tested); the activities follow.
import { ApplicationFailure } from '@temporalio/activity';
import { durationMs, type Cluster, type Endpoint } from '../../workflows/schemas';
import type { StepOutcome } from '../../workflows/kit';
import { pauseCluster } from '../percona/cluster';
import { runCommand } from '../runtime/command';
import { Ledger } from '../runtime/ledger';
import {
  checkService,
  dsctlSetArgv,
  parseEventId,
  samePosition,
  type ReplicatorStatus,
  type ThlEvent,
} from './tungsten-output';
import {
  commandMessage,
  inspectPrimaryThl,
  inspectTungstenReplica,
  replicatorStatus,
  tool,
  type PrimaryThlRequest,
  type ReplicaPlanRequest,
  type TungstenService,
} from './tungsten-plan';
import { waitUntil } from '../runtime/processes';
import { replicaThl } from './tungsten-thl';
import type { SqlPools } from '../mysql/sql';
import { quoteIdent } from '../mysql/verify';
import { failure } from '../../workflows/failures';

export {
  inspectPrimaryThl,
  inspectTungstenReplica,
  replicatorStatus,
  type PrimaryThlRequest,
  type ReplicaPlanRequest,
  type TungstenService,
} from './tungsten-plan';

// ---------------------------------------------------------------------------------------------
// Activities: the restore steps (the plan's reads are in tungsten-plan.ts).

export interface ReplicaStepRequest extends TungstenService {
  recoveryId: string;
  /** The Replica's datadir: the checkpoint ledger lives beside it. */
  datadir: string;
}

/** Step 1: `trepctl -service <svc> offline`. */
export async function replicatorOffline(req: ReplicaStepRequest): Promise<StepOutcome> {
  const ledger = Ledger.besideDatadir(req.datadir);
  const online = await ledger.read(req.recoveryId, 'replicator-online');
  if (online)
    return {
      skipped: true,
      evidence: [`this recovery already brought ${req.service} back online at ${online.at}`],
    };
  const before = await replicatorStatus(req);
  if (before.state.startsWith('OFFLINE'))
    return { skipped: true, evidence: [`replicator ${req.service} is already ${before.state}`] };
  await runCommand([tool(req, 'trepctl'), '-service', req.service, 'offline']);
  const after = await replicatorStatus(req);
  if (!after.state.startsWith('OFFLINE'))
    throw failure('Transient', `replicator ${req.service} is still ${after.state} after trepctl offline`);
  return {
    evidence: [
      `replicator ${req.service}: ${before.state} → ${after.state} at applied seqno ${after.appliedLastSeqno}`,
    ],
  };
}

/**
 * Step 2: `thl -service <svc> purge -y` on the Replica (its local THL only). What the log holds is
 * read with `thl info` before (an empty log is not purged) and after (the purge must leave no event).
 */
export async function purgeThl(req: ReplicaStepRequest): Promise<StepOutcome> {
  const ledger = Ledger.besideDatadir(req.datadir);
  const done = await ledger.read(req.recoveryId, 'purge-thl');
  if (done) return { skipped: true, evidence: [`THL purged by this recovery at ${done.at}`] };
  const s = await replicatorStatus(req);
  if (!s.state.startsWith('OFFLINE'))
    throw failure(
      'ReplicatorOnline',
      `refusing to purge the THL of ${req.service}: the replicator is ${s.state} (it must be offline)`,
    );
  const before = await replicaThl(req);
  if (before.empty) {
    await ledger.write(req.recoveryId, 'purge-thl', { purged: 'empty' });
    return { skipped: true, evidence: [`the THL of ${req.service} holds no event (${before.said})`] };
  }
  await runCommand([tool(req, 'thl'), '-service', req.service, 'purge', '-y']);
  const after = await replicaThl(req);
  if (!after.empty)
    throw failure(
      'ThlNotPurged',
      `the THL of ${req.service} still holds seqno ${after.minSeqno}–${after.maxSeqno} after thl purge (it held ${before.minSeqno}–${before.maxSeqno}); the replicator is offline, nothing else was changed`,
    );
  await ledger.write(req.recoveryId, 'purge-thl', {
    purged: `${before.minSeqno}-${before.maxSeqno}`,
  });
  return {
    evidence: [
      `purged THL seqno ${before.minSeqno}–${before.maxSeqno} (${before.said}; after: ${after.said})`,
    ],
  };
}

/** Step 3 (before the copy-back): stop the Replica's server, unless this backup was already restored. */
export async function stopDatabaseForRestore(
  sql: SqlPools,
  req: {
    recoveryId: string;
    backupId: string;
    datadir: string;
    cluster: Cluster;
  },
): Promise<StepOutcome> {
  const done = await Ledger.besideDatadir(req.datadir).read(req.recoveryId, 'restore-backup');
  if (done?.backupId === req.backupId)
    return {
      skipped: true,
      evidence: [
        `backup ${req.backupId} was already restored at ${done.at}; the server is not stopped again`,
      ],
    };
  const { gtidBefore: _g, ...outcome } = await pauseCluster(sql, req.cluster);
  return outcome;
}

export interface CommitSeqnoRow {
  seqno: number;
  epoch: number;
  sourceId: string;
  eventId: string;
}

async function readCommitSeqno(sql: SqlPools, e: Endpoint, service: string): Promise<CommitSeqnoRow[]> {
  const table = `${quoteIdent(`tungsten_${checkService(service)}`)}.trep_commit_seqno`;
  const rows = await sql.query(
    e,
    `SELECT seqno, epoch_number AS epoch, source_id AS sourceId, eventid AS eventId FROM ${table} ORDER BY seqno`,
  );
  return rows.map((r) => ({
    seqno: Number(r.seqno),
    epoch: Number(r.epoch),
    sourceId: String(r.sourceId ?? ''),
    eventId: String(r.eventId ?? ''),
  }));
}

function describeRow(r: CommitSeqnoRow): string {
  return `seqno ${r.seqno} epoch ${r.epoch} event ${r.eventId} source ${r.sourceId}`;
}

export interface ResetRequest extends ReplicaStepRequest {
  connection: Endpoint;
  backup: { id: string; file: string; position: number };
  /** The THL event at the backup's position (null for a backup of a Replica: nothing to reset). */
  event: ThlEvent | null;
}

/**
 * Step 4: compare trep_commit_seqno of the restored data with the backup's binlog position; when
 * they differ, `dsctl set -reset` to the THL event of the backup's position, then read it back.
 */
export async function resetCommitSeqno(
  sql: SqlPools,
  req: ResetRequest,
): Promise<StepOutcome & { before: CommitSeqnoRow[]; after: CommitSeqnoRow[] }> {
  const ledger = Ledger.besideDatadir(req.datadir);
  const restored = await ledger.read(req.recoveryId, 'restore-backup');
  const done = await ledger.read(req.recoveryId, 'reset-commit-seqno');
  let before: CommitSeqnoRow[];
  try {
    before = await readCommitSeqno(sql, req.connection, req.service);
  } catch (err) {
    if (/ER_NO_SUCH_TABLE|ER_BAD_DB_ERROR|doesn't exist|Unknown database/.test(commandMessage(err)))
      throw failure(
        'BadBackup',
        `the restored data has no tungsten_${req.service}.trep_commit_seqno: the backup must include the Tungsten schema`,
      );
    throw err;
  }
  if (done && done.backupId === req.backup.id && done.restoredAt === restored?.at)
    return {
      skipped: true,
      evidence: [
        `reset by this recovery at ${done.at} (seqno ${String(done.seqno)}); now ${before.map(describeRow).join('; ')}`,
      ],
      before,
      after: before,
    };
  const at = `${req.backup.file}:${req.backup.position}`;
  const row = before.length === 1 ? before[0]! : null;
  const rowPos = (() => {
    try {
      return row ? parseEventId(row.eventId) : null;
    } catch {
      return null;
    }
  })();
  const evidence = [
    before.length ? `trep_commit_seqno: ${before.map(describeRow).join('; ')}` : 'trep_commit_seqno is empty',
    `backup position ${at}`,
  ];
  if (!req.event) {
    return {
      skipped: true,
      evidence: [
        ...evidence,
        'backup taken on a Replica: trep_commit_seqno matches its data, nothing to reset',
      ],
      before,
      after: before,
    };
  }
  if (
    row &&
    rowPos &&
    samePosition(rowPos, req.backup) &&
    row.seqno === req.event.seqno &&
    row.epoch === req.event.epoch
  ) {
    await ledger.write(req.recoveryId, 'reset-commit-seqno', {
      backupId: req.backup.id,
      restoredAt: restored?.at,
      seqno: row.seqno,
    });
    return {
      skipped: true,
      evidence: [...evidence, 'trep_commit_seqno is already at the backup position: nothing to change'],
      before,
      after: before,
    };
  }
  await runCommand(dsctlSetArgv(tool(req, 'dsctl'), req.service, req.event));
  const after = await readCommitSeqno(sql, req.connection, req.service);
  const a = after.length === 1 ? after[0]! : null;
  if (
    !a ||
    a.seqno !== req.event.seqno ||
    a.epoch !== req.event.epoch ||
    !samePosition(parseEventId(a.eventId), req.backup)
  )
    throw failure(
      'Transient',
      `dsctl set did not take: trep_commit_seqno is ${after.map(describeRow).join('; ') || 'empty'}, expected seqno ${req.event.seqno} epoch ${req.event.epoch} at ${at}`,
    );
  await ledger.write(req.recoveryId, 'reset-commit-seqno', {
    backupId: req.backup.id,
    restoredAt: restored?.at,
    seqno: a.seqno,
  });
  return {
    evidence: [
      ...evidence,
      `dsctl set -reset -seqno ${req.event.seqno} -epoch ${req.event.epoch} -source-id ${req.event.sourceId} -event-id ${req.event.eventId}`,
    ],
    before,
    after,
  };
}

/** Step 5: `trepctl -service <svc> online`. */
export async function replicatorOnline(req: ReplicaStepRequest): Promise<StepOutcome> {
  const before = await replicatorStatus(req);
  const ledger = Ledger.besideDatadir(req.datadir);
  if (before.state === 'ONLINE') {
    await ledger.write(req.recoveryId, 'replicator-online', { seqno: before.appliedLastSeqno });
    return { skipped: true, evidence: [`replicator ${req.service} is already ONLINE`] };
  }
  let onlineError: unknown = null;
  await runCommand([tool(req, 'trepctl'), '-service', req.service, 'online']).catch((err: unknown) => {
    onlineError = err;
  });
  const after = await replicatorStatus(req);
  if (after.state.startsWith('OFFLINE:ERROR'))
    throw failure(
      'ReplicatorError',
      `replicator ${req.service} could not go online: ${after.pendingError} (seqno ${after.pendingErrorSeqno})`,
    );
  if (onlineError) throw onlineError as Error;
  await ledger.write(req.recoveryId, 'replicator-online', { seqno: after.appliedLastSeqno });
  return { evidence: [`replicator ${req.service}: ${before.state} → ${after.state}`] };
}

/**
 * Step 5, verified: the replicator reports ONLINE and its applied seqno moves from the reset seqno up
 * to `untilSeqno` (the Primary's newest seqno at plan time). An error state fails at once.
 */
export async function awaitReplicatorOnline(
  req: TungstenService & { fromSeqno: number; untilSeqno: number; timeout: string },
): Promise<StepOutcome & { appliedLastSeqno: number; state: string }> {
  let last: ReplicatorStatus | null = null;
  try {
    await waitUntil(
      `replicator ${req.service} to be ONLINE at seqno ${req.untilSeqno}`,
      async () => {
        last = await replicatorStatus(req);
        if (last.state.startsWith('OFFLINE:ERROR'))
          throw failure(
            'ReplicatorError',
            `replicator ${req.service} failed at seqno ${last.pendingErrorSeqno}: ${last.pendingError}`,
          );
        return last.state === 'ONLINE' && last.appliedLastSeqno >= req.untilSeqno;
      },
      durationMs(req.timeout),
      500,
    );
  } catch (err) {
    // A final failure (the replicator in error) stands; a timeout or passing trouble is the wait's end.
    if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
    const l = last as ReplicatorStatus | null;
    throw failure(
      'OnlineTimeout',
      `${commandMessage(err)}; last seen ${l ? `${l.state} at applied seqno ${l.appliedLastSeqno}` : 'nothing'}`,
    );
  }
  const s = last as unknown as ReplicatorStatus;
  return {
    evidence: [
      `ONLINE; applied seqno ${req.fromSeqno} → ${s.appliedLastSeqno}` +
        (req.untilSeqno > req.fromSeqno
          ? ` (caught up with the Primary's seqno ${req.untilSeqno} at plan time)`
          : ' (the Primary had nothing newer at plan time)'),
    ],
    appliedLastSeqno: s.appliedLastSeqno,
    state: s.state,
  };
}

/** The activities of tungstenExternalRestore, as registered by createActivities. */
export function tungstenActivities(sql: SqlPools) {
  return {
    inspectTungstenReplica: (req: ReplicaPlanRequest) => inspectTungstenReplica(sql, req),
    inspectPrimaryThl: (req: PrimaryThlRequest) => inspectPrimaryThl(req),
    replicatorOffline: (req: ReplicaStepRequest) => replicatorOffline(req),
    purgeThl: (req: ReplicaStepRequest) => purgeThl(req),
    stopDatabaseForRestore: (req: Parameters<typeof stopDatabaseForRestore>[1]) =>
      stopDatabaseForRestore(sql, req),
    resetCommitSeqno: (req: ResetRequest) => resetCommitSeqno(sql, req),
    replicatorOnline: (req: ReplicaStepRequest) => replicatorOnline(req),
    awaitReplicatorOnline: (req: Parameters<typeof awaitReplicatorOnline>[0]) => awaitReplicatorOnline(req),
  };
}
