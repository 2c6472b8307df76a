// Failpoints: named places where a test can make a step fail for good right after it changed the
// world (as etcd's gofail and TiDB's failpoints do), to prove what the run says about the state it
// leaves and that rollback puts production back from there. Inert unless the worker's environment
// names them in RUNBOOK_FAILPOINTS (comma-separated); production workers never set it.
import { failure } from '../../workflows/failures';

export function failpoint(name: string): void {
  const armed = process.env.RUNBOOK_FAILPOINTS;
  if (!armed || !armed.split(',').includes(name)) return;
  throw failure('Failpoint', `failpoint ${name} (set by RUNBOOK_FAILPOINTS)`);
}
