// The finder's rule for the likely accident: DROP/TRUNCATE and every-row statements at once; a row
// DELETE/UPDATE only when it is large against the table's other transactions of the window.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flagOf, RowSizes, type FoundTransaction } from '../../activities/archive/accident-rule';

const tx = (changes: FoundTransaction['changes']): FoundTransaction => ({
  gtid: '0-1-9',
  time: 0,
  file: 'mysql-bin.000001',
  position: 4,
  endPos: 100,
  serverId: 1,
  changes,
  statement: '',
});
const sizesOf = (...n: number[]) => {
  const s = new RowSizes();
  for (const x of n) s.add(x);
  return s;
};

test('a row DELETE is flagged from 10× the median of the other transactions and 100 rows', () => {
  const big = tx([{ kind: 'delete', rows: 500, how: 'exact' }]);
  assert.match(flagOf(big, sizesOf(50, 50, 40, 500)) ?? '', /DELETE of 500 rows, 10× the median .*\(50;/);
  assert.equal(flagOf(big, sizesOf(60, 60, 500)), null, 'only 8× the median');
  const small = tx([{ kind: 'delete', rows: 90, how: 'exact' }]);
  assert.equal(flagOf(small, sizesOf(1, 1, 1, 90)), null, 'under 100 rows');
});

test('the median leaves out the transaction judged; alone in the window it needs 1000 rows', () => {
  // Two transactions: 3 and 5000. With itself the median would be 2501.5 and nothing flagged.
  assert.ok(flagOf(tx([{ kind: 'delete', rows: 5000, how: 'exact' }]), sizesOf(3, 5000)));
  assert.equal(flagOf(tx([{ kind: 'update', rows: 999, how: 'exact' }]), sizesOf(999)), null);
  assert.match(
    flagOf(tx([{ kind: 'update', rows: 1000, how: 'exact' }]), sizesOf(1000)) ?? '',
    /only row change/,
  );
  assert.equal(
    flagOf(tx([{ kind: 'insert', rows: 9999, how: 'exact' }]), sizesOf(1, 9999)),
    null,
    'inserts never',
  );
  assert.equal(flagOf(tx([{ kind: 'delete', rows: null, how: 'unknown' }]), sizesOf(1, 1)), null);
});

test('what destroys by itself is flagged whatever the sizes', () => {
  assert.equal(
    flagOf(
      tx([{ kind: 'drop', rows: null, how: 'statement', destroys: 'DROP TABLE of shop.orders' }]),
      sizesOf(),
    ),
    'DROP TABLE of shop.orders',
  );
  const median = sizesOf(1, 2, 3, 4);
  assert.equal(median.medianWithout(4), 2);
  assert.equal(median.medianWithout(1), 3);
  assert.equal(median.medianWithout(7), 2.5);
});
