// A synthetic MariaDB binlog archive of any size, for planning at scale (bench and unit test): file n
// holds TX_PER_FILE one-row transactions with GTIDs 0-1-(TX_PER_FILE·(n-1)+1) … 0-1-(TX_PER_FILE·n).
// Every file is a real binlog v4 byte stream with CRC32 checksums, as servers write by default
// (format description, GTID list, GTID + XID events, rotate), and its index entry is exactly what
// describeFile (activities/archive/archive-index.ts) reads from it.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { ArchiveIndex, ArchivedFile } from '../../activities/archive/archive';

export const TX_PER_FILE = 10;
/** Unix seconds of the first transaction of file 1. */
export const T0 = 1_700_000_000;
/** Each file spans 45 s of transactions, then 15 s without any, so a time between files reads no file. */
const FILE_SECONDS = 60;
const TX_SECONDS = 5;

const FORMAT_DESCRIPTION = 15;
const XID = 16;
const ROTATE = 4;
const MARIADB_GTID = 162;
const MARIADB_GTID_LIST = 163;
const SERVER_ID = 1;

export const syntheticName = (n: number) => `mysql-bin.${String(n).padStart(6, '0')}`;
export const syntheticSeq = (n: number, k: number) => TX_PER_FILE * (n - 1) + k + 1;
export const syntheticGtid = (n: number, k: number) => `0-${SERVER_ID}-${syntheticSeq(n, k)}`;
/** Unix seconds of transaction k (0-based) of file n. */
export const syntheticTime = (n: number, k: number) => T0 + FILE_SECONDS * (n - 1) + TX_SECONDS * k;

interface Event {
  type: number;
  time: number;
  body: Buffer;
}

function formatDescription(): Event {
  const body = Buffer.alloc(2 + 50 + 4 + 1 + 40 + 1);
  body.writeUInt16LE(4, 0); // binlog version
  body.write('10.11.6-MariaDB-log', 2, 'latin1');
  body.writeUInt32LE(T0, 52);
  body.writeUInt8(19, 56); // header length
  body.writeUInt8(1, 97); // checksum algorithm: CRC32
  return { type: FORMAT_DESCRIPTION, time: T0, body };
}

function gtidList(n: number): Event {
  const before = n === 1 ? 0 : syntheticSeq(n - 1, TX_PER_FILE - 1);
  const body = Buffer.alloc(before ? 20 : 4);
  body.writeUInt32LE(before ? 1 : 0, 0);
  if (before) {
    body.writeUInt32LE(0, 4); // domain
    body.writeUInt32LE(SERVER_ID, 8);
    body.writeBigUInt64LE(BigInt(before), 12);
  }
  return { type: MARIADB_GTID_LIST, time: syntheticTime(n, 0), body };
}

function gtid(n: number, k: number): Event {
  const body = Buffer.alloc(8 + 4 + 1 + 6);
  body.writeBigUInt64LE(BigInt(syntheticSeq(n, k)), 0);
  body.writeUInt32LE(0, 8); // domain; flags 0: a transaction ended by its XID
  return { type: MARIADB_GTID, time: syntheticTime(n, k), body };
}

function xid(n: number, k: number): Event {
  const body = Buffer.alloc(8);
  body.writeBigUInt64LE(BigInt(syntheticSeq(n, k)), 0);
  return { type: XID, time: syntheticTime(n, k), body };
}

/** The source's rotate at the end of a file: the next file's name and its first position (4). */
function rotate(next: number): Event {
  const body = Buffer.alloc(8 + syntheticName(next).length);
  body.writeBigUInt64LE(4n, 0);
  body.write(syntheticName(next), 8, 'latin1');
  return { type: ROTATE, time: 0, body };
}

function layOut(events: Event[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0xfe, 0x62, 0x69, 0x6e])];
  let pos = 4;
  for (const e of events) {
    const size = 19 + e.body.length + 4;
    const h = Buffer.alloc(19);
    h.writeUInt32LE(e.time, 0);
    h.writeUInt8(e.type, 4);
    h.writeUInt32LE(SERVER_ID, 5);
    h.writeUInt32LE(size, 9);
    h.writeUInt32LE(pos + size, 13);
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(crc32(Buffer.concat([h, e.body])));
    parts.push(h, e.body, crc);
    pos += size;
  }
  return Buffer.concat(parts);
}

/** The bytes of file n of `count`; all but the last end with a rotate (closed, complete). */
export function syntheticBinlog(n: number, count: number): Buffer {
  const events = [formatDescription(), gtidList(n)];
  for (let k = 0; k < TX_PER_FILE; k++) events.push(gtid(n, k), xid(n, k));
  if (n < count) events.push(rotate(n + 1));
  return layOut(events);
}

/** Where transaction k of file n ends (its XID's end): the binlog position just after it. */
export function syntheticEndPos(n: number, k: number): number {
  const header = 4 + (19 + 98 + 4) + (19 + (n === 1 ? 4 : 20) + 4);
  return header + (k + 1) * (19 + 19 + 4 + 19 + 8 + 4);
}

/** The index entry describeFile would make of file n of `count`. */
export function syntheticEntry(n: number, count: number, bytes = syntheticBinlog(n, count)): ArchivedFile {
  return {
    name: syntheticName(n),
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    gtidsBefore: n === 1 ? '' : syntheticGtid(n - 1, TX_PER_FILE - 1),
    firstGtid: syntheticGtid(n, 0),
    lastGtid: syntheticGtid(n, TX_PER_FILE - 1),
    firstEventTime: syntheticTime(n, 0),
    lastEventTime: syntheticTime(n, TX_PER_FILE - 1),
    transactions: TX_PER_FILE,
    complete: n < count,
  };
}

/** An index of `count` files, in the archive's real format (calls `onFile` with each file's bytes). */
export function syntheticIndex(count: number, onFile?: (n: number, bytes: Buffer) => void): ArchiveIndex {
  const files: ArchivedFile[] = [];
  for (let n = 1; n <= count; n++) {
    const bytes = syntheticBinlog(n, count);
    onFile?.(n, bytes);
    files.push(syntheticEntry(n, count, bytes));
  }
  return { version: 1, files };
}
