// Restore to a new server (issue 15), the workflow side: which server a run restores to, and what its
// steps say in new-server mode. A request chooses `restoreTo` among the catalog's `newServers` by
// name; everything of the server (host, datadir, port, socket, serverId) comes from the catalog.
// Runs without `restoreTo` (every recorded history) are in-place and take exactly the same steps.
import type { NewServerRecord, NewServerSpec } from '../activities/percona/new-server';
import { failure } from './failures';
import type { PerconaPitrInput } from './schemas';

export type { NewServerRecord };

/** Evidence of the cluster's steps a new-server run does not take. */
export const NOT_PAUSED = 'new-server mode: the cluster is not paused';
export const NOT_UNPAUSED = 'new-server mode: the cluster is not paused, so there is nothing to unpause';
export const IN_PLACE = 'in-place mode: the cluster itself is restored, no new server is started';

/** The new server this run restores to, or null for the cluster in place. */
export function newServerOf(input: PerconaPitrInput): NewServerSpec | null {
  if (input.restoreTo === 'in-place') return null;
  const s = input.newServers?.[input.restoreTo];
  // The schema refuses an unknown name before any step; reaching here without one is a bug.
  if (!s) throw failure('RunbookBug', `runbook bug: no new server ${input.restoreTo} in the input`);
  return { ...s, name: input.restoreTo };
}

/** What a failed new-server run tells the operator after the state it read (production untouched). */
export function newServerFailureTail(s: NewServerSpec, workflowId: string, recoveryId: string): string {
  return (
    `Production was not touched: new-server mode, the cluster was never paused. ` +
    `The new server's datadir ${s.datadir} holds only what this recovery put there: start again with the same recoveryId ${recoveryId} ` +
    `to resume (the base restore is not redone), or give it up by stopping any mysqld this run left on it and removing ${s.datadir} ` +
    `and its ledger ${s.datadir}.runbook-ledger (run ${workflowId})`
  );
}
