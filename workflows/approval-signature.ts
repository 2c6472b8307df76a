// Signed approvals. An approver signs, with an Ed25519 key the fleet catalog names, one sentence that
// binds the approval to one run, one step, the state the step waits on (its digest) and an expiry.
// Pure JavaScript (@noble), deterministic: the workflow verifies in its Update validator, the CLI signs.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

export interface ApprovalClaim {
  workflowId: string;
  runId: string;
  step: string;
  /** The digest of what the step waits on (progress → the step's `approvalDigest`). */
  digest: string;
  /** ISO time after which the signature is worth nothing. */
  expiresAt: string;
  reason: string;
}

/**
 * The exact text signed: a header naming what is signed (an approval signature is never a start
 * signature), then one field a line, so no field can run into the next.
 */
function signedText(header: string, fields: [string, string][]): Uint8Array {
  const clean = (s: string) => s.replace(/[\r\n]/g, ' ');
  return utf8ToBytes([header, ...fields.map(([k, v]) => `${k} ${clean(v)}`)].join('\n'));
}

export function approvalMessage(c: ApprovalClaim): Uint8Array {
  return signedText('mysql-runbooks approval v1', [
    ['workflow', c.workflowId],
    ['run', c.runId],
    ['step', c.step],
    ['digest', c.digest],
    ['expires', c.expiresAt],
    ['reason', c.reason],
  ]);
}

/**
 * A signed start: the starter's name is proven, so the catalog can keep the starter from approving
 * the run. Signed over the workflow id, the runbook and the digest of the request (without this field).
 */
export interface StartClaim {
  workflowId: string;
  kind: string;
  digest: string;
  expiresAt: string;
}

export function startMessage(c: StartClaim): Uint8Array {
  return signedText('mysql-runbooks start v1', [
    ['workflow', c.workflowId],
    ['kind', c.kind],
    ['digest', c.digest],
    ['expires', c.expiresAt],
  ]);
}

/** JSON with object keys sorted at every level: the same text for the same value, whoever writes it. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

/** The digest a start signature covers: the request without its `startedBy`. */
export function requestDigest(request: Record<string, unknown>): string {
  const { startedBy: _s, ...rest } = request;
  return digestOf(stableJson(rest));
}

/** sha256 of a text, in hex. */
export function digestOf(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Base64 by hand: the workflow sandbox has neither atob nor Buffer. */
function fromBase64(text: string): Uint8Array {
  const clean = text.trim().replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]*$/.test(clean) || clean.length % 4 === 1) throw new Error('not base64');
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    value = (value << 6) | ALPHABET.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const [a, b, c] = [bytes[i]!, bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]!;
    out += b === undefined ? '=' : ALPHABET[(n >> 6) & 63]!;
    out += c === undefined ? '=' : ALPHABET[n & 63]!;
  }
  return out;
}

/**
 * An Ed25519 public key: `ssh-ed25519 AAAA… [comment]` (an OpenSSH public key line) or the raw 32
 * bytes in base64. Throws on anything else.
 */
export function parsePublicKey(text: string): Uint8Array {
  const parts = text.trim().split(/\s+/);
  if (parts[0] === 'ssh-ed25519' && parts[1]) {
    // The blob: string "ssh-ed25519", then string <32 bytes>, each with a 4-byte big-endian length.
    const blob = fromBase64(parts[1]);
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const nameLength = view.getUint32(0);
    const name = String.fromCharCode(...blob.subarray(4, 4 + nameLength));
    const keyLength = view.getUint32(4 + nameLength);
    const key = blob.subarray(8 + nameLength, 8 + nameLength + keyLength);
    if (name !== 'ssh-ed25519' || keyLength !== 32 || key.length !== 32)
      throw new Error('not an ssh-ed25519 public key');
    return key;
  }
  const raw = fromBase64(parts[0] ?? '');
  if (raw.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
  return raw;
}

/** The key's fingerprint as OpenSSH prints it for raw keys: SHA256 of the 32 bytes, hex, shortened. */
export function keyFingerprint(publicKey: Uint8Array): string {
  return `sha256:${bytesToHex(sha256(publicKey)).slice(0, 16)}`;
}

/** True when `signatureB64` (base64) is the key's Ed25519 signature of `message`. */
function verifySigned(publicKey: Uint8Array, message: Uint8Array, signatureB64: string): boolean {
  try {
    const sig = fromBase64(signatureB64);
    return sig.length === 64 && ed25519.verify(sig, message, publicKey);
  } catch {
    return false;
  }
}

export const verifyApproval = (publicKey: Uint8Array, claim: ApprovalClaim, signatureB64: string) =>
  verifySigned(publicKey, approvalMessage(claim), signatureB64);
export const verifyStart = (publicKey: Uint8Array, claim: StartClaim, signatureB64: string) =>
  verifySigned(publicKey, startMessage(claim), signatureB64);

/** Signs with a 32-byte Ed25519 secret key (the CLI; tests). Returns base64. */
export const signApproval = (secretKey: Uint8Array, claim: ApprovalClaim) =>
  toBase64(ed25519.sign(approvalMessage(claim), secretKey));
export const signStart = (secretKey: Uint8Array, claim: StartClaim) =>
  toBase64(ed25519.sign(startMessage(claim), secretKey));
