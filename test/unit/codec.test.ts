// The AES-256-GCM payload codec (workers/codec.ts) and the codec endpoint (scripts/codec-server.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import {
  AesGcmCodec,
  codecFromEnv,
  CodecError,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  parseKey,
  parseKeyList,
  type CodecKey,
} from '../../workers/codec';
import {
  codecServerSettings,
  createCodecServer,
  payloadFromJson,
  payloadToJson,
  type CodecServer,
  type JsonPayload,
} from '../../scripts/codec-server';

const newKey = (id?: string): CodecKey =>
  parseKey(`${id ? `${id}:` : ''}${randomBytes(32).toString('base64')}`);
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const SECRET_VALUE = { backup: { dir: '/backups/very-private-path' }, note: 'plaintext-marker-7f3a' };
const plain = (): Payload => defaultPayloadConverter.toPayload(SECRET_VALUE);
const valueOf = (p: Payload) => defaultPayloadConverter.fromPayload(p);

describe('AesGcmCodec', () => {
  test('round trip: decode(encode(p)) gives back the payload, metadata included', async () => {
    const codec = new AesGcmCodec({ key: newKey() });
    const payloads = [
      plain(),
      defaultPayloadConverter.toPayload(null),
      defaultPayloadConverter.toPayload('x'),
    ];
    const back = await codec.decode(await codec.encode(payloads));
    assert.deepEqual(back.map(valueOf), [SECRET_VALUE, null, 'x']);
    assert.equal(text(back[0]!.metadata!.encoding), 'json/plain');
  });

  test('ciphertext: marked binary/encrypted with the key id, no plaintext, different every time', async () => {
    const key = newKey('2026-q1');
    const codec = new AesGcmCodec({ key });
    const [a] = await codec.encode([plain()]);
    const [b] = await codec.encode([plain()]);
    assert.equal(text(a!.metadata!.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(a!.metadata![KEY_ID_METADATA]), '2026-q1');
    const raw = Buffer.from(a!.data!);
    assert.ok(!raw.includes('plaintext-marker-7f3a'));
    assert.ok(!raw.includes('very-private-path'));
    assert.ok(!raw.includes('json/plain'), 'the original encoding is inside the ciphertext too');
    assert.ok(!raw.equals(Buffer.from(plain().data!)));
    assert.ok(!raw.equals(Buffer.from(b!.data!)), 'a fresh IV for every payload');
    assert.ok(!raw.subarray(0, 12).equals(Buffer.from(b!.data!).subarray(0, 12)));
    const plaintextBytes = proto.temporal.api.common.v1.Payload.encode(plain()).finish().length;
    assert.equal(raw.length, 12 + plaintextBytes + 16, 'iv ‖ ciphertext ‖ tag');
  });

  test('a payload that is not encrypted passes through decode unchanged', async () => {
    const codec = new AesGcmCodec({ key: newKey() });
    const p = plain();
    const [out] = await codec.decode([p]);
    assert.equal(out, p);
  });

  test('any changed byte (iv, ciphertext, tag) fails authentication with a clear error', async () => {
    const codec = new AesGcmCodec({ key: newKey('k1') });
    const [enc] = await codec.encode([plain()]);
    const data = Buffer.from(enc!.data!);
    for (const at of [0, 12, Math.floor(data.length / 2), data.length - 1]) {
      const tampered = Buffer.from(data);
      tampered[at] = tampered[at]! ^ 0x01;
      await assert.rejects(
        codec.decode([{ ...enc!, data: tampered }]),
        (e: Error) =>
          e instanceof CodecError && /key id k1\) failed authentication: it was altered/.test(e.message),
        `byte ${at}`,
      );
    }
    await assert.rejects(codec.decode([{ ...enc!, data: data.subarray(0, 20) }]), /truncated: 20 bytes/);
  });

  test('relabelling a payload to another known key id fails (the id is authenticated)', async () => {
    const k1 = newKey('k1');
    const k2 = newKey('k2');
    const [enc] = await new AesGcmCodec({ key: k1 }).encode([plain()]);
    const both = new AesGcmCodec({ key: k2, oldKeys: [k1] });
    const relabelled = { ...enc!, metadata: { ...enc!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    await assert.rejects(both.decode([relabelled]), /key id k2\) failed authentication/);
  });

  test('the wrong key fails: an unknown key id, or a different key under the same id', async () => {
    const [enc] = await new AesGcmCodec({ key: newKey('prod') }).encode([plain()]);
    await assert.rejects(
      new AesGcmCodec({ key: newKey('other') }).decode([enc!]),
      /encrypted with key id "prod", which this process does not have \(known: other\); add that key to RUNBOOK_CODEC_KEYS/,
    );
    await assert.rejects(
      new AesGcmCodec({ key: newKey('prod') }).decode([enc!]),
      /key id prod\) failed authentication/,
    );
    const noId = { ...enc!, metadata: { encoding: enc!.metadata!.encoding! } };
    await assert.rejects(new AesGcmCodec({ key: newKey('prod') }).decode([noId]), /no encryption-key-id/);
  });

  test('rotation: the new key encrypts, the old key still decrypts earlier payloads', async () => {
    const old = newKey();
    const current = newKey();
    const [early] = await new AesGcmCodec({ key: old }).encode([plain()]);
    const rotated = new AesGcmCodec({ key: current, oldKeys: [old] });
    assert.deepEqual(valueOf((await rotated.decode([early!]))[0]!), SECRET_VALUE);
    const [late] = await rotated.encode([plain()]);
    assert.equal(text(late!.metadata![KEY_ID_METADATA]), current.id);
    assert.notEqual(current.id, old.id, 'default ids are key fingerprints');
    await assert.rejects(new AesGcmCodec({ key: old }).decode([late!]), /does not have/);
  });

  test('the same id for two different keys is refused', () => {
    assert.throws(
      () => new AesGcmCodec({ key: newKey('a'), oldKeys: [newKey('a')] }),
      /share the key id "a"/,
    );
  });
});

