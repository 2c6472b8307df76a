// The proof after replay, on binlog bytes built for each case: a restored binlog that matches the
// window proves it; a skipped, renumbered, doubled, foreign or half-applied transaction fails it,
// naming the GTID; what the replay can account for (force, statements that matched no row) is listed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareWithArchive, describeProof } from '../../activities/replay/replay-proof';
import { buildFile, T0, txEvents, type FileSpec, type Gtid, type TxSpec } from '../support/memory-archive';
import {
  buildBinlog,
  fde,
  mariadbGtid,
  mariadbGtidList,
  mysqlGtid,
  mysqlPreviousGtids,
  query,
  tableMap,
  writeRows,
  xid,
  type Ev,
} from '../support/binlog-writer';

let dir = '';
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'replay-proof-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(bytes: Buffer): Promise<string> {
  const p = join(dir, `f-${++n}.000001`);
  await writeFile(p, bytes);
  return p;
}
const tx = (seq: number, over: Partial<TxSpec> = {}): TxSpec => ({
  gtid: [0, 1, seq],
  time: T0 + seq,
  ...over,
});
async function binlog(txs: TxSpec[], before: Gtid[] = [[0, 1, 10]]): Promise<string> {
  const spec: FileSpec = { name: 'mysql-bin.000001', gtidsBefore: before, txs, closed: false };
  return write(buildFile(spec).bytes);
}

/** The archive: 0-1-11 … 0-1-20 after a backup at 0-1-10; file 1 also holds 0-1-9, 0-1-10 (in the backup). */
async function archiveFiles(over: Record<number, Partial<TxSpec>> = {}): Promise<string[]> {
  const first = await binlog(
    [9, 10, 11, 12, 13, 14, 15].map((s) => tx(s, over[s])),
    [[0, 1, 8]],
  );
  const second = await binlog(
    [16, 17, 18, 19, 20, 21].map((s) => tx(s, over[s])),
    [[0, 1, 15]],
  );
  return [first, second];
}
const window = (stop = '0-1-20') => ({ startGtid: '0-1-10', stopGtid: stop, rowPacking: 'default' as const });
const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('the proof holds', () => {
  test('when the restored binlog holds every window GTID once, in order, with the same row events', async () => {
    const restored = await binlog(seqs(11, 20).map((s) => tx(s)));
    const p = await compareWithArchive({ ...window(), archiveFiles: await archiveFiles() }, [restored]);
    assert.equal(p.holds, true, p.problems.join('; '));
    assert.equal(p.expected, 10);
    assert.equal(p.applied, 10);
    assert.equal(p.first, '0-1-11');
    assert.equal(p.last, '0-1-20');
    assert.match(
      describeProof(p)[0]!,
      /^proof: 10 of 10 transactions of the window applied once, in order \(0-1-11 … 0-1-20\), row events equal$/,
    );
  });

  test('across several restored files (the server restarted and rotated during the replay)', async () => {
    const a = await binlog(seqs(11, 14).map((s) => tx(s)));
    const b = await binlog(
      seqs(15, 20).map((s) => tx(s)),
      [[0, 1, 14]],
    );
    const p = await compareWithArchive({ ...window(), archiveFiles: await archiveFiles() }, [a, b]);
    assert.equal(p.holds, true, p.problems.join('; '));
  });

  test('with domains interleaved differently (parallel apply commits domains out of file order)', async () => {
    const archive = await binlog(
      [tx(11), { gtid: [1, 1, 5], time: T0 }, tx(12), { gtid: [1, 1, 6], time: T0 }, tx(13)],
      [
        [0, 1, 10],
        [1, 1, 4],
      ],
    );
    const restored = await binlog([
      { gtid: [1, 1, 5], time: T0 },
      { gtid: [1, 1, 6], time: T0 },
      tx(11),
      tx(12),
      tx(13),
    ]);
    const p = await compareWithArchive(
      { startGtid: '0-1-10,1-1-4', stopGtid: '0-1-13', rowPacking: 'default', archiveFiles: [archive] },
      [restored],
    );
    assert.equal(p.holds, true, p.problems.join('; '));
    assert.equal(p.applied, 5);
  });
});

