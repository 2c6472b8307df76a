// Damage that only the events' CRC32 can see is found, at the right offset, however the bytes arrive;
// and what the scanner learns about each transaction (row events, DDL with rows, session state).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  BinlogDamaged,
  eventBoundaries,
  scanBinlog,
  scanBinlogStream,
  type BinlogTransaction,
} from '../../activities/archive/binlog-scan';
import {
  buildBinlog,
  fde,
  mariadbGtid,
  mariadbGtidList,
  query,
  rowsEvent,
  T,
  tableMap,
  xid,
} from '../support/binlog-writer';

const fixtures = join(import.meta.dirname, 'fixtures');
let dir = '';
let n = 0;
async function fileOf(bytes: Buffer): Promise<string> {
  const p = join(dir, `mysql-bin.${String(++n).padStart(6, '0')}`);
  await writeFile(p, bytes);
  return p;
}
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'binlog-verify-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The start of the event that holds byte `offset`. */
async function eventHolding(path: string, offset: number): Promise<number> {
  const starts = [...(await eventBoundaries(path))].sort((a, b) => a - b);
  return starts.filter((s) => s <= offset).at(-1)!;
}

async function* chunksOf(bytes: Buffer, size: number): AsyncIterable<Buffer> {
  for (let o = 0; o < bytes.length; o += size) yield bytes.subarray(o, o + size);
}

describe('a real MariaDB 10.11 binlog with a damaged event body', () => {
  test('one flipped byte inside a row event is refused, naming the file and the event offset', async () => {
    const bytes = await readFile(join(fixtures, 'mariadb-10.11-crc32.000002'));
    const original = await fileOf(bytes);
    const at = 700; // inside transaction 0-7-3 (568 … 784): its row event
    const damaged = Buffer.from(bytes);
    damaged[at] = damaged[at]! ^ 0x20;
    const path = await fileOf(damaged);
    const start = await eventHolding(original, at);
    await assert.rejects(scanBinlog(path), (err: unknown) => {
      assert.ok(err instanceof BinlogDamaged, String(err));
      assert.equal(err.offset, start);
      assert.equal(err.file, path);
      assert.match(err.message, /CRC32 mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)/);
      return true;
    });
  });

  test('the same damage in a file written without checksums cannot be seen: the summary says so', async () => {
    const bytes = Buffer.from(await readFile(join(fixtures, 'mariadb-10.11-no-checksum.000002')));
    bytes[700] = bytes[700]! ^ 0x20;
    const summary = await scanBinlog(await fileOf(bytes));
    assert.equal(summary.checksums, 'none');
  });

  test('the format description of a file still being written (in-use flag set) verifies', async () => {
    // Servers compute the FDE's checksum with LOG_EVENT_BINLOG_IN_USE_F cleared and set it in place.
    const bytes = Buffer.from(await readFile(join(fixtures, 'mariadb-10.11-crc32.000002')));
    bytes.writeUInt16LE(bytes.readUInt16LE(4 + 17) | 0x1, 4 + 17);
    const summary = await scanBinlog(await fileOf(bytes));
    assert.equal(summary.checksums, 'crc32');
    assert.equal(summary.transactions, 6);
  });

  test('verification can be turned off (reading a file known to be damaged, to say where)', async () => {
    const bytes = Buffer.from(await readFile(join(fixtures, 'mariadb-10.11-crc32.000002')));
    bytes[700] = bytes[700]! ^ 0x20;
    const summary = await scanBinlog(await fileOf(bytes), undefined, { verify: false });
    assert.equal(summary.transactions, 6);
  });
});

describe('events of any size, however the bytes arrive', () => {
  const bigPayload = randomBytes(3 * 1024 * 1024 + 17);
  const events = [
    fde('10.11.19-MariaDB-log', 1),
    mariadbGtidList([[0, 1, 10]]),
    mariadbGtid(0, 1, 11, 0x0c, 1_700_000_400),
    tableMap(),
    rowsEvent(30, { payload: bigPayload }),
    xid(9),
    mariadbGtid(0, 1, 12, 0x21, 1_700_000_401),
    query('DROP TABLE shop.t'),
  ];
  const b = buildBinlog(events, true);

  for (const size of [1, 4093, 1 << 20, b.bytes.length]) {
    test(`fed ${size}-byte chunks: a 3 MiB row event verifies and both transactions are found`, async () => {
      if (size === 1) {
        // One byte at a time through the big event would take long: feed the small events bytewise.
        const small = buildBinlog([events[0]!, events[1]!, events[6]!, events[7]!], true);
        const txs: BinlogTransaction[] = [];
        await scanBinlogStream(chunksOf(small.bytes, 1), small.bytes.length, (t) => void txs.push(t));
        assert.deepEqual(
          txs.map((t) => t.gtid),
          ['0-1-12'],
        );
        return;
      }
      const txs: BinlogTransaction[] = [];
      const s = await scanBinlogStream(chunksOf(b.bytes, size), b.bytes.length, (t) => void txs.push(t), {
        sha256: true,
      });
      assert.deepEqual(
        txs.map((t) => [t.gtid, t.startPos, t.endPos]),
        [
          ['0-1-11', b.starts[2], b.ends[5]],
          ['0-1-12', b.starts[6], b.ends[7]],
        ],
      );
      assert.equal(txs[0]!.largestEvent, b.ends[4]! - b.starts[4]!);
      assert.equal(s.validEnd, b.bytes.length);
      assert.match(s.sha256!, /^[0-9a-f]{64}$/);
    });
  }

  test('a flipped byte in the middle of a 3 MiB event is found however it is chunked', async () => {
    const damaged = Buffer.from(b.bytes);
    const at = b.starts[4]! + 1_500_000;
    damaged[at] = damaged[at]! ^ 1;
    for (const size of [4093, 1 << 20]) {
      await assert.rejects(
        scanBinlogStream(chunksOf(damaged, size), damaged.length, undefined, { name: 'mysql-bin.000009' }),
        (err: unknown) =>
          err instanceof BinlogDamaged && err.offset === b.starts[4] && err.file === 'mysql-bin.000009',
      );
    }
  });

  test('a damaged checksum trailer is damage too', async () => {
    const damaged = Buffer.from(b.bytes);
    damaged[b.ends[7]! - 1] = damaged[b.ends[7]! - 1]! ^ 0xff;
    await assert.rejects(scanBinlog(await fileOf(damaged)), (err: unknown) => {
      return err instanceof BinlogDamaged && err.offset === b.starts[7];
    });
  });

  test('without checksums, an event header whose next position disagrees with its size is damage', async () => {
    const plain = buildBinlog([fde('10.11.19-MariaDB-log', 0), ...events.slice(1)], false);
    const damaged = Buffer.from(plain.bytes);
    damaged.writeUInt32LE(damaged.readUInt32LE(plain.starts[6]! + 13) + 3, plain.starts[6]! + 13);
    await assert.rejects(
      scanBinlog(await fileOf(damaged)),
      (err: unknown) => err instanceof BinlogDamaged && /next event is at/.test(err.message),
    );
  });

  test('a file cut inside the big event is not damage: it ends at the last complete event', async () => {
    const cut = b.starts[4]! + 2_000_000;
    const s = await scanBinlog(await fileOf(b.bytes.subarray(0, cut)));
    assert.equal(s.validEnd, b.starts[4]);
    assert.equal(s.size, cut);
    assert.equal(s.transactions, 0);
  });
});

