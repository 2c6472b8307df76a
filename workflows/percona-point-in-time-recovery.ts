// Percona operator point-in-time recovery, step by step:
//   1. locate-binlogs         find the binlogs for the target and check them for gaps (nothing paused yet)
//      fetch-backup           a stream of the backup catalog downloaded and prepared (production still serves)
//   2. pause-cluster          pause the cluster (stop mysqld, or spec.pause on the PerconaServerMySQL)
//   3. restore-backup         restore the base backup into the datadir (copy-back; checkpointed)
//   4. start-temporary-mysqld start a temporary mysqld on the restored datadir
//   5. replay-binlogs         apply the binlogs up to the target (pipe or replica applier), resumable
//   6. verify                 proof that the restored server applied exactly the window's transactions,
//                             then row counts and checksums of the restored tables (vs expected, if given)
//   7. stop-temporary-mysqld  shut the temporary mysqld down
//   8. start-new-server       new-server mode: the proved datadir started as a server of its own, left running
//   9. unpause-cluster        start the cluster again on the restored data
// In new-server mode (restoreTo names a server of the catalog) the cluster is never paused or
// unpaused: the recovery fills that server's empty datadir instead (workflows/percona-new-server.ts).
import type { PerconaPlan } from '../activities/percona/percona';
import type { ReplayResult } from '../activities/replay/replay';
import type { ReplayProof } from '../activities/replay/replay-proof';
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import { PERCONA_PITR } from './runbooks';
import { Runbook, type RunbookResult } from './kit';
import { openRunbook } from './request-input';
import { long, quickOn } from './routing';
import { PerconaPitrInput, replayStrategyOf, type TableFingerprint } from './schemas';
import { describeCut } from './targets';
import {
  IN_PLACE,
  newServerFailureTail,
  newServerOf,
  NOT_PAUSED,
  NOT_UNPAUSED,
  type NewServerRecord,
} from './percona-new-server';
import { fetchChosenBackup } from './percona-fetch';
import { planShown } from './percona-plan-shown';
import { proveAndVerify } from './verify-step';
import { describeEstimate } from './rto-estimate';
import { finishRto, perconaEstimate, perconaRtoFacts, type RtoRecord } from './rto-run';

export interface PerconaResult extends RunbookResult<PerconaPlan> {
  replay?: Pick<ReplayResult, 'stateBefore' | 'stateAfter' | 'transactionsApplied' | 'forcedErrors'>;
  /** The proof that the restored server applied exactly the window (absent when nothing was replayed). */
  proof?: Omit<ReplayProof, 'problems'>;
  tables?: Record<string, TableFingerprint>;
  /** New-server mode: the server left running on the recovered data. */
  newServer?: NewServerRecord;
  /** How long the run should take (the plan's estimate) and, once run, how long it took. */
  rto?: RtoRecord;
}

