// The webhook's signature code (scripts/lib/signature.ts): header parsing, HMAC verification over the
// raw body, key rotation, and loading keys without ever echoing one.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_SIGNATURES,
  parseGenericSignature,
  parsePagerDutySignatures,
  signBody,
  verifySignature,
} from '../../scripts/lib/signature';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-fedcba9876543210';
const BODY = Buffer.from('{"incident":{"id":"INC-1"},"input":{}}');
const hex = (c: string) => c.repeat(64);

describe('signBody', () => {
  test('is HMAC-SHA256 in lowercase hex (RFC 4231 test case 2)', () => {
    assert.equal(
      signBody('Jefe', 'what do ya want for nothing?'),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });
});

describe('parsePagerDutySignatures', () => {
  test('one v1 signature', () => {
    assert.deepEqual(parsePagerDutySignatures(`v1=${hex('a')}`), [hex('a')]);
  });

  test('several, as PagerDuty sends during a key rotation, with or without spaces', () => {
    assert.deepEqual(parsePagerDutySignatures(`v1=${hex('a')},v1=${hex('b')}, v1=${hex('c')}`), [
      hex('a'),
      hex('b'),
      hex('c'),
    ]);
  });

  test('uppercase hex is accepted and normalized', () => {
    assert.deepEqual(parsePagerDutySignatures(`V1=${hex('A')}`), [hex('a')]);
  });

  test('other versions, malformed entries and wrong lengths are ignored', () => {
    assert.deepEqual(
      parsePagerDutySignatures(
        `v0=${hex('a')},v1=${'a'.repeat(63)},v1=${hex('g')},garbage,v1=,=,v1=${hex('d')}x,v1=${hex('e')}`,
      ),
      [hex('e')],
    );
  });

  test('no header, an empty header', () => {
    assert.deepEqual(parsePagerDutySignatures(undefined), []);
    assert.deepEqual(parsePagerDutySignatures(''), []);
  });

  test(`at most ${MAX_SIGNATURES} signatures are taken from one header`, () => {
    const header = Array.from({ length: 50 }, () => `v1=${hex('f')}`).join(',');
    assert.equal(parsePagerDutySignatures(header).length, MAX_SIGNATURES);
  });
});

describe('parseGenericSignature', () => {
  test('sha256=<hex>', () => {
    assert.deepEqual(parseGenericSignature(`sha256=${hex('0')}`), [hex('0')]);
    assert.deepEqual(parseGenericSignature(` SHA256=${hex('B')} `), [hex('b')]);
  });

  test('anything else is no signature', () => {
    for (const h of [
      undefined,
      '',
      hex('0'),
      `sha1=${hex('0')}`,
      `sha256=${hex('0')}0`,
      `sha256=${'0'.repeat(63)}`,
    ])
      assert.deepEqual(parseGenericSignature(h), [], String(h));
  });
});

describe('verifySignature', () => {
  const pd = (...keys: string[]) => ({
    'x-pagerduty-signature': keys.map((k) => `v1=${signBody(k, BODY)}`).join(','),
  });

  test('a PagerDuty signature made with the configured key', () => {
    assert.equal(verifySignature(BODY, pd(KEY_A), [KEY_A]), true);
  });

  test('key rotation: two configured keys, two signatures of which only one is valid', () => {
    const header = {
      'x-pagerduty-signature': `v1=${signBody('an-old-key-nobody-has-anymore', BODY)},v1=${signBody(KEY_B, BODY)}`,
    };
    assert.equal(verifySignature(BODY, header, [KEY_A, KEY_B]), true);
    assert.equal(verifySignature(BODY, header, [KEY_A]), false);
  });

  test('the generic X-Signature header', () => {
    assert.equal(verifySignature(BODY, { 'x-signature': `sha256=${signBody(KEY_A, BODY)}` }, [KEY_A]), true);
  });

  test('a signature made with another key is refused', () => {
    assert.equal(verifySignature(BODY, pd('not-the-configured-key'), [KEY_A, KEY_B]), false);
  });

  test('the signature covers every byte of the raw body', () => {
    const headers = pd(KEY_A);
    assert.equal(verifySignature(Buffer.from(`${BODY.toString()} `), headers, [KEY_A]), false);
    // Same JSON, different bytes: the raw body is signed, not its parsed value.
    assert.equal(
      verifySignature(Buffer.from('{"incident": {"id":"INC-1"},"input":{}}'), headers, [KEY_A]),
      false,
    );
  });

  test('no header, a malformed header, no keys', () => {
    assert.equal(verifySignature(BODY, {}, [KEY_A]), false);
    assert.equal(verifySignature(BODY, { 'x-pagerduty-signature': signBody(KEY_A, BODY) }, [KEY_A]), false);
    assert.equal(verifySignature(BODY, { 'x-signature': signBody(KEY_A, BODY) }, [KEY_A]), false);
    assert.equal(verifySignature(BODY, pd(KEY_A), []), false);
  });

  test('a header repeated (an array) is read whole', () => {
    const headers = { 'x-pagerduty-signature': [`v1=${hex('0')}`, `v1=${signBody(KEY_A, BODY)}`] };
    assert.equal(verifySignature(BODY, headers, [KEY_A]), true);
  });
});
