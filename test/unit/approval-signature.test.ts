// Signed approvals (workflows/approval-signature.ts): what is signed, key formats, and that any change
// to the claim or the signature makes it worthless. Checked against Node's own crypto and base64.
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  approvalMessage,
  parsePublicKey,
  requestDigest,
  signApproval,
  signStart,
  stableJson,
  verifyApproval,
  verifyStart,
  type ApprovalClaim,
} from '../../workflows/approval-signature';

const claim: ApprovalClaim = {
  workflowId: 'pitr-shop-INC-42',
  runId: '01a2b3',
  step: 'pause-cluster',
  digest: 'ab'.repeat(32),
  expiresAt: '2026-12-07T16:00:00.000Z',
  reason: 'INC-42',
};

test('a signature verifies with its key and with no other; any changed field breaks it', () => {
  const secret = ed25519.utils.randomSecretKey();
  const pub = ed25519.getPublicKey(secret);
  const sig = signApproval(secret, claim);
  assert.equal(Buffer.from(sig, 'base64').length, 64);
  assert.ok(verifyApproval(pub, claim, sig));
  assert.ok(!verifyApproval(ed25519.getPublicKey(ed25519.utils.randomSecretKey()), claim, sig));
  for (const field of Object.keys(claim) as (keyof ApprovalClaim)[])
    assert.ok(!verifyApproval(pub, { ...claim, [field]: `${claim[field]}x` }, sig), field);
  const flipped = Buffer.from(sig, 'base64');
  flipped[10] = flipped[10]! ^ 1;
  assert.ok(!verifyApproval(pub, claim, flipped.toString('base64')));
  assert.ok(!verifyApproval(pub, claim, 'not base64!'));
  assert.ok(!verifyApproval(pub, claim, ''));
});

test('a newline in a field cannot forge another line of the message', () => {
  const text = Buffer.from(approvalMessage({ ...claim, reason: 'x\nstep restore-backup' })).toString();
  assert.equal(text.split('\n').length, 7);
  assert.match(text, /^reason x step restore-backup$/m);
});

test("Node's own Ed25519 verifies our signature (the message is what we say it is)", () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'jwk' }).x!;
  const secret = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const pub = parsePublicKey(Buffer.from(raw, 'base64url').toString('base64'));
  const sig = signApproval(new Uint8Array(secret), claim);
  assert.ok(verifyApproval(pub, claim, sig));
  const nodeKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw }, format: 'jwk' });
  assert.ok(verify(null, Buffer.from(approvalMessage(claim)), nodeKey, Buffer.from(sig, 'base64')));
});

test('public keys: raw base64 and the OpenSSH line (ssh-ed25519 AAAA… comment); anything else refused', () => {
  const key = randomBytes(32);
  assert.deepEqual(Buffer.from(parsePublicKey(key.toString('base64'))), key);
  const blob = (name: string, k: Buffer) => {
    const n = Buffer.from(name);
    const a = Buffer.alloc(4);
    a.writeUInt32BE(n.length);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(k.length);
    return Buffer.concat([a, n, b, k]).toString('base64');
  };
  assert.deepEqual(Buffer.from(parsePublicKey(`ssh-ed25519 ${blob('ssh-ed25519', key)} ana@laptop`)), key);
  assert.throws(() => parsePublicKey(`ssh-ed25519 ${blob('ssh-rsa', key)}`), /not an ssh-ed25519/);
  assert.throws(
    () => parsePublicKey(`ssh-ed25519 ${blob('ssh-ed25519', randomBytes(31))}`),
    /not an ssh-ed25519/,
  );
  assert.throws(() => parsePublicKey(randomBytes(31).toString('base64')), /32 bytes/);
  assert.throws(() => parsePublicKey('ssh-rsa AAAAB3NzaC1yc2E'), /not base64|32 bytes/);
});

test('a signed start covers the request whatever its key order, and nothing else', () => {
  const secret = ed25519.utils.randomSecretKey();
  const pub = ed25519.getPublicKey(secret);
  const a = { cluster: 'shop', target: { type: 'gtid', gtid: '0-1-42' }, verify: { schemas: ['shop'] } };
  const b = { verify: { schemas: ['shop'] }, target: { gtid: '0-1-42', type: 'gtid' }, cluster: 'shop' };
  assert.equal(stableJson(a), stableJson(b));
  const claim = {
    workflowId: 'w',
    kind: 'perconaPointInTimeRecovery',
    digest: requestDigest(a),
    expiresAt: 'x',
  };
  const sig = signStart(secret, claim);
  assert.ok(verifyStart(pub, { ...claim, digest: requestDigest({ ...b, startedBy: { name: 'ana' } }) }, sig));
  assert.ok(
    !verifyStart(pub, { ...claim, digest: requestDigest({ ...a, target: { type: 'latest' } }) }, sig),
  );
  assert.ok(!verifyStart(pub, { ...claim, kind: 'perconaRollback' }, sig));
  // An approval signature is not a start signature, nor the other way round.
  assert.ok(!verifyApproval(pub, { ...claim, runId: '', step: '', reason: '' }, sig));
});