describe('keys from the environment', () => {
  const hex = randomBytes(32).toString('hex');
  const b64 = Buffer.from(hex, 'hex').toString('base64');
  const b64url = Buffer.from(hex, 'hex').toString('base64url');

  test('hex, base64 and base64url name the same key; an id prefix is kept', () => {
    const a = parseKey(hex);
    assert.deepEqual(parseKey(b64), a);
    assert.deepEqual(parseKey(b64url), a);
    assert.match(a.id, /^sha256-[0-9a-f]{16}$/);
    assert.equal(parseKey(`2026-q1:${b64}`).id, '2026-q1');
    assert.ok(parseKey(` ${hex}\n`).key.equals(a.key));
  });

  test('malformed keys give a clear error that never echoes the value', () => {
    const bad = [
      'c2hvcnQta2V5', // 9 bytes
      randomBytes(16).toString('hex'), // 16 bytes
      randomBytes(33).toString('base64'),
      `${hex.slice(0, 63)}z`,
      'correct horse battery staple correct horse battery staple x',
    ];
    for (const k of bad)
      assert.throws(
        () => parseKey(k),
        (e: Error) =>
          e instanceof CodecError &&
          /^RUNBOOK_CODEC_KEY: not a 32-byte key — expected 64 hex characters or 44 base64/.test(e.message) &&
          !e.message.includes(k),
        k,
      );
    assert.throws(() => parseKey(`bad id!:${hex}`), /key id before ":"/);
  });

  test('codecFromEnv: none without a key; the old-keys list; errors name the variable', async () => {
    assert.equal(codecFromEnv({}), undefined);
    assert.equal(codecFromEnv({ RUNBOOK_CODEC_KEY: '  ' }), undefined);
    assert.throws(() => codecFromEnv({ RUNBOOK_CODEC_KEYS: hex }), /RUNBOOK_CODEC_KEY is not/);
    assert.throws(() => codecFromEnv({ RUNBOOK_CODEC_KEY: 'nope' }), /^CodecError: RUNBOOK_CODEC_KEY: not/);
    const old1 = randomBytes(32).toString('base64');
    assert.throws(
      () => codecFromEnv({ RUNBOOK_CODEC_KEY: hex, RUNBOOK_CODEC_KEYS: `${old1}, short` }),
      /RUNBOOK_CODEC_KEYS \(entry 2\): not a 32-byte key/,
    );
    const [early] = await new AesGcmCodec({ key: parseKey(old1) }).encode([plain()]);
    const codec = codecFromEnv({ RUNBOOK_CODEC_KEY: hex, RUNBOOK_CODEC_KEYS: `${old1}\n v2:${b64url}` })!;
    assert.equal(codec.keyId, parseKey(hex).id);
    assert.deepEqual(valueOf((await codec.decode([early!]))[0]!), SECRET_VALUE);
    assert.equal(parseKeyList('').length, 0);
  });
});

