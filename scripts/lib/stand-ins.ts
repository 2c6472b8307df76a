// The stand-ins (test/fixtures/bin: kubectl, ndb_mgm, ndb_restore, ndbd, trepctl, thl, dsctl,
// vtctlclient, vttablet) for programs that cannot be installed here. Each is headed STAND-IN and names
// the vendor documents it follows. The tests and the demos put them first on PATH the same way.
import { join } from 'node:path';
import { projectRoot } from './tools';

export const fixturesBin = join(projectRoot, 'test', 'fixtures', 'bin');

/** Where each stand-in keeps the world it simulates (the real tools find theirs through configuration). */
export const STANDIN_VARIABLES = [
  'NDB_STANDIN_STATE',
  'KUBECTL_STANDIN_STATE',
  'VITESS_STANDIN_STATE',
  'TUNGSTEN_STANDIN_STATE',
] as const;

/**
 * Puts the stand-ins first on PATH for this process and the programs it runs, and lets those programs
 * see the stand-ins' state variables (children get a minimal environment: activities/runtime/child-env.ts).
 */
export function useStandIns(): void {
  if (!process.env.PATH?.startsWith(fixturesBin)) process.env.PATH = `${fixturesBin}:${process.env.PATH}`;
  const allowed = new Set((process.env.RUNBOOK_CHILD_ENV ?? '').split(/[\s,]+/).filter(Boolean));
  for (const name of STANDIN_VARIABLES) allowed.add(name);
  process.env.RUNBOOK_CHILD_ENV = [...allowed].join(',');
}
