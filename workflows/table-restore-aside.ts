// Table-level restore aside (issue 17), step by step:
//   1. locate-binlogs          the backup and the binlogs for the target (Percona plan); the tables
//                              are in the backup; the scratch server is free and is not production
//      fetch-backup            a stream of the backup catalog downloaded and prepared (scratch host)
//   2. restore-backup          the backup restored into the scratch server's empty datadir
//   3. start-temporary-mysqld  a temporary mysqld on it; the chosen tables are there
//   4. replay-binlogs          the applier with a replica filter: only the chosen tables, up to the target
//   5. verify                  the proof covers the filtered set (and names what the filter left out),
//                              then the chosen schemas' fingerprints
//   6. diff-against-production per table, rows only in the restored copy, only in production, changed
//                              (read-only on production, one consistent snapshot per table)
//   7. copy-back               approval-gated: `<table>__restored_<id>` beside each original in
//                              production, or a dump file per table; skipped for copy "none"
//   8. stop-temporary-mysqld   the scratch server stopped; its datadir is kept for inspection
// Production is never paused, and its original tables are never written.
import type { PerconaPlan } from '../activities/percona/percona';
import type { TableDiff } from '../activities/aside/row-diff';
import type { ReplayProof } from '../activities/replay/replay-proof';
import { TABLE_RESTORE_ASIDE } from './runbooks';
import type { RunbookResult } from './kit';
import { openRunbook } from './request-input';
import { long } from './routing';
import { describeCut } from './targets';
import { planShown } from './percona-plan-shown';
import { fetchChosenBackup } from './percona-fetch';
import { proveAndVerify } from './verify-step';
import { ApplicationFailure, isCancellation } from '@temporalio/workflow';
import { failure } from './failures';
import type { Runbook } from './kit';
import type { PerconaPitrInput, TableFingerprint } from './schemas';
import type { TableRestoreAsideInput } from './schemas-aside';
import { restoredTableName } from './schemas-aside';

export interface TableRestoreAsideResult extends RunbookResult<PerconaPlan> {
  tables: string[];
  proof?: Omit<ReplayProof, 'problems'>;
  fingerprints?: Record<string, TableFingerprint>;
  diffs?: TableDiff[];
  /** What the copy-back made: a new table in production, or a dump file, per chosen table. */
  copies?: { table: string; rows: number; into: string }[];
}

/** The Percona plan's view of this run: the scratch server as the restore target, the applier. */
function asPitrInput(input: TableRestoreAsideInput): PerconaPitrInput {
  const { tables: _t, copy: _c, newServers, restoreTo, ...rest } = input;
  return {
    ...rest,
    restore: newServers[restoreTo]!,
    force: false,
    verify: {},
    replay: { strategy: 'applier', parallelThreads: 1 },
    restoreTo: 'in-place',
  };
}

