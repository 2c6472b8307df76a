// Webhook keys, each scoped: which runbook kinds and which catalog clusters a delivery signed with it
// may start. Loaded from a JSON file on the webhook's host (RUNBOOK_WEBHOOK_KEYS_FILE):
//
//   [ { "id": "pagerduty-db", "secret": "<64 hex>", "kinds": ["perconaPointInTimeRecovery"],
//       "clusters": ["shop", "billing"] } ]
//
// "*" in kinds or clusters means all of them (say so on purpose). Errors never echo a secret.
import { z } from 'zod';
import { signBody, verifySignature, type SignatureHeaders } from './signature';

/** Keys shorter than this are refused when loading: they are guessable. */
export const MIN_SECRET_LENGTH = 32;

const Scope = z.array(z.string().min(1).max(100)).min(1).max(1000);
export const WebhookKey = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, ".", "_", "-"'),
    secret: z.string().min(MIN_SECRET_LENGTH, `at least ${MIN_SECRET_LENGTH} characters`).max(1024),
    kinds: Scope,
    clusters: Scope,
  })
  .strict();
export type WebhookKey = z.output<typeof WebhookKey>;

export class WebhookKeyError extends Error {
  override name = 'WebhookKeyError';
}

/** Parses a key file; names the entry and field of each problem, never a secret's value. */
export function parseKeyFile(text: string): WebhookKey[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new WebhookKeyError('the webhook key file is not valid JSON');
  }
  const r = z.array(WebhookKey).min(1, 'no keys').safeParse(raw);
  if (!r.success)
    throw new WebhookKeyError(
      `the webhook key file is invalid: ${r.error.issues
        .map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`)
        .join('; ')}`,
    );
  const ids = new Set<string>();
  for (const k of r.data) {
    if (ids.has(k.id)) throw new WebhookKeyError(`two webhook keys share the id ${k.id}`);
    ids.add(k.id);
  }
  return r.data;
}

/** The key a request is signed with, if any (every key is tried, so timing does not tell which matched). */
export function signingKey(
  rawBody: Buffer,
  headers: SignatureHeaders,
  keys: readonly WebhookKey[],
): WebhookKey | undefined {
  const matches = keys.map((k) => verifySignature(rawBody, headers, [k.secret]));
  return keys[matches.indexOf(true)];
}

/** The key may start this kind for this cluster. */
export function keyAllows(key: WebhookKey, kind: string, cluster: string): boolean {
  const has = (scope: readonly string[], v: string) => scope.includes('*') || scope.includes(v);
  return has(key.kinds, kind) && has(key.clusters, cluster);
}

export { signBody };
