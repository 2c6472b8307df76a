// A byte-level binlog v4 writer for tests, independent of the scanner: events laid out after the
// magic number with real CRC32 trailers, so tests can build any shape, then damage it.
import { crc32 } from 'node:zlib';

export const T = {
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  TABLE_MAP: 19,
  WRITE_ROWS_V2: 30,
  MYSQL_GTID: 33,
  MYSQL_PREVIOUS_GTIDS: 35,
  MARIADB_ANNOTATE_ROWS: 160,
  MARIADB_BINLOG_CHECKPOINT: 161,
  MARIADB_GTID: 162,
  MARIADB_GTID_LIST: 163,
} as const;

export interface Ev {
  type: number;
  body: Buffer;
  time?: number;
  serverId?: number;
  /** Header flags (e.g. 0x4: depends on session state, as temporary-table statements do). */
  flags?: number;
}

export const u8 = (n: number) => Buffer.from([n]);
export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
export function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
export const uuidBytes = (uuid: string) => Buffer.from(uuid.replace(/-/g, ''), 'hex');

/** FORMAT_DESCRIPTION_EVENT body up to and including the checksum-algorithm byte. */
export function fde(version: string, checksumAlg: 0 | 1): Ev {
  const ver = Buffer.alloc(50);
  ver.write(version, 'latin1');
  // A plausible post-header-length table (QUERY=13, ROTATE=8, FDE=84, XID=0, ...), 40 entries.
  const postHeader = Buffer.alloc(40, 0);
  postHeader.set([56, 13, 0, 8, 0, 18, 0, 4, 4, 4, 4, 18, 0, 0, 84, 0, 0, 0, 8], 0);
  return {
    type: T.FORMAT_DESCRIPTION,
    time: 1_700_000_000,
    body: Buffer.concat([u16(4), ver, u32(1_700_000_000), u8(19), postHeader, u8(checksumAlg)]),
  };
}

export function query(text: string, db = 'shop'): Ev {
  const status = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00]); // 7 bytes of status vars
  return {
    type: T.QUERY,
    body: Buffer.concat([
      u32(42), // thread_id
      u32(0), // exec_time
      u8(db.length),
      u16(0), // error_code
      u16(status.length),
      status,
      Buffer.from(db, 'latin1'),
      u8(0),
      Buffer.from(text, 'latin1'),
    ]),
  };
}

export const xid = (n: number): Ev => ({ type: T.XID, body: u64(n) });
export const tableMap = (): Ev => ({
  type: T.TABLE_MAP,
  body: Buffer.from('12000000000001000473686f700001740001030001', 'hex'),
});
/** A v2 rows event of `type` (30 write, 31 update, 32 delete) with `width` columns, some present. */
export function rowsEvent(
  type: 30 | 31 | 32,
  opts: { statementEnd?: boolean; width?: number; present?: number; payload?: Buffer } = {},
): Ev {
  const width = opts.width ?? 1;
  const bitmap = Buffer.alloc(Math.ceil(width / 8));
  const present = opts.present ?? 2 ** width - 1;
  for (let i = 0; i < width; i++) if (present & (1 << i)) bitmap[i >> 3]! |= 1 << (i & 7);
  return {
    type,
    body: Buffer.concat([
      Buffer.from([0x12, 0, 0, 0, 0, 0]), // table id
      u16(opts.statementEnd === false ? 0 : 1),
      u16(2), // v2 extra data: only its own length
      u8(width),
      bitmap,
      ...(type === 31 ? [bitmap] : []),
      opts.payload ?? Buffer.from([0x00, 0x01, 0x00, 0x00, 0x00]),
    ]),
  };
}
export const writeRows = (): Ev => ({
  type: T.WRITE_ROWS_V2,
  body: Buffer.from('12000000000001000200010001ff0001000000', 'hex'),
});
export const rotate = (next: string): Ev => ({
  type: T.ROTATE,
  time: 0,
  body: Buffer.concat([u64(4), Buffer.from(next)]),
});

export function mysqlPreviousGtids(sids: { uuid: string; intervals: [number, number][] }[]): Ev {
  const parts: Buffer[] = [u64(sids.length)];
  for (const s of sids) {
    parts.push(uuidBytes(s.uuid), u64(s.intervals.length));
    for (const [start, endExclusive] of s.intervals) parts.push(u64(start), u64(endExclusive));
  }
  return { type: T.MYSQL_PREVIOUS_GTIDS, body: Buffer.concat(parts) };
}

export function mysqlGtid(uuid: string, gno: number, time: number): Ev {
  // flags, sid, gno, then the MySQL 8 logical-clock fields the scanner does not need.
  return {
    type: T.MYSQL_GTID,
    time,
    body: Buffer.concat([
      u8(1),
      uuidBytes(uuid),
      u64(gno),
      u8(2),
      u64(gno - 1),
      u64(gno),
      Buffer.alloc(16, 7),
    ]),
  };
}

export function mariadbGtidList(gtids: [number, number, number][], flagBits = 0): Ev {
  const parts: Buffer[] = [u32(gtids.length | flagBits)];
  for (const [domain, server, seq] of gtids) parts.push(u32(domain), u32(server), u64(seq));
  return { type: T.MARIADB_GTID_LIST, body: Buffer.concat(parts) };
}

export function mariadbGtid(domain: number, server: number, seq: number, flags: number, time: number): Ev {
  return {
    type: T.MARIADB_GTID,
    time,
    serverId: server,
    body: Buffer.concat([u64(seq), u32(domain), u8(flags), Buffer.alloc(6, 0)]),
  };
}

export interface Built {
  bytes: Buffer;
  /** Start offset of each event, in order. */
  starts: number[];
  /** End offset of each event, in order. */
  ends: number[];
}

/** Lays events out after the magic number; the FDE always carries alg + 4 CRC bytes (as servers write it). */
export function buildBinlog(events: Ev[], checksum: boolean): Built {
  const chunks: Buffer[] = [Buffer.from([0xfe, 0x62, 0x69, 0x6e])];
  const starts: number[] = [];
  const ends: number[] = [];
  let pos = 4;
  for (const e of events) {
    const trailer = e.type === T.FORMAT_DESCRIPTION || checksum ? 4 : 0;
    const size = 19 + e.body.length + trailer;
    const h = Buffer.alloc(19);
    h.writeUInt32LE(e.time ?? 1_700_000_000, 0);
    h.writeUInt8(e.type, 4);
    h.writeUInt32LE(e.serverId ?? 1, 5);
    h.writeUInt32LE(size, 9);
    h.writeUInt32LE(pos + size, 13);
    h.writeUInt16LE(e.flags ?? 0, 17);
    // A real CRC32 of header and body, as servers write it with binlog_checksum=CRC32.
    const crc = Buffer.alloc(trailer, 0);
    if (checksum && trailer) crc.writeUInt32LE(crc32(Buffer.concat([h, e.body])));
    chunks.push(h, e.body, crc);
    starts.push(pos);
    pos += size;
    ends.push(pos);
  }
  return { bytes: Buffer.concat(chunks), starts, ends };
}
