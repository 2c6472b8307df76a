// What the real Tungsten tools print, as the runbook reads it for the THL purge (step 2) and the
// release check (plan). Samples follow the open-source replicator's code (THLManagerCtrl `thl info`,
// OpenReplicatorManagerCtrl.printVersion / ManifestParser) and the Continuent thl reference.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  isSupportedVersion,
  parseThlInfo,
  parseTrepctlVersion,
} from '../../activities/tungsten/tungsten-output';

describe('trepctl version', () => {
  test('reads `<product> <major>.<minor>.<revision> build <N>`', () => {
    assert.deepEqual(parseTrepctlVersion('Tungsten Replicator 5.3.0 build 38\n'), {
      release: 'Tungsten Replicator 5.3.0 build 38',
      major: 5,
      minor: 3,
    });
    assert.deepEqual(parseTrepctlVersion('Tungsten Clustering 7.0.3 build 141'), {
      release: 'Tungsten Clustering 7.0.3 build 141',
      major: 7,
      minor: 0,
    });
    // A build without a Hudson number prints no "build" part.
    assert.equal(parseTrepctlVersion('Tungsten Replicator 6.1.2')?.major, 6);
  });

  test('anything else is no release: an empty manifest, two lines, a payload', () => {
    for (const out of ['', 'null', 'Tungsten Replicator', 'a 7.0.0\nb 6.0.0', 'x; 7.0.0 build 1'])
      assert.equal(parseTrepctlVersion(out), null, JSON.stringify(out));
  });

  test('6.x and 7.x are supported; 5.x (no thl list -event, no thl dsctl) and unchecked 8.x are not', () => {
    const v = (s: string) => isSupportedVersion(parseTrepctlVersion(s)!);
    assert.equal(v('Tungsten Replicator 6.1.25 build 6'), true);
    assert.equal(v('Tungsten Clustering 7.1.4 build 10'), true);
    assert.equal(v('Tungsten Replicator 5.3.0 build 38'), false);
    assert.equal(v('Tungsten Replicator 8.0.1 build 12'), false);
  });
});

describe('thl info', () => {
  test('reads min/max from the whole real output (events is max − min, not a count)', () => {
    const out = [
      'log directory = /opt/continuent/thl/alpha/',
      'log files = 2',
      'logs size = 1.20 MB',
      'min seq# = 0',
      'max seq# = 1003',
      'events = 1003',
      'oldest file = thl.data.0000000001 (1.00 MB, 2026-12-07 19:00:00)',
      'newest file = thl.data.0000000002 (0.20 MB, 2026-12-07 19:00:00)',
    ].join('\n');
    assert.deepEqual(parseThlInfo(out), { minSeqno: 0, maxSeqno: 1003, events: 1003 });
  });

  test('an initialized log without events says -1 / -1', () => {
    const out =
      'log directory = /opt/continuent/thl/alpha/\nlog files = 1\nlogs size = 0.00 MB\nmin seq# = -1\nmax seq# = -1\nevents = 0\n';
    assert.deepEqual(parseThlInfo(out), { minSeqno: -1, maxSeqno: -1, events: 0 });
  });

  test('an answer without min or max is refused', () => {
    assert.throws(() => parseThlInfo('log directory = /x/\nmax seq# = 3\nevents = 3'), /no "min seq#"/);
    assert.throws(() => parseThlInfo('Fatal error: Attempting to read a non-existent log'), /no "min seq#"/);
  });
});
