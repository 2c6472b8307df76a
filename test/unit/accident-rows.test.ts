// Counting the rows of a rows event from the table map's column widths, never reading a value:
// exact when the row images end exactly at the end of the body, an estimate from the first bytes of
// an event larger than the reader keeps, and unknown rather than a wrong number.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countRows, readTableMap } from '../../activities/archive/accident-rows';

const WRITE_ROWS_V1 = 23;
const UPDATE_ROWS_V1 = 24;
const WRITE_ROWS_COMPRESSED_V1 = 166;

/** Table map body: table id 7, shop.orders, columns INT (3), VARCHAR(300) (15, meta 300 LE), BLOB (252, meta 2). */
function tableMapBody(): Buffer {
  const id = Buffer.alloc(8);
  id.writeUIntLE(7, 0, 6);
  const meta = Buffer.from([0x2c, 0x01, 2]); // VARCHAR max 300 (2-byte prefix), BLOB with 2 length bytes
  return Buffer.concat([
    id,
    Buffer.from([4]),
    Buffer.from('shop\0'),
    Buffer.from([6]),
    Buffer.from('orders\0'),
    Buffer.from([3, 3, 15, 252, meta.length]),
    meta,
    Buffer.from([0b110]), // nullable bitmap (not used for counting)
  ]);
}

/** One row image: NULL bitmap, INT, VARCHAR (2-byte length), BLOB (2-byte length) or NULL. */
function row(n: number, text: string, blob: string | null): Buffer {
  const v = Buffer.from(text);
  const parts = [Buffer.from([blob === null ? 0b100 : 0]), Buffer.alloc(4), Buffer.alloc(2), v];
  parts[1]!.writeInt32LE(n);
  parts[2]!.writeUInt16LE(v.length);
  if (blob !== null) {
    const b = Buffer.from(blob);
    const len = Buffer.alloc(2);
    len.writeUInt16LE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

function rowsBody(images: Buffer[], update = false): Buffer {
  const head = Buffer.alloc(8);
  head.writeUIntLE(7, 0, 6);
  head.writeUInt16LE(1, 6); // STMT_END_F
  const bitmaps = update ? [0b111, 0b111] : [0b111];
  return Buffer.concat([head, Buffer.from([3, ...bitmaps]), ...images]);
}

const map = readTableMap(tableMapBody())!;

test('the table map gives the table and each column with its metadata', () => {
  assert.equal(map.tableId, 7);
  assert.deepEqual([map.schema, map.table], ['shop', 'orders']);
  assert.deepEqual(map.columns, [
    { type: 3, meta: 0 },
    { type: 15, meta: 300 },
    { type: 252, meta: 2 },
  ]);
});

test('rows are counted exactly over strings, blobs and NULLs; an update counts before+after as one row', () => {
  const images = [row(1, 'a', 'xyz'), row(2, 'x'.repeat(280), null), row(3, '', '')];
  const body = rowsBody(images);
  assert.deepEqual(countRows(WRITE_ROWS_V1, body, body.length, map), { rows: 3, how: 'exact' });
  const upd = rowsBody([row(1, 'a', null), row(1, 'b', null), row(2, 'c', 'd'), row(2, 'e', 'f')], true);
  assert.deepEqual(countRows(UPDATE_ROWS_V1, upd, upd.length, map), { rows: 2, how: 'exact' });
});

test('a count that does not end at the end of the event is unknown, never a guess', () => {
  const body = Buffer.concat([rowsBody([row(1, 'a', 'b')]), Buffer.from([1, 2])]);
  assert.deepEqual(countRows(WRITE_ROWS_V1, body, body.length, map), { rows: null, how: 'unknown' });
  const other = readTableMap(tableMapBody())!;
  other.columns = other.columns!.slice(0, 2); // the map says 2 columns, the event 3
  const ok = rowsBody([row(1, 'a', 'b')]);
  assert.deepEqual(countRows(WRITE_ROWS_V1, ok, ok.length, other), { rows: null, how: 'unknown' });
  assert.deepEqual(countRows(WRITE_ROWS_COMPRESSED_V1, ok, ok.length, map), { rows: null, how: 'unknown' });
});

test('an event larger than the reader keeps is estimated from its first bytes', () => {
  const images = Array.from({ length: 1000 }, (_, i) => row(i, 'v'.repeat(20), 'w'.repeat(10)));
  const body = rowsBody(images);
  const prefix = body.subarray(0, 4096);
  const r = countRows(WRITE_ROWS_V1, prefix, body.length, map);
  assert.equal(r.how, 'estimate');
  assert.ok(Math.abs(r.rows! - 1000) <= 10, String(r.rows));
});
