// What a run's result shows of a Percona-style plan (the Percona recovery and the restore aside):
// the chosen backup, the replay window, the cluster and archive, the staging area, the catalog choice.
import type { PerconaPlan } from '../activities/percona/percona';

export function planShown(plan: PerconaPlan): PerconaPlan {
  return {
    backup: plan.backup,
    backupTime: plan.backupTime,
    replay: plan.replay,
    cluster: plan.cluster,
    archive: plan.archive,
    stagingDir: plan.stagingDir,
    ...(plan.source ? { source: plan.source, choice: plan.choice } : {}),
  };
}
