// What the demos that use stand-ins share: the stand-ins first on PATH (and their state variables
// passed to the programs the worker runs) for the time of one demo only, so the demos after it in
// `npm run demo -- all` run with the environment they would have alone; and the step table.
import type { StepState } from '../../workflows/kit';
import { STANDIN_VARIABLES, useStandIns } from '../lib/stand-ins';

const SAVED = ['PATH', 'RUNBOOK_CHILD_ENV', ...STANDIN_VARIABLES] as const;

/** Runs `fn` with the stand-ins of test/fixtures/bin first on PATH, then puts the environment back. */
export async function withStandIns<T>(fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(SAVED.map((name) => [name, process.env[name]]));
  useStandIns();
  try {
    return await fn();
  } finally {
    for (const [name, value] of Object.entries(saved))
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
  }
}

/** One line per step: name, status, evidence. */
export function printSteps(say: (msg: string) => void, steps: StepState[]): void {
  for (const step of steps)
    say(`  ${step.name.padEnd(27)} ${step.status.padEnd(22)} ${step.evidence.join('; ')}`);
}
