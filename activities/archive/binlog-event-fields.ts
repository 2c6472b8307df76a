// Decoding the fields of binlog event bodies the scan needs: rows-event shape (statement end, full
// row images), query text, table-map names, MySQL GTID sets; all pure, over one event's bytes.
import { isCompressedRowsEvent, type BinlogEvent } from './binlog-events';

const ROWS_STMT_END_F = 0x0001;
const STATEMENT_CHARS = 160;

export function uuidFromBytes(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A MySQL packed (length-encoded) integer at `o`: its value and its width. */
function packedInt(b: Buffer, o: number): [number, number] | null {
  const first = b[o];
  if (first === undefined) return null;
  if (first < 251) return [first, 1];
  if (first === 252 && o + 3 <= b.length) return [b.readUInt16LE(o + 1), 3];
  if (first === 253 && o + 4 <= b.length) return [b.readUIntLE(o + 1, 3), 4];
  if (first === 254 && o + 9 <= b.length) return [Number(b.readBigUInt64LE(o + 1)), 9];
  return null;
}

/** Whether every one of `width` columns is present in the bitmap at `o`. */
function allColumns(b: Buffer, o: number, width: number): boolean {
  for (let i = 0; i < width; i++) {
    const byte = b[o + (i >> 3)];
    if (byte === undefined || !(byte & (1 << (i & 7)))) return false;
  }
  return true;
}

/** Rows event post-header: table id (6), flags (2), and for v2 events (30-32, 39) extra data. */
export function rowsEventShape(e: BinlogEvent): { statementEnd: boolean; fullImage: boolean | null } {
  const b = e.body;
  if (b.length < 8) return { statementEnd: false, fullImage: null };
  const flags = b.readUInt16LE(6);
  const statementEnd = (flags & ROWS_STMT_END_F) !== 0;
  if (isCompressedRowsEvent(e.type)) return { statementEnd, fullImage: null };
  let o = 8;
  if (e.type >= 30 && e.type <= 32) o += b.length >= 10 ? b.readUInt16LE(8) : 2;
  else if (e.type === 39) o += b.length >= 10 ? b.readUInt16LE(8) : 2;
  const w = packedInt(b, o);
  if (!w) return { statementEnd, fullImage: null };
  const [width, len] = w;
  o += len;
  const before = allColumns(b, o, width);
  const isUpdate = e.type === 24 || e.type === 31 || e.type === 39 || e.type === 167 || e.type === 170;
  const after = !isUpdate || allColumns(b, o + Math.ceil(width / 8), width);
  return { statementEnd, fullImage: before && after };
}

export function queryText(b: Buffer): string | null {
  if (b.length < 13) return null;
  const dbLen = b.readUInt8(8);
  const statusLen = b.readUInt16LE(11);
  const start = 13 + statusLen + dbLen + 1;
  if (start > b.length) return null;
  return b.subarray(start).toString('utf8').trim();
}

export function tableName(b: Buffer): string | null {
  // table_id (6), flags (2), db length, db, NUL, table length, table, NUL
  if (b.length < 9) return null;
  const dbLen = b.readUInt8(8);
  const tLenAt = 9 + dbLen + 1;
  if (tLenAt >= b.length) return null;
  const tLen = b.readUInt8(tLenAt);
  const db = b.subarray(9, 9 + dbLen).toString('utf8');
  const table = b.subarray(tLenAt + 1, tLenAt + 1 + tLen).toString('utf8');
  return `\`${db}\`.\`${table}\``;
}

export const shorten = (s: string) => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > STATEMENT_CHARS ? `${one.slice(0, STATEMENT_CHARS - 1)}…` : one;
};

export function mysqlGtidSet(b: Buffer): string {
  const parts: string[] = [];
  let o = 0;
  if (b.length < 8) return '';
  const nSids = Number(b.readBigUInt64LE(o));
  o += 8;
  for (let i = 0; i < nSids && o + 24 <= b.length; i++) {
    const uuid = uuidFromBytes(b.subarray(o, o + 16));
    const n = Number(b.readBigUInt64LE(o + 16));
    o += 24;
    const ranges: string[] = [];
    for (let j = 0; j < n && o + 16 <= b.length; j++) {
      const start = b.readBigUInt64LE(o);
      const endEx = b.readBigUInt64LE(o + 8);
      o += 16;
      ranges.push(endEx - start === 1n ? `${start}` : `${start}-${endEx - 1n}`);
    }
    parts.push(`${uuid}:${ranges.join(':')}`);
  }
  return parts.join(',');
}