describe('codec server', () => {
  const codec = new AesGcmCodec({ key: newKey('srv') });
  let srv: CodecServer;
  let url = '';
  const logs: string[] = [];
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  before(async () => {
    srv = createCodecServer({
      codec,
      corsOrigins: ['http://ui.example:8233'],
      authToken: 'tok-123',
      log: (_l, msg, f) => logs.push(JSON.stringify({ msg, ...f })),
    });
    url = await srv.listen();
  });
  after(() => srv.close());

  const auth = { Authorization: 'Bearer tok-123' };

  test('proto JSON conversion keeps bytes exactly', () => {
    const p = plain();
    const back = payloadFromJson(JSON.parse(JSON.stringify(payloadToJson(p))), 0);
    assert.deepEqual(valueOf(back), SECRET_VALUE);
    assert.throws(() => payloadFromJson({ data: 'not base64!' }, 3), /payloads\[3\]\.data is not base64/);
  });

  test('/encode then /decode (at any depth) round-trips; the encoded form hides the plaintext', async () => {
    const r1 = await post('/encode', { payloads: [payloadToJson(plain())] }, auth);
    assert.equal(r1.status, 200);
    const encoded = (await r1.json()) as { payloads: JsonPayload[] };
    assert.equal(
      Buffer.from(encoded.payloads[0]!.metadata!.encoding!, 'base64').toString(),
      ENCRYPTED_ENCODING,
    );
    const ciphertext = Buffer.from(encoded.payloads[0]!.data!, 'base64');
    assert.ok(ciphertext.length > 28 && !ciphertext.includes('plaintext-marker-7f3a'));
    const r2 = await post('/ns/default/decode', encoded, { ...auth, 'X-Namespace': 'default' });
    assert.equal(r2.status, 200);
    const decoded = (await r2.json()) as { payloads: JsonPayload[] };
    assert.deepEqual(valueOf(payloadFromJson(decoded.payloads[0], 0)), SECRET_VALUE);
    assert.ok(!logs.join('\n').includes('plaintext-marker'), 'logs carry no payloads');
  });

  test('bearer auth: missing or wrong token is 401', async () => {
    assert.equal((await post('/decode', { payloads: [] })).status, 401);
    assert.equal((await post('/decode', { payloads: [] }, { Authorization: 'Bearer tok-124' })).status, 401);
    assert.equal((await post('/decode', { payloads: [] }, auth)).status, 200);
  });

  test('CORS: the UI origin gets a preflight answer; other origins are refused', async () => {
    const pre = await fetch(`${url}/decode`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://ui.example:8233',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-namespace,authorization',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://ui.example:8233');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /X-Namespace/);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    const ok = await post('/decode', { payloads: [] }, { ...auth, Origin: 'http://ui.example:8233' });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://ui.example:8233');
    const evil = await post('/decode', { payloads: [] }, { ...auth, Origin: 'http://evil.example' });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
  });

  test('bad requests: not JSON, wrong shape, wrong path or method, a tampered payload', async () => {
    assert.equal((await post('/decode', '{nope', auth)).status, 400);
    assert.equal((await post('/decode', { nope: [] }, auth)).status, 400);
    assert.equal((await post('/decrypt', { payloads: [] }, auth)).status, 404);
    assert.equal((await fetch(`${url}/decode`, { headers: auth })).status, 405);
    const [enc] = await codec.encode([plain()]);
    const j = payloadToJson(enc!);
    const bytes = Buffer.from(j.data!, 'base64');
    bytes[20] = bytes[20]! ^ 0xff;
    const r = await post('/decode', { payloads: [{ ...j, data: bytes.toString('base64') }] }, auth);
    assert.equal(r.status, 400);
    const error = ((await r.json()) as { error: string }).error;
    assert.match(error, /cannot decode these payloads/);
    // The caller is not told which key ids exist; the server's log says what failed.
    assert.ok(!error.includes(codec.keyId), 'the reply names a key id');
    assert.match(logs.at(-1)!, /failed authentication/);
  });
});

describe('codec server settings', () => {
  const TOKEN = 'a'.repeat(32);
  test('a token is required: without one the server does not start', () => {
    assert.throws(() => codecServerSettings({}), /RUNBOOK_CODEC_AUTH_TOKEN is not set/);
  });
  test('a short token is refused, and the message does not echo it', () => {
    assert.throws(
      () => codecServerSettings({ RUNBOOK_CODEC_AUTH_TOKEN: 'short-tok' }),
      (e: Error) => /too short/.test(e.message) && !e.message.includes('short-tok'),
    );
  });
  test('no token only with RUNBOOK_CODEC_NO_AUTH=local-dev, and only on a loopback address', () => {
    assert.equal(codecServerSettings({ RUNBOOK_CODEC_NO_AUTH: 'local-dev' }).authToken, null);
    assert.throws(
      () => codecServerSettings({ RUNBOOK_CODEC_NO_AUTH: 'local-dev', RUNBOOK_CODEC_HOST: '0.0.0.0' }),
      /only listens on a loopback address, not 0\.0\.0\.0/,
    );
    assert.throws(() => codecServerSettings({ RUNBOOK_CODEC_NO_AUTH: '1' }), /is not set/);
  });
  test('with a token: any address, the configured origins', () => {
    const s = codecServerSettings({
      RUNBOOK_CODEC_AUTH_TOKEN: TOKEN,
      RUNBOOK_CODEC_HOST: '0.0.0.0',
      RUNBOOK_CODEC_CORS_ORIGIN: 'https://ui.example/, https://ui2.example',
    });
    assert.deepEqual(s, {
      host: '0.0.0.0',
      port: 8888,
      corsOrigins: ['https://ui.example', 'https://ui2.example'],
      authToken: TOKEN,
    });
  });
});
