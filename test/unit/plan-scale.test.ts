// planReplay over an archive index of 100,000 binlog files (synthetic, in the real index format, and
// backed by real binlog bytes, generated as the planner reads them): the right window, the right stop,
// exactly the window's files read (each once, verified), and a gap among the 100,000 found before any
// file is read. Correctness only; `npm run bench:scale` times it.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import type { ArchiveIndex } from '../../activities/archive/archive';
import { PlanError, planReplay, type PlanInputs } from '../../activities/replay/replay-plan';
import type { RecoveryTarget } from '../../workflows/schemas';
import {
  TX_PER_FILE,
  syntheticBinlog,
  syntheticEndPos,
  syntheticGtid,
  syntheticIndex,
  syntheticName,
  syntheticTime,
} from '../../scripts/lib/synthetic-archive';

const COUNT = 100_000;
let index: ArchiveIndex;
let reads: string[] = [];

/** Generates the requested file's real bytes as it is read, and records every request. */
const read: PlanInputs['read'] = async (f) => {
  reads.push(f.name);
  const bytes = syntheticBinlog(Number(f.name.split('.')[1]), COUNT);
  return {
    chunks: (async function* () {
      yield bytes;
    })(),
    path: () => f.name,
  };
};

/** A backup taken in file `n` after its third transaction. */
const backupIn = (n: number) => ({
  file: syntheticName(n),
  position: syntheticEndPos(n, 2),
  gtid: syntheticGtid(n, 2),
});

function plan(target: RecoveryTarget, backupFile = 1, idx = index) {
  reads = [];
  return planReplay({
    index: idx,
    backup: backupIn(backupFile),
    target,
    allowGaps: false,
    nowSeconds: syntheticTime(COUNT, TX_PER_FILE) + 3600,
    read,
  });
}

const names = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => syntheticName(from + i));

before(() => {
  index = syntheticIndex(COUNT);
});

describe('planning over 100,000 archived files', () => {
  for (const n of [50_000, 99_990]) {
    test(`a GTID inside file ${n}, backup 10 files earlier: exactly the 11 window files are read`, async () => {
      const p = await plan({ type: 'gtid', gtid: syntheticGtid(n, 6), exclusive: false }, n - 10);
      assert.deepEqual(p.files, names(n - 10, n));
      assert.equal(p.stopGtid, syntheticGtid(n, 6));
      assert.equal(p.stopEndPos, syntheticEndPos(n, 6));
      assert.equal(p.startGtid, syntheticGtid(n - 10, 2));
      assert.equal(p.window.transactions, TX_PER_FILE * 10 - 3 + 7);
      assert.deepEqual(p.gaps, []);
      assert.deepEqual(reads, names(n - 10, n));
    });

    test(`a time inside file ${n} stops at the last transaction before it`, async () => {
      const time = new Date((syntheticTime(n, 4) + 1) * 1000).toISOString();
      const p = await plan({ type: 'time', time }, n - 10);
      assert.deepEqual(p.files, names(n - 10, n));
      assert.equal(p.stopGtid, syntheticGtid(n, 4));
      assert.equal(p.stopTime, syntheticTime(n, 4));
      assert.deepEqual(reads, names(n - 10, n));
    });
  }

  test('a window of 20,000 files is read whole, each file once, and adds up their sizes', async () => {
    const p = await plan({ type: 'gtid', gtid: syntheticGtid(70_000, 0), exclusive: true }, 50_001);
    assert.equal(p.stopGtid, syntheticGtid(69_999, TX_PER_FILE - 1)); // the file before ends the window
    assert.deepEqual(p.files, names(50_001, 69_999));
    assert.equal(
      p.bytes,
      index.files.slice(50_000, 69_999).reduce((n, f) => n + f.size, 0),
    );
    assert.equal(new Set(reads).size, reads.length);
    assert.equal(p.window.checksums, 'crc32');
  });

  test('a file missing among the 100,000 is refused before any file is read, naming its neighbours', async () => {
    const broken: ArchiveIndex = { version: 1, files: index.files.filter((_, i) => i !== 77_776) };
    await assert.rejects(plan({ type: 'latest' }, 1, broken), (e: unknown) => {
      assert.ok(e instanceof PlanError, String(e));
      assert.match(e.message, /1 file\(s\) missing between mysql-bin\.077776 and mysql-bin\.077778/);
      return true;
    });
    assert.deepEqual(reads, []);
    // A target before the gap does not need the missing file.
    const p = await plan({ type: 'gtid', gtid: syntheticGtid(60_000, 3), exclusive: false }, 59_990, broken);
    assert.deepEqual(p.gaps, []);
  });

  test('a GTID discontinuity among the 100,000 is refused before any file is read', async () => {
    const files = [...index.files];
    // File 88,888 starts after a GTID five transactions later than its predecessor ends.
    files[88_887] = { ...files[88_887]!, gtidsBefore: `0-1-${TX_PER_FILE * 88_887 + 5}` };
    await assert.rejects(plan({ type: 'latest' }, 1, { version: 1, files }), (e: unknown) => {
      assert.ok(e instanceof PlanError, String(e));
      assert.match(e.message, /mysql-bin\.088888 does not continue mysql-bin\.088887/);
      return true;
    });
    assert.deepEqual(reads, []);
  });
});