export async function tableRestoreAside(raw: unknown): Promise<TableRestoreAsideResult> {
  const { input, rb } = await openRunbook(TABLE_RESTORE_ASIDE, raw);
  const recoveryId = rb.recoveryId;
  const scratch = { ...input.newServers[input.restoreTo]!, name: input.restoreTo };
  const production = input.cluster.connection;
  if (!production) throw failure('RunbookBug', 'runbook bug: the schema requires cluster.connection');
  const host = long(scratch.host, input.heartbeatTimeout);
  const server = {
    recoveryId,
    datadir: scratch.datadir,
    binlogBasename: scratch.binlogBasename,
    serverId: scratch.serverId,
    dialect: input.dialect,
    user: scratch.user,
    password: scratch.password,
  };

  const plan = await rb.step('locate-binlogs', async () => {
    const p = await host.planPerconaRecovery({ ...asPitrInput(input), recoveryId });
    const free = await host.checkNewServer({
      recoveryId,
      server: scratch,
      cluster: input.cluster,
      clusterDatadir: input.restore.datadir,
    });
    const tables = await host.checkAside({
      recoveryId,
      tables: input.tables,
      copy: input.copy,
      production,
      datadir: scratch.datadir,
      ...(p.source?.entry.form === 'xbstream' ? {} : { backupDir: p.backup.dir }),
    });
    const r = p.replay;
    return {
      ...p,
      evidence: [
        `backup ${p.backup.dir} at ${p.backup.file}:${p.backup.position} (GTID ${p.backup.gtid || 'none'})`,
        ...(p.choice ?? []),
        r.stopGtid
          ? `replay only ${input.tables.join(', ')} from ${r.files.length} file(s) (${r.files[0]} … ${r.files.at(-1)}) through ${r.stopGtid}`
          : 'nothing to replay: the backup is the target',
        ...describeCut(input.target, r),
        ...(free.evidence ?? []),
        ...(tables.evidence ?? []),
        input.copy === 'none'
          ? 'copy "none": the diff is the end; nothing is written to production'
          : input.copy === 'table'
            ? `copy-back (approval-gated) creates ${input.tables.map((t) => `${t.split('.')[0]}.${restoredTableName(t.split('.')[1]!, recoveryId)}`).join(', ')} in production; the originals are not touched`
            : "copy-back (approval-gated) writes one dump file per table to the scratch host's state directory",
        ...r.warnings,
      ],
    };
  });
  const destructive = [
    ...(scratch.approvalFree ? [] : ['restore-backup']),
    ...(input.copy === 'none' ? [] : ['copy-back']),
  ];
  const result = () => rb.result<PerconaPlan>(planShown(plan), destructive);
  if (input.mode === 'plan') return { ...result(), tables: input.tables };

  const { verification, diff, copies } = await explainingFailure(rb, scratch.datadir, async () => {
    const backup = await fetchChosenBackup(rb, host, input.archive, plan);
    const restoreWork = () =>
      host.restoreNewServer({ recoveryId, backup, datadir: scratch.datadir, server: scratch });
    if (scratch.approvalFree) await rb.step('restore-backup', restoreWork);
    else await rb.destructive('restore-backup', restoreWork);
    rb.noteChange(
      `backup restored into the scratch server ${scratch.name} (${scratch.datadir}); production not touched`,
    );
    const { endpoint } = await rb.step('start-temporary-mysqld', async () => {
      const started = await host.startTemporaryServer({ ...server, backupGtid: plan.backup.gtid });
      const there = await host.checkRestoredTables({ restored: started.endpoint, tables: input.tables });
      return { ...started, evidence: [...(started.evidence ?? []), ...(there.evidence ?? [])] };
    });
    await rb.step('replay-binlogs', () =>
      host.replayBinlogs(input.archive, {
        recoveryId,
        dialect: input.dialect,
        endpoint,
        plan: plan.replay,
        backupPosition: { file: plan.backup.file, position: plan.backup.position },
        force: false,
        stagingDir: plan.stagingDir,
        server: { ...server, backupGtid: plan.backup.gtid },
        replay: { strategy: 'applier', parallelThreads: 1 },
        only: input.tables,
      }),
    );
    const schemas = [...new Set(input.tables.map((t) => t.split('.')[0]!))];
    const verification = await rb.step('verify', () =>
      proveAndVerify(
        host,
        input.archive,
        { plan: plan.replay, stagingDir: plan.stagingDir, server, endpoint, only: input.tables },
        { schemas },
        endpoint,
      ),
    );
    const diff = await rb.step('diff-against-production', () =>
      host.diffAside({ restored: endpoint, production, tables: input.tables }),
    );
    let copies: TableRestoreAsideResult['copies'];
    if (input.copy === 'none') rb.skip('copy-back', 'copy "none": nothing is written to production');
    else {
      const mode = input.copy;
      const copied = await rb.destructive('copy-back', () =>
        host.copyBackAside({
          recoveryId,
          restored: endpoint,
          datadir: scratch.datadir,
          production,
          tables: input.tables,
          mode,
          dialect: input.dialect,
        }),
      );
      copies = copied.copies;
      if (mode === 'table')
        rb.noteChange(`new tables in production: ${copies.map((c) => c.into).join(', ')}`);
    }
    await rb.step('stop-temporary-mysqld', async () => {
      const stopped = await host.stopTemporaryServer(server);
      return {
        ...stopped,
        evidence: [
          ...(stopped.evidence ?? []),
          `the scratch datadir ${scratch.datadir} is kept with the restored tables`,
        ],
      };
    });
    return { verification, diff, copies };
  });
  const {
    problems: _p,
    evidence: _e,
    ...proof
  } = (verification.proof ?? {}) as ReplayProof & { evidence?: string[] };
  return {
    ...result(),
    tables: input.tables,
    ...(verification.proof ? { proof } : {}),
    fingerprints: verification.tables,
    diffs: diff.diffs,
    ...(copies ? { copies } : {}),
  };
}

/**
 * A failed aside says what it changed: production is never paused, so what exists is the scratch
 * server's datadir (and its temporary mysqld, when the run stopped after starting it) and any new
 * tables the copy-back made; the original tables were never written.
 */
async function explainingFailure<T>(
  rb: Runbook<string>,
  datadir: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const cause = err instanceof Error ? err : new Error(String(err));
    const changed = rb.changes();
    throw ApplicationFailure.create({
      message:
        `${cause.message}\nProduction was not paused and its original tables were not written. ` +
        `Changed by this run: ${changed.join('; ') || 'nothing'}. Start again with the same recoveryId ${rb.recoveryId} to resume, ` +
        `or give it up: stop the temporary mysqld on ${datadir} if it runs, remove ${datadir} and ${datadir}.runbook-ledger, and drop any __restored_ table named above`,
      type: isCancellation(cause)
        ? 'Cancelled'
        : cause instanceof ApplicationFailure
          ? (cause.type ?? 'StepFailed')
          : 'StepFailed',
      nonRetryable: true,
      details: [{ changed }],
      cause,
    });
  }
}