describe('the proof fails, naming the transaction', () => {
  test('a skipped transaction', async () => {
    const restored = await binlog(
      seqs(11, 20)
        .filter((s) => s !== 14)
        .map((s) => tx(s)),
    );
    const p = await compareWithArchive({ ...window(), archiveFiles: await archiveFiles() }, [restored]);
    assert.equal(p.holds, false);
    assert.deepEqual(p.problems, [
      '0-1-14 (INSERT INTO shop.t VALUES (14)) is in the archive window but was never applied',
    ]);
    assert.equal(p.applied, 9);
  });

  test('a renumbered transaction (same sequence number, another server id)', async () => {
    const restored = await binlog(
      seqs(11, 20).map((s) => (s === 16 ? { gtid: [0, 7, 16] as Gtid, time: T0 } : tx(s))),
    );
    const p = await compareWithArchive({ ...window(), archiveFiles: await archiveFiles() }, [restored]);
    assert.equal(p.holds, false);
    assert.deepEqual(p.problems, ['0-1-16 was applied as 0-7-16 (renumbered: another server id)']);
  });

  test('CREATE … SELECT split by a client replay: the DDL under its GTID, its rows under the next', async () => {
    const archive = await archiveFiles({ 13: { ctas: true } });
    // What the pipe did: 0-1-13 holds only the CREATE, 0-1-14 holds its rows, the real 0-1-14 is refused.
    const ctasDdlOnly: Ev[] = [
      mariadbGtid(0, 1, 13, 0x21, T0),
      query('CREATE TABLE `shop`.`copy` (`id` int(11) NOT NULL)'),
    ];
    const restoredBytes = buildBinlog(
      [
        fde('10.11.19-MariaDB-log', 1),
        mariadbGtidList([[0, 1, 10]]),
        ...buildEvents([tx(11), tx(12)]),
        ...ctasDdlOnly,
        ...buildEvents([{ gtid: [0, 1, 14], time: T0 }]),
      ],
      true,
    ).bytes;
    const p = await compareWithArchive({ ...window(), archiveFiles: archive }, [await write(restoredBytes)]);
    assert.equal(p.holds, false);
    assert.match(
      p.problems[0]!,
      /^0-1-13 differs from the archive: archive has 1 statement\(s\) and 1 row event\(s\), restored has 1 and 0$/,
    );
  });

  test('a transaction applied twice, or one the window does not hold, is extra', async () => {
    const restored = await binlog([...seqs(11, 20).map((s) => tx(s)), tx(21)]);
    const p = await compareWithArchive({ ...window(), archiveFiles: await archiveFiles() }, [restored]);
    assert.equal(p.holds, false);
    assert.match(p.problems[0]!, /^0-1-21 was applied but is not in the archive window/);
  });

  test('a row transaction applied with fewer row events (a statement of it lost)', async () => {
    const archive = await archiveFiles({ 17: { rowEvents: 3 } });
    const restored = await binlog(seqs(11, 20).map((s) => tx(s, s === 17 ? { rowEvents: 2 } : {})));
    const p = await compareWithArchive({ ...window(), archiveFiles: archive }, [restored]);
    assert.equal(p.holds, false);
    assert.deepEqual(p.problems, [
      '0-1-17 differs from the archive: archive has 3 row events, restored has 2 row events and 0 statement(s)',
    ]);
  });

  test('nothing restored at all', async () => {
    const restored = await binlog([]);
    const p = await compareWithArchive({ ...window(), archiveFiles: await archiveFiles() }, [restored]);
    assert.equal(p.holds, false);
    assert.equal(p.applied, 0);
    assert.ok(p.problems.length >= 10);
  });
});

