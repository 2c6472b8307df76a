// planReplay over archives of real binlog bytes (CRC32 on, built in memory): the window, the stop for
// every target kind, and every way an archive can be unfit for a replay — each refused by the plan,
// before anything is touched, naming the file, the offset and what to do.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  PlanError,
  describeTarget,
  planReplay,
  refuseUnsafeStrategy,
  type PlanInputs,
} from '../../activities/replay/replay-plan';
import type { RecoveryTarget } from '../../workflows/schemas';
import {
  binlogName as name,
  buildFile,
  chainFile,
  MemoryArchive,
  T0,
  type FileSpec,
} from '../support/memory-archive';
import {
  buildBinlog,
  fde,
  mysqlGtid,
  mysqlPreviousGtids,
  query,
  rotate,
  tableMap,
  writeRows,
  xid,
} from '../support/binlog-writer';
import { createHash } from 'node:crypto';
import type { ArchivedFile } from '../../activities/archive/archive';

const at = (s: number) => new Date(s * 1000).toISOString();

/** Four chained files; the backup was taken in file 2 right after 0-1-13. */
function archive(specs: FileSpec[] = [1, 2, 3, 4].map((n) => chainFile(n, 4))): MemoryArchive {
  return new MemoryArchive(specs);
}
function backupIn(a: MemoryArchive, gtid = '0-1-13') {
  const f = a.file(name(2));
  const tx = f.txs.find((t) => t.gtid === gtid)!;
  return { file: name(2), position: tx.endPos, gtid };
}

function plan(a: MemoryArchive, over: Partial<PlanInputs> = {}) {
  a.reads = [];
  return planReplay({
    index: a.index(),
    backup: backupIn(a),
    target: { type: 'latest' },
    allowGaps: false,
    nowSeconds: T0 + 100_000,
    read: a.reader(),
    ...over,
  });
}

function refused(pattern: RegExp | ((m: string, e: PlanError) => void)) {
  return (e: unknown) => {
    assert.ok(e instanceof PlanError, `expected a PlanError, got ${String(e)}`);
    if (typeof pattern === 'function') pattern(e.message, e);
    else assert.match(e.message, pattern);
    return true;
  };
}

/** Flips one bit of byte `offset` of a file (after it was indexed). */
function flip(a: MemoryArchive, file: string, offset: number): void {
  const bytes = Buffer.from(a.file(file).bytes);
  bytes[offset] = bytes[offset]! ^ 0x04;
  a.setBytes(file, bytes);
}

