import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { ArchiveIndex, ArchivedFile } from '../../activities/archive';
import {
  PlanError,
  describeTarget,
  planReplay,
  type BackupCoordinates,
  type PlanInputs,
} from '../../activities/replay-plan';
import type { RecoveryTarget } from '../../workflows/schemas';

const name = (n: number) => `mysql-bin.${String(n).padStart(6, '0')}`;
const T0 = 1_780_000_000; // Unix seconds; the archive's first file starts here

/** File n holds MariaDB GTIDs 0-1-(10(n-1)+1) … 0-1-10n, written during [T0+1000(n-1), T0+1000(n-1)+900]. */
function file(n: number, over: Partial<ArchivedFile> = {}): ArchivedFile {
  return {
    name: name(n),
    size: 1000 * n,
    sha256: 'f'.repeat(64),
    gtidsBefore: n === 1 ? '' : `0-1-${10 * (n - 1)}`,
    firstGtid: `0-1-${10 * (n - 1) + 1}`,
    lastGtid: `0-1-${10 * n}`,
    firstEventTime: T0 + 1000 * (n - 1),
    lastEventTime: T0 + 1000 * (n - 1) + 900,
    transactions: 10,
    complete: true,
    ...over,
  };
}

const index = (...files: ArchivedFile[]): ArchiveIndex => ({ version: 1, files });

/** The backup was taken inside file 2, after GTID 0-1-13. */
const backup: BackupCoordinates = { file: name(2), position: 4000, gtid: '0-1-13', time: T0 + 1300 };

let scans: string[] = [];
/** A pathOf that proves no file is read: it records the request and throws. */
const noFileAccess: PlanInputs['pathOf'] = (n) => {
  scans.push(n);
  return Promise.reject(new Error(`pathOf(${n}) must not be called`));
};

function plan(over: Partial<PlanInputs>) {
  scans = [];
  return planReplay({
    index: index(file(1), file(2), file(3), file(4)),
    backup,
    target: { type: 'latest' },
    allowGaps: false,
    nowSeconds: T0 + 100_000,
    pathOf: noFileAccess,
    ...over,
  });
}

function planError(pattern: RegExp | ((m: string) => void)) {
  return (e: unknown) => {
    assert.ok(e instanceof PlanError, `expected a PlanError, got ${String(e)}`);
    if (typeof pattern === 'function') pattern(e.message);
    else assert.match(e.message, pattern);
    return true;
  };
}

describe('planReplay with target latest', () => {
  test('the window runs from the backup file to the last file and stops at the last archived GTID', async () => {
    const p = await plan({});
    assert.deepEqual(p, {
      files: [name(2), name(3), name(4)],
      startGtid: '0-1-13',
      stopGtid: '0-1-40',
      stopEndPos: 4000, // the end of the last file (its size)
      stopTime: T0 + 3900,
      target: 'latest archived',
      bytes: 2000 + 3000 + 4000,
      gaps: [],
      warnings: [],
    });
    assert.deepEqual(scans, []);
  });

  test('a trailing file without transactions is left out of the window', async () => {
    const p = await plan({
      index: index(
        file(1),
        file(2),
        file(3),
        file(4, { firstGtid: null, lastGtid: null, transactions: 0, gtidsBefore: '0-1-30' }),
      ),
    });
    assert.deepEqual(p.files, [name(2), name(3)]);
    assert.equal(p.stopGtid, '0-1-30');
    assert.equal(p.stopTime, T0 + 2900);
  });

  test('a missing middle file is refused, naming the files on both sides', async () => {
    await assert.rejects(
      plan({ index: index(file(1), file(2), file(4), file(5)) }),
      planError((m) => {
        assert.ok(m.includes(`1 file(s) missing between ${name(2)} and ${name(4)}`), m);
        assert.match(m, /allowGaps/);
      }),
    );
  });

  test('with allowGaps a missing file becomes a warning and the plan goes on', async () => {
    const p = await plan({ index: index(file(1), file(2), file(5)), allowGaps: true });
    assert.deepEqual(p.files, [name(2), name(5)]);
    assert.deepEqual(p.gaps, [`2 file(s) missing between ${name(2)} and ${name(5)}`]);
    assert.equal(p.warnings.length, 1);
    assert.ok(p.warnings[0]!.includes(`2 file(s) missing between ${name(2)} and ${name(5)}`));
    assert.equal(p.stopGtid, '0-1-50');
  });

  test('a file whose starting GTID state does not continue the previous file is a gap', async () => {
    // File 3 says it starts after 0-1-25, but file 2 ends at 0-1-20: 0-1-21 … 0-1-25 are missing.
    await assert.rejects(
      plan({ index: index(file(1), file(2), file(3, { gtidsBefore: '0-1-25' })) }),
      planError((m) => {
        assert.ok(m.includes(`${name(3)} does not continue ${name(2)}`), m);
        assert.ok(m.includes('0-1-25') && m.includes('0-1-20'), m);
      }),
    );
  });

  test('a file that starts before the previous file ended (a diverged history) is a gap', async () => {
    await assert.rejects(
      plan({ index: index(file(1), file(2), file(3, { gtidsBefore: '0-1-15' })) }),
      planError(
        new RegExp(
          `${name(3)} does not continue ${name(2)}: it starts after 0-1-15, but ${name(2)} ends at 0-1-20`,
        ),
      ),
    );
  });

  test('with several domains a file continues when the last GTID’s domain matches exactly', async () => {
    const p = await plan({
      index: index(
        file(2, { lastGtid: '1-3-7' }),
        file(3, { gtidsBefore: '0-1-20,1-3-7' }),
        file(4, { gtidsBefore: '0-1-30,1-3-7' }),
      ),
    });
    assert.deepEqual(p.gaps, []);
    assert.deepEqual(p.files, [name(2), name(3), name(4)]);
  });

  test('a file that was still being written is a gap when a newer file exists', async () => {
    await assert.rejects(
      plan({ index: index(file(2, { complete: false }), file(3)) }),
      planError(/still being written/),
    );
  });

  test('a gap before the backup file does not matter', async () => {
    const p = await plan({ index: index(file(1), file(2, { gtidsBefore: '0-1-5' }), file(3)) });
    assert.deepEqual(p.gaps, []);
    assert.deepEqual(p.files, [name(2), name(3)]);
  });

  test('a backup file missing from the archive is refused, naming what the archive holds', async () => {
    await assert.rejects(
      plan({ index: index(file(3), file(4), file(5)) }),
      planError((m) => {
        assert.ok(m.includes(`does not hold ${name(2)}`), m);
        assert.ok(m.includes(`${name(3)} … ${name(5)}`), m);
      }),
    );
  });

  test('an empty archive is refused', async () => {
    await assert.rejects(
      plan({ index: index() }),
      planError(new RegExp(`holds no binlog files; the backup needs ${name(2)} onwards`)),
    );
  });
});