describe('what the replay accounts for', () => {
  test('under force, a transaction whose error the client reported is listed as skipped, not a failure', async () => {
    const restored = await binlog(
      seqs(11, 20)
        .filter((s) => s !== 18)
        .map((s) => tx(s)),
    );
    const p = await compareWithArchive(
      {
        ...window(),
        archiveFiles: await archiveFiles(),
        forced: [{ gtid: '0-1-18', error: "ERROR 1032 (HY000): Can't find record in 'customers'" }],
      },
      [restored],
    );
    assert.equal(p.holds, true, p.problems.join('; '));
    assert.deepEqual(p.skippedByForce, [
      { gtid: '0-1-18', error: "ERROR 1032 (HY000): Can't find record in 'customers'" },
    ]);
  });

  test('under force, a renumbering is still a failure', async () => {
    const restored = await binlog(
      seqs(11, 20).map((s) => (s === 12 ? { gtid: [0, 9, 12] as Gtid, time: T0 } : tx(s))),
    );
    const p = await compareWithArchive(
      { ...window(), archiveFiles: await archiveFiles(), forced: [{ gtid: '0-1-15', error: 'ERROR 1062' }] },
      [restored],
    );
    assert.equal(p.holds, false);
    assert.match(p.problems.join('; '), /0-1-12 was applied as 0-9-12/);
  });

  test('a statement-format change that matched no row is not logged by the restored server: listed, not a failure', async () => {
    const archive = await archiveFiles({ 14: { statement: 'DELETE FROM shop.t WHERE id > 100000 LIMIT 1' } });
    const restored = await binlog(
      seqs(11, 20)
        .filter((s) => s !== 14)
        .map((s) => tx(s)),
    );
    const p = await compareWithArchive({ ...window(), archiveFiles: archive }, [restored]);
    assert.equal(p.holds, true, p.problems.join('; '));
    assert.deepEqual(p.notLogged, { count: 1, gtids: ['0-1-14'] });
    assert.match(describeProof(p)[1]!, /1 statement-format transaction\(s\) applied without a trace/);
  });

  test('a row change missing is never taken for such a no-op', async () => {
    const restored = await binlog(
      seqs(11, 20)
        .filter((s) => s !== 14)
        .map((s) => tx(s)),
    );
    const p = await compareWithArchive({ ...window(), archiveFiles: await archiveFiles() }, [restored]);
    assert.equal(p.holds, false);
    assert.deepEqual(p.notLogged, { count: 0, gtids: [] });
  });
});

/** Events of transactions as the memory archive lays them out (without the file header). */
const buildEvents = (txs: TxSpec[]): Ev[] => txs.flatMap(txEvents);

describe('MySQL GTIDs', () => {
  const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
  const B = 'b9b4712a-df64-11e3-b391-60672090eb04';
  /** A MySQL binlog of row transactions with the given GTIDs, in that order. */
  async function mysqlBinlog(gtids: [string, number][]): Promise<string> {
    const evs: Ev[] = [fde('8.0.36', 1), mysqlPreviousGtids([])];
    for (const [uuid, n] of gtids)
      evs.push(mysqlGtid(uuid, n, T0 + n), query('BEGIN'), tableMap(), writeRows(), xid(n));
    return write(buildBinlog(evs, true).bytes);
  }

  test('each server uuid is its own sequence: two uuids interleaved differently still prove', async () => {
    const archive = await mysqlBinlog([
      [A, 1],
      [B, 1],
      [A, 2],
      [B, 2],
      [A, 3],
    ]);
    const restored = await mysqlBinlog([
      [B, 1],
      [B, 2],
      [A, 1],
      [A, 2],
      [A, 3],
    ]);
    const p = await compareWithArchive(
      { startGtid: '', stopGtid: `${A}:3`, rowPacking: 'default', archiveFiles: [archive] },
      [restored],
    );
    assert.equal(p.holds, true, p.problems.join('; '));
    assert.equal(p.applied, 5);
  });

  test('a missing transaction of one uuid is named', async () => {
    const archive = await mysqlBinlog([
      [A, 1],
      [B, 1],
      [A, 2],
    ]);
    const restored = await mysqlBinlog([
      [A, 1],
      [A, 2],
    ]);
    const p = await compareWithArchive(
      { startGtid: '', stopGtid: `${A}:2`, rowPacking: 'default', archiveFiles: [archive] },
      [restored],
    );
    assert.equal(p.holds, false);
    assert.match(p.problems[0]!, new RegExp(`^${B}:1 .*never applied`));
  });
});