describe('the window for each target kind', () => {
  test('latest: from the backup file to the last, every file read once and verified', async () => {
    const a = archive();
    const p = await plan(a);
    assert.deepEqual(p.files, [name(2), name(3), name(4)]);
    assert.equal(p.startGtid, '0-1-13');
    assert.equal(p.stopGtid, '0-1-40');
    assert.equal(p.stopEndPos, a.file(name(4)).txs.at(-1)!.endPos);
    assert.equal(p.stopTime, T0 + 3900);
    assert.equal(p.window.transactions, 27); // 0-1-14 … 0-1-40
    assert.equal(p.window.checksums, 'crc32');
    assert.deepEqual(a.reads, [name(2), name(3), name(4)]);
    assert.deepEqual(
      p.window.files.map((f) => [f.name, f.size, f.sha256]),
      [2, 3, 4].map((n) => {
        const b = a.file(name(n)).bytes;
        return [name(n), b.length, createHash('sha256').update(b).digest('hex')];
      }),
    );
    assert.equal(p.backupTime, T0 + 1200); // 0-1-13, the backup's last transaction
    assert.deepEqual(p.gaps, []);
    assert.deepEqual(p.unsafeFor, {});
  });

  test('gtid, inclusive and exclusive: only the files up to the one holding it are read', async () => {
    const a = archive();
    const p = await plan(a, { target: { type: 'gtid', gtid: '0-1-25', exclusive: false } });
    assert.equal(p.stopGtid, '0-1-25');
    assert.deepEqual(p.files, [name(2), name(3)]);
    assert.deepEqual(a.reads, [name(2), name(3)]);
    const x = await plan(a, { target: { type: 'gtid', gtid: '0-1-21', exclusive: true } });
    assert.equal(x.stopGtid, '0-1-20'); // the last transaction of the file before
    assert.deepEqual(x.files, [name(2)]);
  });

  test('gtid already in the backup, or not in the archive, is refused', async () => {
    const a = archive();
    await assert.rejects(
      plan(a, { target: { type: 'gtid', gtid: '0-1-12', exclusive: false } }),
      refused(/already in the backup/),
    );
    await assert.rejects(
      plan(a, { target: { type: 'gtid', gtid: '0-1-77', exclusive: false } }),
      refused(/not in the archive/),
    );
  });

  test('position: applies what ends before it; a position that is not an event boundary is refused', async () => {
    const a = archive();
    const tx = a.file(name(3)).txs[4]!; // 0-1-25
    const p = await plan(a, { target: { type: 'position', file: name(3), position: tx.startPos } });
    assert.equal(p.stopGtid, '0-1-24');
    await assert.rejects(
      plan(a, { target: { type: 'position', file: name(3), position: tx.startPos + 3 } }),
      refused(/is not an event boundary/),
    );
  });

  test('time: stops at the last transaction stamped before it, and lists those stamped in its second', async () => {
    const a = archive([
      chainFile(1, 3),
      chainFile(2, 3),
      chainFile(3, 3, {
        txs: [
          { gtid: [0, 1, 21], time: T0 + 2000 },
          { gtid: [0, 1, 22], time: T0 + 2001 },
          { gtid: [0, 1, 23], time: T0 + 2002 },
          { gtid: [0, 1, 24], time: T0 + 2002, ddl: 'DROP TABLE shop.orders' },
          { gtid: [0, 1, 25], time: T0 + 2003 },
        ],
      }),
    ]);
    const p = await plan(a, { target: { type: 'time', time: at(T0 + 2002) } });
    assert.equal(p.stopGtid, '0-1-22');
    assert.deepEqual(
      p.sameSecond?.left.map((t) => [t.gtid, t.time, t.statement]),
      [
        ['0-1-23', T0 + 2002, 'INSERT INTO shop.t VALUES (23)'],
        ['0-1-24', T0 + 2002, 'DROP TABLE shop.orders'],
      ],
    );
    assert.equal(p.sameSecond?.count, 2);
    assert.equal(p.sameSecond?.lastApplied?.gtid, '0-1-22');
  });

  test('time between two files stops at the end of the earlier one', async () => {
    const a = archive();
    const p = await plan(a, { target: { type: 'time', time: at(T0 + 2950) } });
    assert.equal(p.stopGtid, '0-1-30');
    assert.deepEqual(p.files, [name(2), name(3)]);
    assert.deepEqual(p.sameSecond?.left, []);
  });

  test('time before the backup, beyond the archive or in the future is refused', async () => {
    const a = archive();
    await assert.rejects(
      plan(a, { target: { type: 'time', time: at(T0 + 1200) } }),
      refused(/before the backup was taken/),
    );
    await assert.rejects(
      plan(a, { target: { type: 'time', time: at(T0 + 5000) } }),
      refused((m) => {
        assert.match(m, /is beyond the archive/);
        assert.ok(m.includes(at(T0 + 3900)), m);
      }),
    );
    await assert.rejects(
      plan(a, { target: { type: 'time', time: at(T0 + 10_060) }, nowSeconds: T0 + 10_000 }),
      refused(/is in the future/),
    );
  });

  test('a stop inside the backup means nothing to replay', async () => {
    const a = archive();
    const p = await plan(a, { target: { type: 'gtid', gtid: '0-1-14', exclusive: true } });
    assert.equal(p.stopGtid, null);
    assert.deepEqual(p.files, []);
  });
});

