// Rows a rows event carries, for the accident finder, without decoding a value: the table map gives
// each column's type and metadata, from which the width of every stored field follows (fixed widths,
// or the length prefix of strings and blobs); the counter steps from row image to row image over
// those widths and checks it ends exactly at the end of the event's body. A value is never read.
// Binlog v4 layouts: MariaDB log_event.cc / MySQL libbinlogevents rows_event.cpp (table_def).
import { isCompressedRowsEvent } from './binlog-events';

export interface TableMap {
  tableId: number;
  schema: string;
  table: string;
  /** Per column: its type and metadata (null when the map could not be read). */
  columns: { type: number; meta: number }[] | null;
}

/** A MySQL packed (length-encoded) integer at `o`: its value and width. */
function packed(b: Buffer, o: number): [number, number] {
  const first = b[o];
  if (first === undefined) throw new RangeError('packed integer past the end');
  if (first < 251) return [first, 1];
  if (first === 252) return [b.readUInt16LE(o + 1), 3];
  if (first === 253) return [b.readUIntLE(o + 1, 3), 4];
  if (first === 254) return [Number(b.readBigUInt64LE(o + 1)), 9];
  throw new RangeError(`bad packed integer ${first}`);
}

const T = {
  DECIMAL: 0, TINY: 1, SHORT: 2, LONG: 3, FLOAT: 4, DOUBLE: 5, NULL: 6, TIMESTAMP: 7, LONGLONG: 8,
  INT24: 9, DATE: 10, TIME: 11, DATETIME: 12, YEAR: 13, NEWDATE: 14, VARCHAR: 15, BIT: 16,
  TIMESTAMP2: 17, DATETIME2: 18, TIME2: 19, BLOB_COMPRESSED: 140, VARCHAR_COMPRESSED: 141, JSON: 245,
  NEWDECIMAL: 246, ENUM: 247, SET: 248, TINY_BLOB: 249, MEDIUM_BLOB: 250, LONG_BLOB: 251, BLOB: 252,
  VAR_STRING: 253, STRING: 254, GEOMETRY: 255,
} as const; // prettier-ignore

/** How many metadata bytes a column type has in the table map, and how they read. */
function readMeta(type: number, b: Buffer, o: number): [number, number] {
  switch (type) {
    case T.FLOAT: case T.DOUBLE: case T.BLOB: case T.TINY_BLOB: case T.MEDIUM_BLOB: case T.LONG_BLOB:
    case T.BLOB_COMPRESSED: case T.GEOMETRY: case T.JSON: case T.TIMESTAMP2: case T.DATETIME2: case T.TIME2:
      return [b[o]!, 1];
    case T.VARCHAR: case T.VAR_STRING: case T.VARCHAR_COMPRESSED: case T.BIT:
      return [b.readUInt16LE(o), 2];
    case T.NEWDECIMAL: case T.STRING: case T.ENUM: case T.SET:
      return [(b[o]! << 8) | b[o + 1]!, 2]; // big-endian: (precision, scale) or (real type, length)
    default:
      return [0, 0];
  }
} // prettier-ignore

/** Reads a table map event body: the table and, when they can be read, its columns. */
export function readTableMap(b: Buffer): TableMap | null {
  if (b.length < 10) return null;
  const tableId = b.readUIntLE(0, 6);
  const dbLen = b[8]!;
  const schema = b.subarray(9, 9 + dbLen).toString('utf8');
  let o = 9 + dbLen + 1;
  const tLen = b[o];
  if (tLen === undefined) return null;
  const table = b.subarray(o + 1, o + 1 + tLen).toString('utf8');
  o += 1 + tLen + 1;
  try {
    const [count, w] = packed(b, o);
    o += w;
    const types = [...b.subarray(o, o + count)];
    o += count;
    const [, mw] = packed(b, o);
    o += mw;
    const columns = types.map((type) => {
      const [meta, n] = readMeta(type, b, o);
      o += n;
      return { type, meta };
    });
    return { tableId, schema, table, columns: o <= b.length ? columns : null };
  } catch {
    return { tableId, schema, table, columns: null };
  }
}

const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
const decimalBytes = (precision: number, scale: number) => {
  const intg = precision - scale;
  return Math.floor(intg / 9) * 4 + DIG2BYTES[intg % 9]! + Math.floor(scale / 9) * 4 + DIG2BYTES[scale % 9]!;
};

/** A field of `n` length bytes, then that many bytes. Plain functions, no closures: called per field. */
function prefixed(b: Buffer, o: number, n: number): number {
  return n + (n === 1 ? b[o]! : n === 2 ? b.readUInt16LE(o) : b.readUIntLE(o, n));
}

