// ndb_mgm's STATUS lines, as the real client prints them (storage/ndb/src/mgmclient/CommandInterpreter.cpp,
// 8.0 and older formats), read by the NDB runbook. "not started" contains "started": a node that waits
// for START (ndbd --nostart) must never count as started.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNodeStatuses } from '../../activities/ndb/ndb-mgm-status';

const HEADER = 'Connected to Management Server at: mgm1:1186\n';
const state = (line: string) => parseNodeStatuses(HEADER + line)[0]?.state;

test('8.0 formats: started, not started, starting, not connected, shutting down, restarting, single user mode', () => {
  assert.equal(state('Node 2: started (mysql-8.0.40 ndb-8.0.40)'), 'started');
  assert.equal(state('Node 2: not started (mysql-8.0.40 ndb-8.0.40)'), 'not started');
  assert.equal(state('Node 2: starting (Phase 2) (mysql-8.0.40 ndb-8.0.40)'), 'starting');
  assert.equal(state('Node 2: not connected'), 'no contact');
  assert.equal(state('Node 2: shutting down (Phase 1) (mysql-8.0.40 ndb-8.0.40)'), 'shutting down');
  assert.equal(state('Node 2: restarting (mysql-8.0.40 ndb-8.0.40)'), 'restarting');
  assert.equal(state('Node 2: single user mode (mysql-8.0.40 ndb-8.0.40)'), 'single user mode');
});

test('older formats: Started, Not started, No contact, Starting (Start phase N), Shutting down node', () => {
  assert.equal(state('Node 3: Started (Version 7.2.10)'), 'started');
  assert.equal(state('Node 3: Not started (Version 7.2.10)'), 'not started');
  assert.equal(state('Node 3: No contact'), 'no contact');
  assert.equal(state('Node 3: Starting (Start phase 4) (Version 7.2.10)'), 'starting');
  assert.equal(state('Node 3: Shutting down node (Phase 1) (Version 7.2.10)'), 'shutting down');
});

test('"not started" is never "started" (the old /started/ test matched it)', () => {
  const statuses = parseNodeStatuses(
    `${HEADER}Node 2: not started (mysql-8.0.40 ndb-8.0.40)\nNode 3: started (mysql-8.0.40 ndb-8.0.40)\n`,
  );
  assert.deepEqual(
    statuses.map((s) => [s.id, s.state]),
    [
      [2, 'not started'],
      [3, 'started'],
    ],
  );
});

test('an unknown phrase is unknown, and lines that are not node statuses are ignored', () => {
  assert.equal(state('Node 4: unknown state (mysql-8.0.40 ndb-8.0.40)'), 'unknown');
  assert.equal(state('Node 4: resuming (mysql-8.0.40 ndb-8.0.40)'), 'unknown');
  assert.deepEqual(parseNodeStatuses(`${HEADER}2: Node not found\n`), []);
});
