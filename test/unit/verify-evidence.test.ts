// The verify step's evidence carries the figures: each table's rows and checksum, beside the expected
// ones when the input gives them, bounded for a schema of many tables.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fingerprintEvidence } from '../../activities/mysql/verify';

test('names each table with its rows and checksum after the totals', () => {
  const lines = fingerprintEvidence({
    'shop.orders': { rows: 600, checksum: 3141592653 },
    'shop.items': { rows: 400, checksum: null },
  });
  assert.deepEqual(lines, [
    '2 table(s), 1000 row(s) fingerprinted',
    'shop.items: 400 rows, checksum null',
    'shop.orders: 600 rows, checksum 3141592653',
  ]);
});

test('with expected figures, shows observed and expected side by side', () => {
  const lines = fingerprintEvidence(
    { 'shop.orders': { rows: 600, checksum: 3141592653 } },
    { 'shop.orders': { rows: 600, checksum: 3141592653 } },
  );
  assert.equal(lines[1], 'shop.orders: 600 rows (expected 600), checksum 3141592653 (expected 3141592653)');
});

test('many tables: the first ten by name, then how many more', () => {
  const tables = Object.fromEntries(
    Array.from({ length: 25 }, (_, i) => [`s.t${String(i).padStart(2, '0')}`, { rows: i, checksum: i * 7 }]),
  );
  const lines = fingerprintEvidence(tables);
  assert.equal(lines.length, 1 + 10 + 1);
  assert.equal(lines[0], '25 table(s), 300 row(s) fingerprinted');
  assert.equal(lines[1], 's.t00: 0 rows, checksum 0');
  assert.equal(lines[10], 's.t09: 9 rows, checksum 63');
  assert.equal(lines[11], '… 15 more table(s)');
});
