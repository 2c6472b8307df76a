// Optional encryption of everything Temporal stores for the runbooks (workflow inputs and results,
// activity arguments and results, heartbeat details, queries, updates): a PayloadCodec with
// AES-256-GCM. Clients and workers that share RUNBOOK_CODEC_KEY read and write encrypted payloads;
// the Temporal server and its database only ever see ciphertext. The codec server
// (scripts/codec-server.ts) lets the Web UI and the `temporal` CLI show the plaintext.
//
//   RUNBOOK_CODEC_KEY   the key new payloads are encrypted with: 32 bytes, base64 or hex, optionally
//                       prefixed by a key id (`2026-q1:<key>`; default id: a fingerprint of the key)
//   RUNBOOK_CODEC_KEYS  older keys, same format, separated by commas or whitespace: still accepted for
//                       decryption, so keys can rotate without breaking running or past workflows
//
// Each encrypted payload is `metadata { encoding: binary/encrypted, encryption-key-id: <id> }` and
// `data = iv (12 random bytes) ‖ ciphertext ‖ GCM tag (16 bytes)`; the plaintext is the whole original
// payload (its metadata included), and the key id is authenticated as associated data.
// Payloads that are not encrypted pass through decode unchanged (e.g. a run started before the codec
// was turned on, or by a client without it).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';

const PayloadProto = proto.temporal.api.common.v1.Payload;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES-256-GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

const utf8 = new TextEncoder();
const fromUtf8 = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export class CodecError extends Error {
  override name = 'CodecError';
}

export interface CodecKey {
  id: string;
  key: Buffer;
}

/** A fingerprint that names a key without revealing it (SHA-256 of a 256-bit random key). */
export function keyFingerprint(key: Buffer): string {
  return `sha256-${createHash('sha256').update('runbook-codec-key-id\0').update(key).digest('hex').slice(0, 16)}`;
}

/**
 * Parses `[id:]key` where key is 32 bytes as hex (64 characters) or base64/base64url (43–44
 * characters). Errors name the variable and what was wrong, never the value.
 */
export function parseKey(text: string, source = 'RUNBOOK_CODEC_KEY'): CodecKey {
  const t = text.trim();
  const colon = t.lastIndexOf(':');
  const id = colon >= 0 ? t.slice(0, colon) : '';
  const material = colon >= 0 ? t.slice(colon + 1) : t;
  if (colon >= 0 && !/^[A-Za-z0-9._-]{1,64}$/.test(id))
    throw new CodecError(`${source}: the key id before ":" must be 1–64 letters, digits, ".", "_" or "-"`);
  let key: Buffer | null = null;
  if (/^[0-9a-fA-F]{64}$/.test(material)) key = Buffer.from(material, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(material))
    key = Buffer.from(material.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (!key || key.length !== KEY_BYTES)
    throw new CodecError(
      `${source}: not a 32-byte key — expected 64 hex characters or 44 base64 characters ` +
        `(e.g. \`openssl rand -base64 32\`), got ${material.length} characters`,
    );
  return { id: id || keyFingerprint(key), key };
}

/** Parses a list of `[id:]key` entries separated by commas or whitespace. */
export function parseKeyList(text: string, source = 'RUNBOOK_CODEC_KEYS'): CodecKey[] {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((entry, i) => parseKey(entry, `${source} (entry ${i + 1})`));
}

export interface AesGcmCodecOptions {
  /** Encrypts every new payload; also decrypts. */
  key: CodecKey;
  /** Decrypt only: keys of earlier rotations. */
  oldKeys?: readonly CodecKey[];
}

export class AesGcmCodec implements PayloadCodec {
  readonly keyId: string;
  private readonly current: CodecKey;
  private readonly keys = new Map<string, Buffer>();

  constructor(o: AesGcmCodecOptions) {
    this.current = o.key;
    this.keyId = o.key.id;
    for (const k of [o.key, ...(o.oldKeys ?? [])]) {
      if (k.key.length !== KEY_BYTES) throw new CodecError(`key ${k.id}: must be 32 bytes`);
      const have = this.keys.get(k.id);
      if (have && !have.equals(k.key))
        throw new CodecError(`two different keys share the key id ${JSON.stringify(k.id)}`);
      this.keys.set(k.id, k.key);
    }
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.encrypt(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.decrypt(p));
  }

  encrypt(payload: Payload): Payload {
    const plaintext = PayloadProto.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(aad(this.current.id));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      metadata: {
        encoding: utf8.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: utf8.encode(this.current.id),
        [CIPHER_METADATA]: utf8.encode(CIPHER),
      },
      data: Buffer.concat([iv, body, cipher.getAuthTag()]),
    };
  }

  decrypt(payload: Payload): Payload {
    if (fromUtf8(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
    const id = fromUtf8(payload.metadata?.[KEY_ID_METADATA]);
    if (!id) throw new CodecError(`an encrypted payload has no ${KEY_ID_METADATA} in its metadata`);
    const key = this.keys.get(id);
    if (!key)
      throw new CodecError(
        `a payload is encrypted with key id ${JSON.stringify(id)}, which this process does not have ` +
          `(known: ${[...this.keys.keys()].join(', ')}); add that key to RUNBOOK_CODEC_KEYS`,
      );
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new CodecError(`an encrypted payload (key id ${id}) is truncated: ${data.length} bytes`);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(aad(id));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new CodecError(
        `an encrypted payload (key id ${id}) failed authentication: it was altered, or encrypted with a different key under the same id`,
      );
    }
    return PayloadProto.decode(plaintext);
  }
}

/** The key id is authenticated with the ciphertext: a payload cannot be relabelled to another key. */
function aad(keyId: string): Buffer {
  return Buffer.from(`${ENCRYPTED_ENCODING}\0${keyId}`, 'utf8');
}

/** The codec configured by RUNBOOK_CODEC_KEY / RUNBOOK_CODEC_KEYS; undefined when no key is set. */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec | undefined {
  const main = env.RUNBOOK_CODEC_KEY?.trim();
  if (!main) {
    if (env.RUNBOOK_CODEC_KEYS?.trim())
      throw new CodecError('RUNBOOK_CODEC_KEYS is set but RUNBOOK_CODEC_KEY is not: set the current key too');
    return undefined;
  }
  return new AesGcmCodec({
    key: parseKey(main),
    oldKeys: env.RUNBOOK_CODEC_KEYS ? parseKeyList(env.RUNBOOK_CODEC_KEYS) : [],
  });
}

/** The failure converter that moves messages and stack traces into (encrypted) payloads. */
export const encryptedFailuresPath = fileURLToPath(new URL('./failure-converter.ts', import.meta.url));

/**
 * `dataConverter` for clients and workers: the codec when configured (failure messages encrypted
 * too), else undefined (plain payloads, readable failures in every tool).
 */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const codec = codecFromEnv(env);
  return codec ? { payloadCodecs: [codec], failureConverterPath: encryptedFailuresPath } : undefined;
}
