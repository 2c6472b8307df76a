// Secrets travel by reference only: a workflow input names an environment variable or a file, and
// the activity resolves it on the host that needs it. The value never enters a history or a log.
import { ApplicationFailure } from '@temporalio/common';
import { readFile } from 'node:fs/promises';
import type { SecretRef } from '../../workflows/schemas';
import { failure } from '../../workflows/failures';

/**
 * A reference that does not resolve on this worker is final (non-retryable): a retry would meet
 * the same missing variable or file. The message names the reference, never a value.
 */
function unavailable(why: string): ApplicationFailure {
  return failure('SecretUnavailable', `secret not available: ${why}`);
}

export async function resolveSecret(ref: SecretRef | undefined): Promise<string | undefined> {
  if (!ref) return undefined;
  if ('env' in ref) {
    const value = process.env[ref.env];
    if (value === undefined) throw unavailable(`environment variable ${ref.env} is not set on this worker`);
    return value;
  }
  let content: string;
  try {
    content = await readFile(ref.file, 'utf8');
  } catch (err) {
    throw unavailable(`cannot read ${ref.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const value = content.replace(/\r?\n$/, '');
  if (!value) throw unavailable(`${ref.file} is empty`);
  return value;
}

/** Replaces every occurrence of each secret in `text` (for error messages and logs). */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('***');
  return out;
}
