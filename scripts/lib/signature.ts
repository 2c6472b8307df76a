// Webhook signatures: HMAC-SHA256 over the raw request body, in two header formats.
//   X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]   (PagerDuty v3; one signature per active secret
//                                                   while a secret is being rotated)
//   X-Signature: sha256=<hex>                       (generic, GitHub style)
// A request is authentic when any signature matches any configured key. Pure code: no I/O, so the
// keys come from the caller (the key file, never the request).
import { createHmac, timingSafeEqual } from 'node:crypto';

/** SHA-256 digests are 32 bytes: 64 hex digits. */
const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;
/** More signatures than this in one header is not a key rotation; the rest are ignored. */
export const MAX_SIGNATURES = 8;

/** The hex digests of the `v1=` entries of an X-PagerDuty-Signature header (other versions are ignored). */
export function parsePagerDutySignatures(header: string | undefined): string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const part of header.split(',')) {
    const entry = part.trim();
    const eq = entry.indexOf('=');
    if (eq < 0) continue;
    const scheme = entry.slice(0, eq).trim().toLowerCase();
    const hex = entry.slice(eq + 1).trim();
    if (scheme === 'v1' && HEX_DIGEST.test(hex)) out.push(hex.toLowerCase());
    if (out.length >= MAX_SIGNATURES) break;
  }
  return out;
}

/** The hex digest of an `X-Signature: sha256=<hex>` header, or none. */
export function parseGenericSignature(header: string | undefined): string[] {
  if (!header) return [];
  const m = /^\s*sha256=([0-9a-fA-F]{64})\s*$/i.exec(header);
  return m?.[1] ? [m[1].toLowerCase()] : [];
}

/** HMAC-SHA256 of the raw body under one key, as lowercase hex (what a sender puts in the header). */
export function signBody(key: string, body: Buffer | string): string {
  return createHmac('sha256', key).update(body).digest('hex');
}

/** Request headers, lowercase names (as node's IncomingMessage has them). */
export type SignatureHeaders = Record<string, string | string[] | undefined>;

function headerValue(v: string | string[] | undefined): string | undefined {
  // A repeated header arrives as an array (node joins most headers with ", " itself).
  return Array.isArray(v) ? v.join(',') : v;
}

/** Every candidate digest a request carries, from both header formats. */
export function candidateSignatures(headers: SignatureHeaders): string[] {
  return [
    ...parsePagerDutySignatures(headerValue(headers['x-pagerduty-signature'])),
    ...parseGenericSignature(headerValue(headers['x-signature'])),
  ];
}

/**
 * True when any candidate digest equals the HMAC of the raw body under any key. Digests are
 * compared as 32-byte buffers with crypto.timingSafeEqual (equal length by construction, since
 * both are SHA-256 outputs), so the comparison time says nothing about how close a guess was.
 */
export function verifySignature(
  rawBody: Buffer,
  headers: SignatureHeaders,
  keys: readonly string[],
): boolean {
  const candidates = candidateSignatures(headers).map((hex) => Buffer.from(hex, 'hex'));
  if (!candidates.length || !keys.length) return false;
  let ok = false;
  for (const key of keys) {
    const expected = createHmac('sha256', key).update(rawBody).digest();
    for (const got of candidates) {
      // Every pair is compared (no early exit), so timing does not tell which key matched either.
      if (got.length === expected.length && timingSafeEqual(got, expected)) ok = true;
    }
  }
  return ok;
}
