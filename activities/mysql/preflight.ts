// Plan-time checks shared by every runbook's plan activity: the secrets the run will need resolve on
// this worker, and a server the run will talk to accepts a connection. Bad input is refused here, for
// good (non-retryable), naming the input field, before any destructive step: the operator fixes the
// input and starts again. The same failures in later steps stay retryable (a server may come back).
import { ApplicationFailure } from '@temporalio/common';
import { SecretRef, type Endpoint } from '../../workflows/schemas';
import { resolveSecret } from '../trust/secrets';
import { connectionRefusalCode, describeEndpoint, type SqlPools } from './sql';
import { failure, isFailureType } from '../../workflows/failures';

/** A secret reference found in a runbook input, with the path of its field ("restore.password"). */
export interface SecretRefAt {
  path: string;
  ref: SecretRef;
}

/** Every SecretRef in `value` (a parsed runbook input, or part of one). */
export function secretRefsIn(value: unknown, path = ''): SecretRefAt[] {
  if (!value || typeof value !== 'object') return [];
  const parsed = SecretRef.safeParse(value);
  if (parsed.success) return [{ path, ref: parsed.data }];
  return Object.entries(value).flatMap(([k, v]) => secretRefsIn(v, path ? `${path}.${k}` : k));
}

/**
 * Resolves every secret reference in `input` on this worker and drops the values: a variable that is
 * not set or a file that cannot be read is refused now, naming the field and the reference.
 * `at` names where `input` sits in the runbook's input. `readElsewhere` leaves out fields whose
 * secret another host reads (a file secret is read on the host of the step that uses it); that host
 * checks its own. Returns the paths checked.
 */
export async function checkSecretsResolve(
  input: unknown,
  opts: { at?: string; readElsewhere?: (path: string) => boolean } = {},
): Promise<string[]> {
  const refs = secretRefsIn(input, opts.at).filter((r) => !opts.readElsewhere?.(r.path));
  for (const { path, ref } of refs) {
    try {
      await resolveSecret(ref);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw failure('SecretUnavailable', `${path}: ${message}`);
    }
  }
  return refs.map((r) => r.path);
}

/**
 * Connects once to the server the input names at `field`. A refusal (nothing listens, no such socket
 * or host, access denied, a secret that does not resolve) is final: it names the field and where it
 * pointed. Anything else (a timeout, too many connections) is left to the activity's retries.
 */
export async function checkReachable(sql: SqlPools, endpoint: Endpoint, field: string): Promise<void> {
  try {
    await sql.query(endpoint, 'SELECT 1');
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof ApplicationFailure && err.nonRetryable)
      throw failure(isFailureType(err.type) ? err.type : 'SecretUnavailable', `${field}: ${message}`);
    const code = connectionRefusalCode(err);
    if (!code) throw err;
    // The driver's own words (SqlPools.query puts the server's name in front of them).
    const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : message;
    throw failure(
      'Unreachable',
      `${field}: cannot connect to ${describeEndpoint(endpoint)} (${why.includes(code) ? why : `${code}: ${why}`}). ` +
        'Nothing was changed: correct the address or credentials and start the recovery again.',
    );
  }
}