describe('damaged archives are refused by the plan, naming the file, the offset and what to do', () => {
  test('a flipped bit inside a row event (header and length intact): CRC32 mismatch', async () => {
    const a = archive();
    const victim = a.file(name(3)).txs[5]!; // 0-1-26
    flip(a, name(3), victim.startPos + 80);
    await assert.rejects(
      plan(a),
      refused((m, e) => {
        assert.equal(e.kind, 'ArchiveDamaged');
        assert.match(m, new RegExp(`archive file ${name(3)} is damaged at offset \\d+: CRC32 mismatch`));
        assert.match(m, /or restore to 0-1-25 \(the last complete transaction before the damage/);
        assert.match(m, /nothing was touched/);
      }),
    );
  });

  test('damage after the target is not in the window and does not matter', async () => {
    const a = archive();
    flip(a, name(4), a.file(name(4)).txs[5]!.startPos + 80);
    const p = await plan(a, { target: { type: 'gtid', gtid: '0-1-25', exclusive: false } });
    assert.equal(p.stopGtid, '0-1-25');
  });

  test('damage in the part of the stop file after the stop still refuses (the file is not what was indexed)', async () => {
    const a = archive();
    flip(a, name(3), a.file(name(3)).txs[8]!.startPos + 80);
    await assert.rejects(
      plan(a, { target: { type: 'gtid', gtid: '0-1-25', exclusive: false } }),
      refused(/damaged at offset/),
    );
  });

  test('a file changed after it was indexed (same length, valid events) is refused', async () => {
    const a = archive();
    const index = a.index();
    // Rebuild file 3 with other times: every event is valid, but these are not the indexed bytes.
    const spec = chainFile(3, 4);
    a.setBytes(name(3), buildFile({ ...spec, txs: spec.txs.map((t) => ({ ...t, time: t.time + 1 })) }).bytes);
    await assert.rejects(
      plan(a, { index }),
      refused((m, e) => {
        assert.equal(e.kind, 'ArchiveDamaged');
        assert.match(m, new RegExp(`${name(3)} changed after it was indexed`));
      }),
    );
  });

  test('a complete file cut short inside an event is refused', async () => {
    const a = archive();
    const index = a.index();
    const b = a.file(name(3)).bytes;
    a.setBytes(name(3), b.subarray(0, a.file(name(3)).txs[6]!.startPos + 30));
    await assert.rejects(plan(a, { index }), refused(new RegExp(`${name(3)} changed after it was indexed`)));
  });

  test('a file cut short at a transaction boundary and re-indexed breaks the chain: a gap', async () => {
    const a = archive();
    const spec = chainFile(3, 4);
    a.files.set(name(3), buildFile({ ...spec, txs: spec.txs.slice(0, 6), closed: false }));
    await assert.rejects(
      plan(a),
      refused((m, e) => {
        assert.equal(e.kind, 'ArchiveGap');
        assert.ok(m.includes(`${name(4)} does not continue ${name(3)}`), m);
      }),
    );
  });

  test('a missing middle file is refused naming both sides; allowGaps makes it a warning', async () => {
    const a = archive();
    a.files.delete(name(3));
    await assert.rejects(
      plan(a),
      refused((m) => {
        assert.ok(m.includes(`1 file(s) missing between ${name(2)} and ${name(4)}`), m);
        assert.match(m, /allowGaps/);
      }),
    );
    const p = await plan(a, { allowGaps: true });
    assert.deepEqual(p.files, [name(2), name(4)]);
    assert.ok(p.warnings.some((w) => w.includes('missing between')));
  });

  test('a hole inside a file (a transaction removed) is a chain break', async () => {
    const a = archive();
    const spec = chainFile(3, 4);
    a.files.set(name(3), buildFile({ ...spec, txs: spec.txs.filter((t) => t.gtid[2] !== 24) }));
    await assert.rejects(plan(a), refused(/0-1-25 follows 0-1-23: 1 transaction\(s\) of domain 0 missing/));
  });

  test('another server’s file under the same name is refused: its GTIDs do not continue the chain', async () => {
    const a = archive();
    a.files.set(
      name(3),
      buildFile({
        name: name(3),
        gtidsBefore: [[0, 9, 500]],
        txs: [{ gtid: [0, 9, 501], time: T0 + 2000 }],
        closed: true,
      }),
    );
    await assert.rejects(plan(a), refused(new RegExp(`${name(3)} does not continue ${name(2)}`)));
  });

  test('after a failover the archive continues on a new server id: not a gap', async () => {
    const a = archive([
      chainFile(1, 3),
      chainFile(2, 3),
      {
        name: name(3),
        gtidsBefore: [[0, 1, 20]],
        txs: [
          { gtid: [0, 2, 21], time: T0 + 2000 },
          { gtid: [0, 2, 22], time: T0 + 2100 },
        ],
        closed: false,
      },
    ]);
    const p = await plan(a);
    assert.equal(p.stopGtid, '0-2-22');
    assert.deepEqual(p.gaps, []);
  });

  test('an archive that does not hold the backup’s history is refused (the backup is of another server)', async () => {
    const a = archive();
    await assert.rejects(
      plan(a, { backup: { file: name(2), position: a.file(name(2)).txs[2]!.endPos, gtid: '0-1-9999' } }),
      refused((m, e) => {
        assert.equal(e.kind, 'ArchiveForeign');
        assert.match(m, /does not hold this backup's history/);
      }),
    );
  });

  test('a file that is not a binlog is refused', async () => {
    const a = archive();
    a.setBytes(name(3), Buffer.from('-- MySQL dump 10.13\nCREATE TABLE t (id int);\n'));
    await assert.rejects(plan(a, { index: archive().index() }), refused(/not a binary log file/));
  });

  test('a backup file missing from the archive is refused, naming what the archive holds', async () => {
    const a = archive([3, 4, 5].map((n) => chainFile(n, 5)));
    await assert.rejects(
      planReplay({
        index: a.index(),
        backup: { file: name(2), position: 400, gtid: '0-1-13' },
        target: { type: 'latest' },
        allowGaps: false,
        nowSeconds: T0 + 100_000,
        read: a.reader(),
      }),
      refused((m) => {
        assert.ok(m.includes(`does not hold ${name(2)}`), m);
        assert.ok(m.includes(`${name(3)} … ${name(5)}`), m);
      }),
    );
  });

  test('a file that ends without a rotate (a crash) is fine when its successor continues the chain', async () => {
    const a = archive([
      chainFile(1, 4),
      chainFile(2, 4),
      chainFile(3, 4, { closed: false }),
      chainFile(4, 4),
    ]);
    const p = await plan(a);
    assert.equal(p.stopGtid, '0-1-40');
  });
});

describe('shapes a strategy cannot apply correctly', () => {
  test('CREATE … SELECT in ROW format: the pipe is refused with the GTID and the applier offered', async () => {
    const spec = chainFile(3, 4);
    spec.txs[3] = { ...spec.txs[3]!, ctas: true }; // 0-1-24
    const a = archive([chainFile(1, 4), chainFile(2, 4), spec, chainFile(4, 4)]);
    const p = await plan(a);
    assert.match(p.unsafeFor.pipe ?? '', /0-1-24 .*CREATE … SELECT logged in ROW format/);
    assert.equal(p.unsafeFor.applier, undefined);
    assert.throws(() => refuseUnsafeStrategy(p, 'pipe', false), refused(/use replay\.strategy "applier"/));
    assert.throws(() => refuseUnsafeStrategy(p, 'pipe', true), refused(/force needs the pipe/));
    assert.doesNotThrow(() => refuseUnsafeStrategy(p, 'applier', false));
    // A target before it can still use the pipe.
    const before = await plan(a, { target: { type: 'gtid', gtid: '0-1-23', exclusive: false } });
    assert.equal(before.unsafeFor.pipe, undefined);
  });

  test('a STATEMENT transaction that also writes a non-transactional table: the pipe is refused', async () => {
    const spec = chainFile(3, 4);
    spec.txs[5] = { ...spec.txs[5]!, mixedEngines: true }; // 0-1-26
    const p = await plan(archive([chainFile(1, 4), chainFile(2, 4), spec, chainFile(4, 4)]));
    assert.match(p.unsafeFor.pipe ?? '', /0-1-26 .*writes non-transactional tables inside a transaction/);
    assert.equal(p.unsafeFor.applier, undefined);
  });

  test('the largest event of the window is measured', async () => {
    const spec = chainFile(3, 4);
    spec.txs[2] = { ...spec.txs[2]!, rowBytes: 2_000_000 };
    const a = archive([chainFile(1, 4), chainFile(2, 4), spec, chainFile(4, 4)]);
    const p = await plan(a);
    assert.ok(
      p.window.largestEvent > 2_000_000 && p.window.largestEvent < 2_001_000,
      String(p.window.largestEvent),
    );
  });
});

describe('a MySQL archive', () => {
  const U = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
  function mysqlFile(n: number, prev: [number, number][], first: number, count: number, closed: boolean) {
    const evs = [fde('8.0.36', 1), mysqlPreviousGtids([{ uuid: U, intervals: prev }])];
    for (let k = 0; k < count; k++)
      evs.push(
        mysqlGtid(U, first + k, T0 + 100 * (first + k)),
        query('BEGIN'),
        tableMap(),
        writeRows(),
        xid(first + k),
      );
    if (closed) evs.push(rotate(name(n + 1)));
    const bytes = buildBinlog(evs, true).bytes;
    const entry: ArchivedFile = {
      name: name(n),
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      gtidsBefore: prev.length ? `${U}:1-${prev[0]![1] - 1}` : '',
      firstGtid: `${U}:${first}`,
      lastGtid: `${U}:${first + count - 1}`,
      firstEventTime: T0 + 100 * first,
      lastEventTime: T0 + 100 * (first + count - 1),
      transactions: count,
      complete: closed,
    };
    return { bytes, entry };
  }
  async function mysqlPlan(files: { bytes: Buffer; entry: ArchivedFile }[]) {
    const byName = new Map(files.map((f) => [f.entry.name, f.bytes]));
    return planReplay({
      index: { version: 1, files: files.map((f) => f.entry) },
      backup: { file: name(2), position: 4, gtid: `${U}:1-10` },
      target: { type: 'latest' },
      allowGaps: false,
      nowSeconds: T0 + 100_000,
      read: async (f) => ({
        chunks: (async function* () {
          yield byName.get(f.name)!;
        })(),
        path: () => f.name,
      }),
      dialect: 'mysql',
    });
  }

  test('consecutive MySQL files that continue each other plan without a gap', async () => {
    const p = await mysqlPlan([
      mysqlFile(2, [[1, 11]], 11, 10, true),
      mysqlFile(3, [[1, 21]], 21, 10, false),
    ]);
    assert.equal(p.stopGtid, `${U}:30`);
    assert.deepEqual(p.gaps, []);
  });

  test('a MySQL file whose Previous_gtids skips transactions is a gap', async () => {
    await assert.rejects(
      mysqlPlan([mysqlFile(2, [[1, 11]], 11, 10, true), mysqlFile(3, [[1, 26]], 26, 5, false)]),
      refused(new RegExp(`${name(3)} does not continue ${name(2)}`)),
    );
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