export async function perconaPointInTimeRecovery(raw: unknown): Promise<PerconaResult> {
  const { input, rb } = await openRunbook(PERCONA_PITR, raw);
  const recoveryId = rb.recoveryId;
  // New-server mode restores into a server of the catalog instead of the cluster's own datadir.
  const ns = newServerOf(input);
  const restore = ns ?? input.restore;
  const clusterHost = long(input.cluster.host, input.heartbeatTimeout);
  const targetHost = long(restore.host, input.heartbeatTimeout);
  const rtoOpts = { newServer: !!ns, strategy: replayStrategyOf(input), host: restore.host };
  const server = {
    recoveryId,
    datadir: restore.datadir,
    binlogBasename: restore.binlogBasename,
    serverId: restore.serverId,
    dialect: input.dialect,
    user: restore.user,
    password: restore.password,
  };

  const plan = await rb.step('locate-binlogs', async () => {
    // The plan reads the backup and stages binlogs where they will be restored; the cluster is checked where it runs.
    const p = await targetHost.planPerconaRecovery({ ...input, restore, newServers: undefined, recoveryId });
    const r = p.replay;
    if (input.cluster.host !== restore.host) p.cluster = await clusterHost.checkCluster(input.cluster);
    const estimate = perconaEstimate(p, rtoOpts);
    const target = ns
      ? await targetHost.checkNewServer({
          recoveryId,
          server: ns,
          cluster: input.cluster,
          clusterDatadir: input.restore.datadir,
        })
      : { evidence: [] };
    return {
      ...p,
      evidence: [
        `backup ${p.backup.dir} at ${p.backup.file}:${p.backup.position} (GTID ${p.backup.gtid || 'none'})`,
        ...(p.choice ?? []),
        r.stopGtid
          ? `replay ${r.files.length} file(s) (${r.files[0]} … ${r.files.at(-1)}), ${r.bytes} bytes, through ${r.stopGtid}`
          : 'nothing to replay: the backup is the target',
        ...describeCut(input.target, r),
        ...(p.room ?? []),
        `cluster: ${p.cluster}`,
        ...(target.evidence ?? []),
        ...r.warnings,
        describeEstimate(estimate),
      ],
      estimate,
    };
  });
  const result = () =>
    rb.result<PerconaPlan>({ ...planShown(plan), ...(plan.sizes ? { sizes: plan.sizes } : {}) });
  // A new server's restore is the only destructive step, and none on a scratch server (catalog).
  const destructive = ns ? (ns.approvalFree ? [] : ['restore-backup']) : rb.destructiveSteps();
  if (input.mode === 'plan')
    return { ...result(), destructiveSteps: destructive, rto: { estimate: plan.estimate } };

  // From the pause on, production is changed: each change is noted (progress shows them), and a
  // failure says what the world looks like and how to put production back.
  // A stream of the backup catalog is fetched and prepared while production still serves.
  const backup = await fetchChosenBackup(rb, targetHost, input.archive, plan);

  const { replay, verification, newServer } = await failingWithState(rb, input, async () => {
    if (ns) rb.skip('pause-cluster', NOT_PAUSED);
    else
      await rb.destructive('pause-cluster', async () => {
        const paused = await clusterHost.pauseCluster(input.cluster);
        if (!paused.skipped) rb.noteChange(`cluster ${input.cluster.name} paused by this run`);
        // What a rollback must find again, beside the datadir, before anything else changes.
        if (!patched(BEFORE_RUN_PATCH)) return paused;
        const noted = await targetHost.recordBeforeRun({
          recoveryId,
          datadir: input.restore.datadir,
          clusterGtidBefore: paused.gtidBefore ?? null,
          stagingDir: plan.stagingDir,
        });
        return { ...paused, evidence: [...(paused.evidence ?? []), ...(noted.evidence ?? [])] };
      });
    const restoreWork = () => {
      const req = { recoveryId, backup, datadir: restore.datadir };
      return ns ? targetHost.restoreNewServer({ ...req, server: ns }) : targetHost.restoreBackup(req);
    };
    const restored = ns?.approvalFree
      ? await rb.step('restore-backup', restoreWork)
      : await rb.destructive('restore-backup', restoreWork);
    rb.noteChange(
      `backup restored into ${restore.datadir}${ns ? ` (new server ${ns.name}; the cluster is not touched)` : ''}${restored.previousDatadir ? `; the datadir that was there is kept at ${restored.previousDatadir}` : ''}`,
    );
    const { endpoint } = await rb.step('start-temporary-mysqld', () =>
      targetHost.startTemporaryServer({ ...server, backupGtid: plan.backup.gtid }),
    );
    const replay = await rb.step('replay-binlogs', () =>
      targetHost.replayBinlogs(input.archive, {
        recoveryId,
        dialect: input.dialect,
        endpoint,
        plan: plan.replay,
        backupPosition: { file: plan.backup.file, position: plan.backup.position },
        force: input.force,
        stagingDir: plan.stagingDir,
        server: { ...server, backupGtid: plan.backup.gtid },
        replay: { strategy: replayStrategyOf(input), parallelThreads: input.replay.parallelThreads },
      }),
    );
    const verification = await rb.step('verify', () =>
      proveAndVerify(
        targetHost,
        input.archive,
        { plan: plan.replay, stagingDir: plan.stagingDir, server, endpoint, forced: replay.forcedErrors },
        input.verify,
        endpoint,
      ),
    );
    await rb.step('stop-temporary-mysqld', async () => {
      const stopped = await targetHost.stopTemporaryServer(server);
      if (!patched(RUN_FILES_PATCH)) return stopped;
      // Proved and verified: the run's staging and runtime files have served their purpose.
      const removed = await targetHost.removeRunFiles({
        recoveryId,
        datadir: restore.datadir,
        stagingDir: plan.stagingDir,
      });
      return { ...stopped, evidence: [...(stopped.evidence ?? []), ...(removed.evidence ?? [])] };
    });
    if (!ns) {
      rb.skip('start-new-server', IN_PLACE);
      await rb.step('unpause-cluster', () => clusterHost.unpauseCluster(input.cluster));
      return { replay, verification, newServer: undefined };
    }
    const started = await rb.step('start-new-server', () =>
      targetHost.startNewServer({
        recoveryId,
        server: ns,
        dialect: input.dialect,
        expectGtid: replay.stateAfter,
      }),
    );
    rb.noteChange(`new server ${ns.name} running on ${ns.datadir} (pid ${started.newServer.pid})`);
    rb.skip('unpause-cluster', NOT_UNPAUSED);
    return { replay, verification, newServer: started.newServer };
  });
  const rto = await finishRto(rb, plan.estimate, perconaRtoFacts(plan, rtoOpts), restore.host);

  return {
    ...result(),
    destructiveSteps: destructive,
    replay: {
      stateBefore: replay.stateBefore,
      stateAfter: replay.stateAfter,
      // Counted by the proof in the restored binlog: every transaction of the run, across attempts.
      transactionsApplied: verification.proof
        ? verification.proof.applied + verification.proof.notLogged.count
        : replay.transactionsApplied,
      forcedErrors: replay.forcedErrors,
    },
    ...(verification.proof ? { proof: withoutProblems(verification.proof) } : {}),
    tables: verification.tables,
    ...(newServer ? { newServer } : {}),
    rto,
  };
}

