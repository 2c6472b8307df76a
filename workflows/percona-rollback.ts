// Rollback of a Percona point-in-time recovery: production back exactly as it was before that run,
// from whatever point the run reached (failed at any step, or completed). Step by step:
//   1. inspect                      what the recovery changed, read from the restore host (ledger, disk)
//   2. stop-temporary-mysqld        the recovery's temporary mysqld, if it still runs; its temporary files
//   3. pause-cluster                the cluster, if it runs (on the restored data, after a completed run)
//   4. set-restored-datadir-aside   the restored (or half-copied) datadir moved aside, never deleted
//   5. put-back-previous-datadir    the datadir that was there moved back
//   6. start-cluster                the cluster started on it again
//   7. verify-cluster               it must answer with the GTID state it had when the recovery paused it
import type { RecoveryState } from '../activities/percona/recovery-state';
import { PERCONA_ROLLBACK } from './runbooks';
import { type StepState } from './kit';
import { openRunbook } from './request-input';
import { long, quickOn } from './routing';
import { failure } from './failures';

export interface RollbackResult {
  recoveryId: string;
  mode: 'run' | 'plan';
  /** What the recovery had changed, as found before the rollback moved anything. */
  found: Omit<RecoveryState, 'lines'>;
  steps: StepState[];
}

export async function perconaRollback(raw: unknown): Promise<RollbackResult> {
  const { input, rb } = await openRunbook(PERCONA_ROLLBACK, raw);
  const { recoveryId } = input;
  const datadir = input.restore.datadir;
  const restoreHost = long(input.restore.host, input.heartbeatTimeout);
  const clusterHost = long(input.cluster.host, input.heartbeatTimeout);

  const found = await rb.step('inspect', async () => {
    const s = await quickOn(input.restore.host).recoveryState({ recoveryId, datadir });
    if (!s.paused && !s.before && s.restore === 'none' && !s.temporaryServer)
      throw failure(
        'NothingToRollBack',
        `recovery ${recoveryId} never paused the cluster nor changed ${datadir} (no record beside it, no temporary mysqld): there is nothing to roll back. Check the recoveryId and the restore datadir; nothing was done`,
      );
    return {
      ...s,
      evidence: [
        ...(s.paused ? ['the recovery paused the cluster (recorded beside the datadir)'] : []),
        ...s.lines,
      ],
    };
  });
  const { lines: _lines, evidence: _evidence, ...facts } = found;
  const result = (): RollbackResult => ({
    recoveryId,
    mode: input.mode,
    found: facts,
    steps: rb.progress().steps,
  });
  if (input.mode === 'plan') return result();
  if (found.rolledBackAt) {
    for (const s of PERCONA_ROLLBACK.steps.slice(1))
      rb.skip(s.name, `already rolled back at ${found.rolledBackAt}`);
    return result();
  }

  await rb.step('stop-temporary-mysqld', async () => {
    const stopped = await restoreHost.stopTemporaryServer({
      recoveryId,
      datadir,
      binlogBasename: input.restore.binlogBasename,
      serverId: input.restore.serverId,
      dialect: input.dialect,
      user: input.restore.user,
      password: input.restore.password,
    });
    const removed = await restoreHost.removeRunFiles({ recoveryId, datadir });
    return { ...stopped, evidence: [...(stopped.evidence ?? []), ...(removed.evidence ?? [])] };
  });
  await rb.destructive('pause-cluster', () => clusterHost.pauseCluster(input.cluster));
  await rb.destructive('set-restored-datadir-aside', () =>
    restoreHost.setRestoredDatadirAside({ recoveryId, datadir }),
  );
  await rb.destructive('put-back-previous-datadir', () =>
    restoreHost.putPreviousDatadirBack({ recoveryId, datadir }),
  );
  await rb.step('start-cluster', () => clusterHost.unpauseCluster(input.cluster));
  await rb.step('verify-cluster', () =>
    restoreHost.verifyClusterBack({ recoveryId, datadir, cluster: input.cluster }),
  );
  return result();
}
