// The failure catalogue: every failure type a runbook throws, whether a retry can cure it, and what the
// operator does next. Every throw goes through `failure()`, so a type that is not listed here does not
// compile, and whether Temporal retries it is decided here, once, not at each throw site. Pure code:
// workflows and activities share it. `runbook status` prints the next action of a failed run's type.
import { ApplicationFailure } from '@temporalio/common';

interface FailureSpec {
  /** Can the same attempt succeed later (a retry helps)? False: the run fails at once. */
  retry: boolean;
  /** What the operator does next (the message itself says what happened and what state the world is in). */
  next: string;
}

export const FAILURES = {
  // Input and configuration: nothing was touched; fix the request or the catalog.
  InvalidInput: {
    retry: false,
    next: 'Fix the request or the fleet catalog entry named in the message and start again.',
  },
  NotInCatalog: {
    retry: false,
    next: "Add what the activity needs to this worker's fleet catalog, or correct the request; nothing ran.",
  },
  HostNotNamed: {
    retry: false,
    next: 'Name the host in the catalog entry so its host agent runs the step, then start again with the same recoveryId.',
  },
  HostUnavailable: {
    retry: false,
    next: 'Start the host agent of the named host, then plan again, or start the run again with the same recoveryId.',
  },
  SecretUnavailable: {
    retry: false,
    next: 'Provide the secret on the worker that needs it (variable or file named in the message) and start again.',
  },
  Unreachable: {
    retry: false,
    next: 'Check the server, its address and the credentials in the catalog; then start again.',
  },
  ClusterError: {
    retry: false,
    next: "The operator reports the cluster in error: fix the cause its Error condition names (kubectl describe perconaservermysql, the operator's log), then start again with the same recoveryId.",
  },
  MultiMemberCluster: {
    retry: false,
    next: "This runbook restores one member: use the operator's own restore, or scale the cluster to one member first (the message says how).",
  },
  ArchiveMisconfigured: {
    retry: false,
    next: 'Correct the archive settings (bucket, prefix, endpoint, credentials) in the catalog.',
  },
  UnsafeDatadir: {
    retry: false,
    next: 'Point the restore at a dedicated datadir (not a system directory, the backup or the archive).',
  },
  RolledBack: {
    retry: false,
    next: 'This recovery was rolled back: start a new recovery with a new recoveryId.',
  },
  ApprovalTimeout: {
    retry: false,
    next: 'Nothing of the step ran. Start again with the same recoveryId and approve in time (or a longer approvalTimeout).',
  },

  // The plan refused: the archive or the backup cannot prove the target. Nothing was touched.
  PlanRefused: {
    retry: false,
    next: 'Choose a target the archive covers, or repair the archive, then plan again.',
  },
  ArchiveDamaged: {
    retry: false,
    next: 'Re-fetch the damaged binlog from its source (or restore to an earlier target); nothing was replayed past it.',
  },
  ArchiveGap: {
    retry: false,
    next: 'Fetch the missing binlogs into the archive (or pick a target before the gap) and plan again.',
  },
  ArchiveForeign: {
    retry: false,
    next: 'Remove the file of another server from the archive (or archive per cluster) and plan again.',
  },
  ArchiveChanged: {
    retry: false,
    next: 'An archive file changed since the plan: start the recovery again so it plans over what the archive holds now.',
  },
  BadBackup: {
    retry: false,
    next: 'Name a prepared, complete backup (or prepare this one) and start again.',
  },
  BackupDamaged: {
    retry: false,
    next: 'The backup stream in the catalog is damaged or incomplete (the message names the backup and the phase: download, decompress, extract or prepare): choose another backup (or name one), or take a new backup; production was not touched.',
  },
  BackupChanged: {
    retry: false,
    next: 'The backup object in the catalog is not the one the plan chose (replaced or resized): plan again so it chooses from what the catalog holds now; production was not touched.',
  },
  NoUsableBackup: {
    retry: false,
    next: 'Take or restore a backup that precedes the target, or pick a later target.',
  },
  NoEpoch: { retry: false, next: 'Pick an NDB backup whose restore epoch is known, or a later target.' },
  NoStart: {
    retry: false,
    next: "The binlog index has no position after the backup's epoch: check the NDB binlog index and archive.",
  },
  MissingDump: {
    retry: false,
    next: 'Provide the ndb_binlog_index dump named in the message, or let the runbook take one.',
  },
  MissingFile: {
    retry: false,
    next: 'Bring the binlog file named in the message back into the archive and start again.',
  },
  SeqnoNotFound: {
    retry: false,
    next: "The backup's seqno is not in the THL: restore a newer backup or check the replicator.",
  },
  BinlogSource: {
    retry: false,
    next: 'Check the Vitess binlog source (reachable, caught up, binlogs kept) and start again.',
  },
  GtidLookupTimeout: {
    retry: false,
    next: 'The binlog source has not reached the snapshot time: wait or pick an earlier time, then start again.',
  },

  // The world is not as the step needs it: the message says what is there.
  NewServerOccupied: {
    retry: false,
    next: "The new server's datadir holds something this recovery did not create, or its port or socket is taken: empty the datadir or free the port yourself (the runbook never moves aside or deletes what it did not create), or choose another new server of the catalog; then start again.",
  },
  NewServerNotAtTarget: {
    retry: false,
    next: 'The new server started on the proved datadir is not what was proved (the message says how): it is left running for inspection; stop it, look at its error log, and start a new recovery with a new recoveryId.',
  },
  TableNotRestorable: {
    retry: false,
    next: 'The table named in the message is not in the restored backup, has no primary key to match rows by, or its name is not usable: choose another table (or copy "dump"), then start again; nothing was copied into production.',
  },
  RestoredTableExists: {
    retry: false,
    next: 'Production already has a table by the name the restored copy would take, and this run did not create it: drop or rename it yourself (the runbook never touches it), or start again with another recoveryId.',
  },
  DatadirInUse: {
    retry: false,
    next: 'Stop what uses the datadir (pause the cluster), or move the directory named in the message; then start again.',
  },
  UnverifiedProcess: {
    retry: false,
    next: 'A pid file names a process that is not the expected mysqld: check it by hand; nothing was signalled.',
  },
  HostRestarted: {
    retry: false,
    next: 'The host restarted under the temporary server: start the recovery again with the same recoveryId.',
  },
  PreviousDatadirMissing: {
    retry: false,
    next: 'The datadir kept aside before the restore is gone: put production back by hand from your own copy.',
  },
  NothingToRollBack: {
    retry: false,
    next: 'The recovery changed nothing on this host: there is nothing to roll back.',
  },
  RollbackMismatch: {
    retry: false,
    next: "The rollback request does not match the recovery's ledger: use the recovery's own cluster and restore.",
  },
  RollbackUnproven: {
    retry: false,
    next: 'The rollback cannot prove what is at the datadir: inspect the directories named in the message by hand.',
  },
  KeyspaceExists: {
    retry: false,
    next: 'Choose a new snapshot keyspace name (or delete the old one if this project made it).',
  },
  NoBaseKeyspace: { retry: false, next: 'Name an existing base keyspace.' },
  TabletExists: {
    retry: false,
    next: 'Choose another tablet uid, or remove the stale tablet record by hand.',
  },
  TabletNotServing: {
    retry: false,
    next: 'Read the vttablet log named in the message; fix its flags or its mysqld, stop the tablet if it still runs, then start again with the same recoveryId (the restored shard is kept).',
  },
  TabletNotAtTarget: {
    retry: false,
    next: 'The recovery tablet serves data that is not the proven snapshot: it is left running for inspection; stop it and restore the shard again under a new snapshot keyspace.',
  },
  UnknownService: { retry: false, next: 'Name a Tungsten service the replicator knows.' },
  ReplicatorOnline: {
    retry: false,
    next: 'Put the Tungsten replicator offline (the runbook does when approved) before restoring.',
  },
  ReplicatorError: {
    retry: false,
    next: "Read the replicator's error in the message, fix it on the host and start again with the same recoveryId.",
  },
  UnsupportedVersion: {
    retry: false,
    next: 'Run the procedure by hand on this Tungsten release, or upgrade it to a release the runbook supports (the message names them).',
  },
  ThlNotPurged: {
    retry: false,
    next: "The Replica's THL still holds events after thl purge: check it (thl info) and purge it by hand, then start again with the same recoveryId.",
  },
  OnlineTimeout: {
    retry: false,
    next: 'The replicator did not come online: check it on the host; the restore itself is complete.',
  },
  BadIndexRow: {
    retry: false,
    next: "A row of ndb_binlog_index is not what NDB writes: check the replica's binlog index table.",
  },
  EpochNotFound: {
    retry: false,
    next: "The replica's last applied epoch is not in the source's binlog index: check that the source logs every epoch.",
  },
  BinlogMissing: {
    retry: false,
    next: 'The binlog file the index names is gone from the source: restore it there, or rebuild the replica.',
  },
  WrongSource: {
    retry: false,
    next: 'The channel points at another server than the catalog names: correct the channel or the catalog.',
  },
  NotCaughtUp: {
    retry: false,
    next: 'The channel did not catch up within catchUpTimeout: check its replication, then start again.',
  },
  FailoverRefused: {
    retry: false,
    next: 'The failover would leave two channels running or lose events: fix what the message names first.',
  },
  ReplicationFailed: {
    retry: false,
    next: 'Read the replication error in the message, fix it and start again with the same recoveryId.',
  },
  PartialRestore: {
    retry: false,
    next: 'Some NDB data nodes were restored and some not: start again with the same recoveryId to finish.',
  },
  DataNodeRunning: {
    retry: false,
    next: 'A data node the run had stopped is running again (something restarted it): stop it with ndb_mgm -e "<id> STOP", then start again with the same recoveryId.',
  },
  DataNodesNotStopped: {
    retry: false,
    next: 'The data nodes did not all stop after ndb_mgm ALL STOP: check them (ndb_mgm -e "ALL STATUS", their logs), then start again with the same recoveryId.',
  },
  BackupNotShared: {
    retry: false,
    next: "Put every data node's part of the backup (BACKUP-<id>.<node>.*) where the management host reads it (shared BackupDataDir), then start again.",
  },
  RestoreEpochWrong: {
    retry: false,
    next: 'ndb_restore wrote a restore epoch the replay cannot start from (the message says which): restore an earlier backup under a new recoveryId.',
  },

  // Replay and proof: the restored data is not trusted.
  BadReplayRequest: {
    retry: false,
    next: "A runbook bug: the replay request is inconsistent. Report it with the run's history.",
  },
  ReplayFailed: {
    retry: false,
    next: 'Read the server error in the message; fix it (or restore to an earlier target) and start again.',
  },
  TargetNotReached: {
    retry: false,
    next: 'The archive ends before the target: archive the missing binlogs or pick an earlier target.',
  },
  ProofFailed: {
    retry: false,
    next: 'The restored server is not provably at the target: do not use it; roll back and investigate.',
  },
  VerificationFailed: {
    retry: false,
    next: 'Checksums differ from what was expected: do not use the restored data; roll back and investigate.',
  },
  BadToolOutput: {
    retry: false,
    next: 'A tool answered in a shape the runbook does not know: check its version against the docs.',
  },

  // Passing trouble: Temporal retries the step by itself (within its retry policy).
  Transient: {
    retry: true,
    next: 'Temporal retries the step by itself; if the retries run out, read the message, fix the cause and start again with the same recoveryId.',
  },
  Superseded: {
    retry: false,
    next: 'Nothing to do: a newer attempt of the same step took over and carries on (see the run for its outcome).',
  },
  Cancelled: {
    retry: false,
    next: 'The run was cancelled while the step worked: the message says what state it left; start again with the same recoveryId or roll back.',
  },

  // Restore drills (docs/restore-drills.md).
  DrillRefused: {
    retry: false,
    next: "The drill's scratch server would be production, or the catalog entry cannot be drilled (the message says why): fix the entry's drill section; nothing was touched.",
  },
  DrillFailed: {
    retry: false,
    next: 'The rehearsed recovery did not succeed: read why in `runbook drills <cluster>`, fix the archive, backup or cluster it names; the next scheduled drill checks again.',
  },
  AlertUndelivered: {
    retry: true,
    next: "The drill's alert receiver refused or did not answer: check the URL and the receiver; the alert is retried.",
  },

  // The run itself.
  StepFailed: {
    retry: false,
    next: "Read the step's error; the message says what changed. Fix it and start again with the same recoveryId, or roll back.",
  },
  Failpoint: { retry: false, next: 'A test failpoint (RUNBOOK_FAILPOINTS) stopped the step: unset it.' },
  RunbookBug: { retry: false, next: "A runbook bug: report it with the run's history." },
} as const satisfies Record<string, FailureSpec>;

export type FailureType = keyof typeof FAILURES;

export function isFailureType(type: string | null | undefined): type is FailureType {
  return !!type && Object.prototype.hasOwnProperty.call(FAILURES, type);
}

/** The failure to throw: its type from the catalogue, retried only when the catalogue says a retry helps. */
export function failure(type: FailureType, message: string, ...details: unknown[]): ApplicationFailure {
  return ApplicationFailure.create({ message, type, nonRetryable: !FAILURES[type].retry, details });
}

/** The same, keeping the error behind it (callers read a driver's code or errno along the cause chain). */
export function failureFrom(type: FailureType, message: string, cause: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    message,
    type,
    nonRetryable: !FAILURES[type].retry,
    cause: cause instanceof Error ? cause : undefined,
  });
}