describe('planReplay over a MySQL archive', () => {
  const U = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
  const mysqlFile = (n: number, over: Partial<ArchivedFile> = {}) =>
    file(n, {
      gtidsBefore: n === 1 ? '' : `${U}:1-${10 * (n - 1)}`,
      firstGtid: `${U}:${10 * (n - 1) + 1}`,
      lastGtid: `${U}:${10 * n}`,
      ...over,
    });
  const mysqlBackup = { ...backup, gtid: `${U}:1-13` };

  test('consecutive MySQL files that continue each other plan without a gap', async () => {
    const p = await plan({ index: index(mysqlFile(1), mysqlFile(2), mysqlFile(3)), backup: mysqlBackup });
    assert.deepEqual(p.files, [name(2), name(3)]);
    assert.equal(p.stopGtid, `${U}:30`);
    assert.deepEqual(p.gaps, []);
  });

  test('a MySQL file whose Previous_gtids skips transactions is a gap', async () => {
    await assert.rejects(
      plan({ index: index(mysqlFile(2), mysqlFile(3, { gtidsBefore: `${U}:1-25` })), backup: mysqlBackup }),
      planError(new RegExp(`${name(3)} does not continue ${name(2)}`)),
    );
  });
});

describe('planReplay with a time target (checked before any file is read)', () => {
  const at = (s: number) => new Date(s * 1000).toISOString();

  test('a time before the backup was taken is refused', async () => {
    await assert.rejects(
      plan({ target: { type: 'time', time: at(T0 + 1200) } }),
      planError(/is before the backup was taken \(.*\); use an older backup/),
    );
    assert.deepEqual(scans, []);
  });

  test('a time equal to the backup time is refused', async () => {
    await assert.rejects(
      plan({ target: { type: 'time', time: at(T0 + 1300) } }),
      planError(/before the backup was taken/),
    );
  });

  test('a time after the newest archived event is refused as beyond the archive', async () => {
    await assert.rejects(
      plan({ target: { type: 'time', time: at(T0 + 5000) } }),
      planError((m) => {
        assert.match(m, /is beyond the archive/);
        assert.ok(m.includes(at(T0 + 3900)), m); // names the newest event time
      }),
    );
    assert.deepEqual(scans, []);
  });

  test('a time in the future is refused', async () => {
    const now = T0 + 10_000;
    await assert.rejects(
      plan({ target: { type: 'time', time: at(now + 60) }, nowSeconds: now }),
      planError(/is in the future/),
    );
    assert.deepEqual(scans, []);
  });

  test('a time between two files stops at the last GTID before it without reading any file', async () => {
    const p = await plan({ target: { type: 'time', time: at(T0 + 2950) } });
    assert.equal(p.stopGtid, '0-1-30');
    assert.equal(p.stopTime, T0 + 2900);
    assert.deepEqual(p.files, [name(2), name(3)]);
    assert.equal(p.target, `time < ${at(T0 + 2950)}`);
    assert.deepEqual(scans, []);
  });
});

describe('describeTarget', () => {
  const cases: [RecoveryTarget, string][] = [
    [{ type: 'time', time: '2026-11-22T03:12:00Z' }, 'time < 2026-11-22T03:12:00Z'],
    [{ type: 'gtid', gtid: '0-1-42', exclusive: false }, 'gtid through 0-1-42'],
    [{ type: 'gtid', gtid: '0-1-42', exclusive: true }, 'gtid before 0-1-42'],
    [{ type: 'position', file: 'mysql-bin.000007', position: 1234 }, 'position < mysql-bin.000007:1234'],
    [{ type: 'latest' }, 'latest archived'],
  ];
  for (const [target, text] of cases)
    test(`a ${target.type} target${target.type === 'gtid' && target.exclusive ? ' (exclusive)' : ''} is described as "${text}"`, () => {
      assert.equal(describeTarget(target), text);
    });
});
