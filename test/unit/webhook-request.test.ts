// The webhook's request handling that needs no server (scripts/lib/webhook-request.ts): which kinds it
// starts, the envelope, validation with the workflows' own schemas, and the deterministic workflow id.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as workflows from '../../workflows/index';
import { PerconaPitrInput } from '../../workflows/schemas';
import {
  deriveWorkflowId,
  parseRequest,
  RUNBOOK_KINDS,
  runbookKind,
  type RunbookKind,
} from '../../scripts/lib/webhook-request';

const percona = runbookKind('perconaPointInTimeRecovery') as RunbookKind;
const input = {
  cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'cluster1' },
  backup: { dir: '/backups/full' },
  restore: { datadir: '/var/lib/mysql' },
  archive: { kind: 'fs', dir: '/var/lib/binlog-archive' },
  target: { type: 'gtid', gtid: '0-1-42' },
};

describe('kinds', () => {
  test('every top-level workflow the worker registers, and nothing else (children are not started from outside)', () => {
    const registered = Object.keys(workflows).filter((n) => n !== 'vitessShardRestore');
    assert.deepEqual([...RUNBOOK_KINDS].sort(), registered.sort());
  });

  test('each kind validates with the very schema its workflow uses', () => {
    assert.equal(percona.schema, PerconaPitrInput);
    assert.equal(runbookKind('nope'), undefined);
    assert.equal(runbookKind('__proto__'), undefined);
    assert.equal(runbookKind('constructor'), undefined);
  });
});

describe('parseRequest', () => {
  test('a valid request: the incident, the input as sent, the cluster and target the run will carry', () => {
    const r = parseRequest(
      percona,
      { incident: { id: 'INC-42', title: 'orders dropped', urgency: 'high' }, input },
      undefined,
    );
    assert.ok(r.ok);
    assert.equal(r.incidentId, 'INC-42');
    assert.equal(r.incidentTitle, 'orders dropped');
    assert.equal(r.input, input);
    assert.deepEqual(r.facts, { cluster: 'shop', target: 'gtid:0-1-42' });
  });

  test('without an incident in the body, the X-Webhook-Id header names the run', () => {
    const r = parseRequest(percona, { input }, ' delivery-7 ');
    assert.ok(r.ok);
    assert.equal(r.incidentId, 'delivery-7');
  });

  test('no incident id anywhere is refused', () => {
    const r = parseRequest(percona, { input }, undefined);
    assert.ok(!r.ok);
    assert.match(r.issues.join('\n'), /^incident\.id: required/m);
  });

  test('issues name the field under input; an inline secret is not echoed', () => {
    const bad = { ...input, restore: { datadir: '/var/lib/mysql', password: 'hunter2-inline' } };
    const r = parseRequest(percona, { incident: { id: 'INC-1' }, input: bad }, undefined);
    assert.ok(!r.ok);
    const text = r.issues.join('\n');
    assert.match(text, /^input\.restore\.password: secrets are given by reference/m);
    assert.doesNotMatch(text, /hunter2/);
  });

  test("the workflow schema's own checks run too: a bad GTID", () => {
    const r = parseRequest(
      percona,
      { incident: { id: 'INC-1' }, input: { ...input, target: { type: 'gtid', gtid: '0-1' } } },
      undefined,
    );
    assert.ok(!r.ok);
    assert.match(r.issues.join('\n'), /^input\.target\.gtid: not a MariaDB GTID/m);
  });

  test('unknown envelope fields and a missing input are refused', () => {
    const r = parseRequest(percona, { incident: { id: 'INC-1' }, inputs: input }, undefined);
    assert.ok(!r.ok);
    assert.match(r.issues.join('\n'), /inputs/);
    const r2 = parseRequest(percona, { incident: { id: 'INC-1' } }, undefined);
    assert.ok(!r2.ok);
    assert.match(r2.issues.join('\n'), /^input: /m);
  });

  test('a body that is not an object is refused', () => {
    for (const body of [null, [], 'x', 42]) assert.ok(!parseRequest(percona, body, 'id').ok);
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