const withoutProblems = ({ problems: _p, evidence: _e, ...rest }: ReplayProof & { evidence?: string[] }) =>
  rest;

/**
 * Failures that end the pause step before it changes anything: not approved in time, or the adapter's
 * refusals before it patches (a cluster in error, several members, no agent on the host).
 */
const REFUSED_BEFORE_CHANGE = new Set([
  'ApprovalTimeout',
  'ClusterError',
  'MultiMemberCluster',
  'HostUnavailable',
]);
function refusedBeforeAnyChange(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    if (e instanceof ApplicationFailure && e.type && REFUSED_BEFORE_CHANGE.has(e.type)) return true;
  return false;
}

/** The catalogued type a failure of the run keeps: its cause's, `Cancelled` for a cancellation. */
function failureTypeOf(cause: Error): string {
  if (isCancellation(cause)) return 'Cancelled';
  return cause instanceof ApplicationFailure ? (cause.type ?? 'StepFailed') : 'StepFailed';
}

/** The pause step's activity never ran: cancelled while it waited for approval (or before it). */
function pauseNeverStarted(rb: Runbook): boolean {
  const status = rb.progress().steps.find((s) => s.name === 'pause-cluster')?.status;
  return status === 'pending' || status === 'waiting-approval';
}

/** Workflow patch: the pause step records the cluster's GTID state beside the datadir (for rollback). */
const BEFORE_RUN_PATCH = 'record-before-run';
/** Workflow patch: stopping the temporary mysqld also removes the run's staging and runtime files. */
const RUN_FILES_PATCH = 'remove-run-files';

/**
 * Runs the steps that change production; when one fails, the failure also says what this run changed
 * and what the restore host looks like now (read from it, at most a minute), and how to roll back.
 */
async function failingWithState<T>(rb: Runbook, input: PerconaPitrInput, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const pauseFailed = err instanceof ApplicationFailure && /^pause-cluster:/.test(err.message);
    const nothingChanged =
      !rb.changes().length &&
      ((pauseFailed && refusedBeforeAnyChange(err)) || (isCancellation(err) && pauseNeverStarted(rb)));
    if (pauseFailed && !rb.changes().length && !nothingChanged)
      rb.noteChange(`cluster ${input.cluster.name}: its pause failed part way, so it may be stopped`);
    const ns = newServerOf(input);
    const restore = ns ?? input.restore;
    const host = quickOn(restore.host);
    // Asked even when the run was cancelled: the cancelled scope would cancel the question at once.
    const seen = await CancellationScope.nonCancellable(() =>
      CancellationScope.withTimeout(60_000, () =>
        host.recoveryState({ recoveryId: rb.recoveryId, datadir: restore.datadir }),
      ),
    ).then(
      (s) => s.lines,
      () => [`the restore host did not say what it holds: its state is unknown`],
    );
    const state = [...rb.changes(), ...seen];
    for (const line of seen) rb.noteChange(line);
    const cause = err instanceof Error ? err : new Error(String(err));
    if (ns)
      throw ApplicationFailure.create({
        message: `${cause.message}\nState now: ${state.join('; ') || 'nothing was changed'}.\n${newServerFailureTail(ns, workflowInfo().workflowId, rb.recoveryId)}`,
        type: failureTypeOf(cause),
        nonRetryable: true,
        details: [{ changed: state }],
        cause,
      });
    if (nothingChanged)
      throw ApplicationFailure.create({
        message: `${cause.message}\nNothing was changed: the run stopped before pausing the cluster. Restore host: ${seen.join('; ')}.`,
        type: failureTypeOf(cause),
        nonRetryable: true,
        details: [{ changed: [] }],
        cause,
      });
    throw ApplicationFailure.create({
      message:
        `${cause.message}\nState now: ${state.join('; ')}.\n` +
        `To put production back as it was before this run: runbook rollback ${workflowInfo().workflowId} ` +
        `(or start perconaRollback with recoveryId ${rb.recoveryId}, the same cluster and restore); it is approval-gated`,
      type: failureTypeOf(cause),
      nonRetryable: true,
      details: [{ changed: state }],
      cause,
    });
  }
}
