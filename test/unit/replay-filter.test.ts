// The proof of a replay restricted to chosen tables (table-level restore aside): the window's
// transactions that touch them must be in the restored binlog, once, in order; those the filter left
// out must not be, and are named. Binlog bytes built per case (the synthetic row events are on shop.t).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareWithArchive, describeProof } from '../../activities/replay/replay-proof';
import { classify, replicaFilterValue } from '../../activities/replay/replay-filter';
import type { BinlogTransaction } from '../../activities/archive/binlog-scan-types';
import { buildFile, T0, type TxSpec } from '../support/memory-archive';

let dir = '';
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'replay-filter-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tx = (seq: number, over: Partial<TxSpec> = {}): TxSpec => ({
  gtid: [0, 1, seq],
  time: T0 + seq,
  ...over,
});
async function binlog(txs: TxSpec[]): Promise<string> {
  const p = join(dir, `f-${++n}.000001`);
  await writeFile(
    p,
    buildFile({ name: 'mysql-bin.000001', gtidsBefore: [[0, 1, 10]], txs, closed: false }).bytes,
  );
  return p;
}
/** 11, 13, 15: rows of shop.t; 12, 14: DDL on another table; 16: DDL on t. */
const WINDOW: Record<number, Partial<TxSpec>> = {
  12: { ddl: 'CREATE TABLE shop.other (id INT)' },
  14: { ddl: 'DROP TABLE shop.other' },
  16: { ddl: 'ALTER TABLE `t` ADD COLUMN c INT' },
};
const windowTxs = () => [11, 12, 13, 14, 15, 16].map((s) => tx(s, WINDOW[s]));
const req = async () => ({
  startGtid: '0-1-10',
  stopGtid: '0-1-16',
  rowPacking: 'default' as const,
  archiveFiles: [await binlog(windowTxs())],
  only: ['shop.t'],
});

describe('the filtered proof', () => {
  test('holds when exactly the transactions touching the chosen tables were applied, and names those left out', async () => {
    const restored = await binlog([11, 13, 15, 16].map((s) => tx(s, WINDOW[s])));
    const p = await compareWithArchive(await req(), [restored]);
    assert.equal(p.holds, true, p.problems.join('; '));
    assert.equal(p.expected, 4);
    assert.equal(p.applied, 4);
    assert.deepEqual(p.filter, { tables: ['shop.t'], leftOut: 2, gtids: ['0-1-12', '0-1-14'], partly: 0 });
    const lines = describeProof(p);
    assert.match(
      lines[0]!,
      /^proof: 4 of 4 transactions of the window touching shop\.t applied once, in order \(0-1-11 … 0-1-16\)/,
    );
    assert.match(lines[1]!, /2 transaction\(s\) of other tables left out by the filter \(0-1-12, 0-1-14\)/);
  });

  test('fails naming a transaction of a chosen table that was never applied', async () => {
    const restored = await binlog([11, 15, 16].map((s) => tx(s, WINDOW[s])));
    const p = await compareWithArchive(await req(), [restored]);
    assert.equal(p.holds, false);
    assert.match(p.problems.join('; '), /0-1-13 .* is in the archive window but was never applied/);
  });

  test('fails when a transaction the filter must leave out was applied', async () => {
    const restored = await binlog([11, 12, 13, 15, 16].map((s) => tx(s, WINDOW[s])));
    const p = await compareWithArchive(await req(), [restored]);
    assert.equal(p.holds, false);
    assert.match(p.problems.join('; '), /0-1-12 touches none of the chosen tables .* but was applied/);
  });

  test('fails when the DDL on a chosen table was lost (a statement naming it is expected)', async () => {
    const restored = await binlog([11, 13, 15].map((s) => tx(s)));
    const p = await compareWithArchive(await req(), [restored]);
    assert.equal(p.holds, false);
    assert.match(p.problems.join('; '), /0-1-16 .*ALTER TABLE .* never applied/);
  });

  test('an unfiltered proof of the same window still expects every transaction', async () => {
    const { only: _o, ...whole } = await req();
    const restored = await binlog([11, 13, 15, 16].map((s) => tx(s, WINDOW[s])));
    const p = await compareWithArchive(whole, [restored]);
    assert.equal(p.holds, false);
    assert.equal(p.filter, undefined);
  });
});

describe('classify and the replica filter', () => {
  const t = (o: Partial<BinlogTransaction>) =>
    ({ tables: [], queries: 0, statement: '', ...o }) as BinlogTransaction;
  test('sorts by the tables of the row events, and by the statement when there are none', () => {
    const only = ['shop.orders'];
    assert.equal(classify(t({ tables: ['shop.orders'] }), only), 'concerns');
    assert.equal(classify(t({ tables: ['`shop`.`Orders`'] }), only), 'concerns');
    assert.equal(classify(t({ tables: ['shop.orders', 'shop.lines'] }), only), 'partly');
    assert.equal(classify(t({ tables: ['shop.lines'] }), only), 'filtered');
    assert.equal(classify(t({ queries: 1, statement: 'DROP TABLE `orders`' }), only), 'concerns');
    assert.equal(classify(t({ queries: 1, statement: 'DROP TABLE orders_old' }), only), 'filtered');
    assert.equal(classify(t({ tables: Array.from({ length: 8 }, (_, i) => `shop.x${i}`) }), only), 'maybe');
  });
  test('escapes the wildcards of replicate_wild_do_table', () => {
    assert.equal(replicaFilterValue(['shop.order_lines', 'a.b%c']), 'shop.order\\_lines,a.b\\%c');
  });
});
