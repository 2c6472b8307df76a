// The verify step of every runbook that replays binlogs into a server it restored: first the proof
// (the restored server's binlog holds exactly the window's transactions; it fails the step when it
// does not), then the row counts and checksums. No proof, no success.
import { patched } from '@temporalio/workflow';
import type { HostActivities } from './routing';
import type { ProveRequest } from '../activities/replay/replay-proof';
import { PROOF_PATCH } from './kit';
import type { Archive, Endpoint, TableFingerprint } from './schemas';

export async function proveAndVerify(
  host: HostActivities,
  archive: Archive,
  prove: ProveRequest,
  verify: { schemas?: string[]; expected?: Record<string, TableFingerprint> },
  endpoint: Endpoint,
) {
  // Runs started before the proof existed replay their history without it.
  const proof = prove.plan.stopGtid && patched(PROOF_PATCH) ? await host.proveReplay(archive, prove) : null;
  const v = await host.verifyRestore(endpoint, verify);
  return {
    ...v,
    proof,
    evidence: [...(proof?.evidence ?? ['nothing was replayed: the backup is the target']), ...v.evidence],
  };
}
