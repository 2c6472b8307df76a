// Shared by the NDB channel failover activities: the refusal they throw, and the server error
// number behind a failed query.
import { failure, type FailureType } from '../../workflows/failures';

export const refuse = (message: string, type: FailureType = 'FailoverRefused') => failure(type, message);

export function errno(err: unknown): number | undefined {
  let e: unknown = err;
  while (e instanceof Error) {
    const n = (e as { errno?: number }).errno;
    if (typeof n === 'number') return n;
    e = e.cause;
  }
  return undefined;
}
