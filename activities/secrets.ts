// Secrets travel by reference only: a workflow input names an environment variable or a file, and
// the activity resolves it on the host that needs it. The value never enters a history or a log.
import { readFile } from 'node:fs/promises';
import type { SecretRef } from '../workflows/schemas';

export async function resolveSecret(ref: SecretRef | undefined): Promise<string | undefined> {
  if (!ref) return undefined;
  if ('env' in ref) {
    const value = process.env[ref.env];
    if (value === undefined)
      throw new Error(`secret not available: environment variable ${ref.env} is not set on this worker`);
    return value;
  }
  try {
    return (await readFile(ref.file, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new Error(
      `secret not available: cannot read ${ref.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/** Replaces every occurrence of each secret in `text` (for error messages and logs). */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('***');
  return out;
}