/** Width of one stored (non-NULL) field at `o`. */
function fieldWidth(c: { type: number; meta: number }, b: Buffer, o: number): number {
  const { type, meta } = c;
  switch (type) {
    case T.TINY: case T.YEAR: return 1;
    case T.SHORT: return 2;
    case T.INT24: case T.DATE: case T.NEWDATE: case T.TIME: return 3;
    case T.LONG: case T.TIMESTAMP: return 4;
    case T.LONGLONG: case T.DATETIME: return 8;
    case T.FLOAT: return meta || 4;
    case T.DOUBLE: return meta || 8;
    case T.NULL: return 0;
    case T.TIMESTAMP2: return 4 + Math.ceil(meta / 2);
    case T.DATETIME2: return 5 + Math.ceil(meta / 2);
    case T.TIME2: return 3 + Math.ceil(meta / 2);
    case T.NEWDECIMAL: return decimalBytes(meta >> 8, meta & 0xff);
    case T.BIT: return (meta >> 8) + ((meta & 0xff) > 0 ? 1 : 0);
    case T.VARCHAR: case T.VAR_STRING: case T.VARCHAR_COMPRESSED: return prefixed(b, o, meta < 256 ? 1 : 2);
    case T.BLOB: case T.TINY_BLOB: case T.MEDIUM_BLOB: case T.LONG_BLOB: case T.BLOB_COMPRESSED:
    case T.GEOMETRY: case T.JSON:
      return prefixed(b, o, meta);
    case T.STRING: case T.ENUM: case T.SET: {
      const byte0 = meta >> 8;
      const byte1 = meta & 0xff;
      let real = byte0;
      let length = byte1;
      if (meta >= 256 && (byte0 & 0x30) !== 0x30) {
        length = byte1 | (((byte0 & 0x30) ^ 0x30) << 4);
        real = byte0 | 0x30;
      }
      if (real === T.ENUM || real === T.SET) return length;
      return prefixed(b, o, length < 256 ? 1 : 2);
    }
    default:
      throw new RangeError(`column type ${type} has no known width`);
  }
} // prettier-ignore

const bitSet = (b: Buffer, o: number, i: number) => (b[o + (i >> 3)]! & (1 << (i & 7))) !== 0;

/** Steps over one row image (its NULL bitmap, then each present non-NULL field); returns its end. */
function skipImage(b: Buffer, o: number, present: number[], columns: TableMap['columns'] & {}): number {
  const nulls = o;
  o += Math.ceil(present.length / 8);
  for (let k = 0; k < present.length; k++)
    if (!bitSet(b, nulls, k)) o += fieldWidth(columns[present[k]!]!, b, o);
  return o;
}

export interface RowCount {
  rows: number | null;
  /** How the number was had: every row image walked, extrapolated from the first bytes, or not at all. */
  how: 'exact' | 'estimate' | 'unknown';
}

const isUpdate = (type: number) => type === 24 || type === 31 || type === 39 || type === 167 || type === 170;

/**
 * The rows of one rows event: `body` as the reader holds it (the whole body, or its first bytes when
 * the event is larger than the reader keeps), `bodyLength` the whole body's length.
 */
export function countRows(
  type: number,
  body: Buffer,
  bodyLength: number,
  map: TableMap | undefined,
): RowCount {
  if (isCompressedRowsEvent(type) || !map?.columns) return { rows: null, how: 'unknown' };
  try {
    let o = 8;
    if ((type >= 30 && type <= 32) || type === 39) o += body.readUInt16LE(8);
    const [width, w] = packed(body, o);
    if (width !== map.columns.length) return { rows: null, how: 'unknown' };
    o += w;
    const bytes = Math.ceil(width / 8);
    const columnsIn = (at: number) => [...Array(width).keys()].filter((i) => bitSet(body, at, i));
    const before = columnsIn(o);
    o += bytes;
    const after = isUpdate(type) ? columnsIn(o) : null;
    if (after) o += bytes;
    const whole = body.length === bodyLength;
    let rows = 0;
    let end = o;
    while (o < body.length) {
      let next = skipImage(body, o, before, map.columns);
      if (after) next = skipImage(body, next, after, map.columns);
      if (!(next <= body.length)) {
        if (whole) return { rows: null, how: 'unknown' };
        break; // the kept prefix ends inside this row
      }
      rows++;
      o = end = next;
    }
    if (whole) return o === bodyLength ? { rows, how: 'exact' } : { rows: null, how: 'unknown' };
    return rows
      ? { rows: Math.round((rows * bodyLength) / end), how: 'estimate' }
      : { rows: null, how: 'unknown' };
  } catch {
    return { rows: null, how: 'unknown' };
  }
}
