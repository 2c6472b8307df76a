// planReplay over an archive index of 100,000 binlog files (synthetic, in the real index format, and
// backed by real binlog bytes for the files the planner reads): the right window, the right stop, only
// the files it must read, and a gap among the 100,000 found. Correctness only; `npm run bench:scale` times it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArchiveIndex } from '../../activities/archive';
import { PlanError, planReplay, type PlanInputs } from '../../activities/replay-plan';
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
let dir = '';
let reads: string[] = [];

/** Writes the requested file's real bytes on first use, and records every request. */
const pathOf: PlanInputs['pathOf'] = async (name) => {
  reads.push(name);
  const path = join(dir, name);
  await writeFile(path, syntheticBinlog(Number(name.split('.')[1]), COUNT));
  return path;
};

/** The backup was taken in file 1 after its third transaction. */
const backup = {
  file: syntheticName(1),
  position: syntheticEndPos(1, 2),
  gtid: syntheticGtid(1, 2),
  time: syntheticTime(1, 2),
};

function plan(target: RecoveryTarget, idx = index) {
  reads = [];
  return planReplay({
    index: idx,
    backup,
    target,
    allowGaps: false,
    nowSeconds: syntheticTime(COUNT, TX_PER_FILE) + 3600,
    pathOf,
  });
}

const names = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => syntheticName(from + i));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plan-scale-'));
  index = syntheticIndex(COUNT);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('planning over 100,000 archived files', () => {
  for (const n of [50_000, 99_990]) {
    test(`a GTID inside file ${n} is found by reading that file alone`, async () => {
      const p = await plan({ type: 'gtid', gtid: syntheticGtid(n, 6), exclusive: false });
      assert.deepEqual(p.files, names(1, n));
      assert.equal(p.stopGtid, syntheticGtid(n, 6));
      assert.equal(p.stopEndPos, syntheticEndPos(n, 6));
      assert.equal(p.startGtid, backup.gtid);
      assert.deepEqual(p.gaps, []);
      assert.deepEqual(reads, [syntheticName(n)]);
    });

    test(`a time inside file ${n} stops at the last transaction before it`, async () => {
      const p = await plan({ type: 'time', time: new Date((syntheticTime(n, 4) + 1) * 1000).toISOString() });
      assert.deepEqual(p.files, names(1, n));
      assert.equal(p.stopGtid, syntheticGtid(n, 4));
      assert.equal(p.stopTime, syntheticTime(n, 4));
      assert.deepEqual(reads, [syntheticName(n)]);
    });
  }

  test('the window adds up the sizes of every file in it', async () => {
    const p = await plan({ type: 'gtid', gtid: syntheticGtid(70_000, 0), exclusive: true });
    assert.equal(p.stopGtid, syntheticGtid(69_999, TX_PER_FILE - 1)); // the file before ends the window
    assert.deepEqual(p.files, names(1, 69_999));
    assert.equal(
      p.bytes,
      index.files.slice(0, 69_999).reduce((n, f) => n + f.size, 0),
    );
  });

  test('a file missing among the 100,000 is refused, naming its neighbours', async () => {
    const broken: ArchiveIndex = { version: 1, files: index.files.filter((_, i) => i !== 77_776) };
    await assert.rejects(plan({ type: 'latest' }, broken), (e: unknown) => {
      assert.ok(e instanceof PlanError, String(e));
      assert.match(e.message, /1 file\(s\) missing between mysql-bin\.077776 and mysql-bin\.077778/);
      return true;
    });
    // A target before the gap does not need the missing file.
    const p = await plan({ type: 'gtid', gtid: syntheticGtid(60_000, 3), exclusive: false }, broken);
    assert.deepEqual(p.gaps, []);
  });

  test('a GTID discontinuity among the 100,000 is refused', async () => {
    const files = [...index.files];
    // File 88,888 starts after a GTID five transactions later than its predecessor ends.
    files[88_887] = { ...files[88_887]!, gtidsBefore: `0-1-${TX_PER_FILE * 88_887 + 5}` };
    await assert.rejects(plan({ type: 'latest' }, { version: 1, files }), (e: unknown) => {
      assert.ok(e instanceof PlanError, String(e));
      assert.match(e.message, /mysql-bin\.088888 does not continue mysql-bin\.088887/);
      return true;
    });
  });
});