describe('what the scanner learns about a transaction', () => {
  async function transactionsOf(events: Parameters<typeof buildBinlog>[0]): Promise<BinlogTransaction[]> {
    const txs: BinlogTransaction[] = [];
    const b = buildBinlog([fde('10.11.19-MariaDB-log', 1), mariadbGtidList([]), ...events], true);
    await scanBinlog(await fileOf(b.bytes), (t) => void txs.push(t));
    return txs;
  }

  test('CREATE TABLE … SELECT in ROW format: a DDL group, not standalone, with its rows', async () => {
    const [t] = await transactionsOf([
      mariadbGtid(0, 1, 4, 0x28, 1_700_000_000), // ddl | allow-parallel, not standalone
      query('CREATE TABLE `t`.`ctas` (`id` int(11) NOT NULL)'),
      { type: T.MARIADB_ANNOTATE_ROWS, body: Buffer.from('CREATE TABLE t.ctas SELECT * FROM t.x') },
      tableMap(),
      rowsEvent(30),
      xid(5),
    ]);
    assert.equal(t!.ddl, true);
    assert.equal(t!.standalone, false);
    assert.equal(t!.queries, 1);
    assert.equal(t!.rowEvents, 1);
    assert.equal(t!.rowStatements, 1);
    assert.equal(t!.statement, 'CREATE TABLE `t`.`ctas` (`id` int(11) NOT NULL)');
    assert.deepEqual(t!.tables, ['`shop`.`t`']);
  });

  test('a statement on a temporary table marks the group as depending on session state', async () => {
    const [t, u] = await transactionsOf([
      mariadbGtid(0, 1, 12, 0x08, 1_700_000_000),
      { ...query('INSERT INTO t.tmp VALUES (7)'), flags: 0x4 },
      { ...query('COMMIT'), flags: 0x4 },
      mariadbGtid(0, 1, 13, 0x08, 1_700_000_000),
      query('INSERT INTO t.x VALUES (8)'),
      query('COMMIT'),
    ]);
    assert.equal(t!.sessionSpecific, true);
    assert.equal(t!.queries, 1);
    assert.equal(u!.sessionSpecific, false);
  });

  test('a statement spread over several row events counts each event and one statement', async () => {
    const [t] = await transactionsOf([
      mariadbGtid(0, 1, 5, 0x0c, 1_700_000_000),
      tableMap(),
      rowsEvent(30, { statementEnd: false }),
      rowsEvent(30, { statementEnd: false }),
      rowsEvent(30),
      tableMap(),
      rowsEvent(32),
      xid(6),
    ]);
    assert.equal(t!.rowEvents, 4);
    assert.equal(t!.rowStatements, 2);
    assert.equal(t!.partialRowImage, false);
    assert.equal(t!.widePacking, false);
  });

  test('a row image without every column (binlog_row_image=MINIMAL) is noticed', async () => {
    const [t] = await transactionsOf([
      mariadbGtid(0, 1, 5, 0x0c, 1_700_000_000),
      tableMap(),
      rowsEvent(31, { width: 3, present: 0b011 }),
      xid(6),
    ]);
    assert.equal(t!.partialRowImage, true);
  });

  test('rows packed in events larger than 8 KiB before the statement ends reveal another packing size', async () => {
    const [t] = await transactionsOf([
      mariadbGtid(0, 1, 5, 0x0c, 1_700_000_000),
      tableMap(),
      rowsEvent(30, { statementEnd: false, payload: Buffer.alloc(16_000) }),
      rowsEvent(30, { payload: Buffer.alloc(100) }),
      xid(6),
    ]);
    assert.equal(t!.widePacking, true);
  });
});
