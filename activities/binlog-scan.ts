// Reads binlog event headers directly from a file (no mariadb-binlog process): fast enough to index a
// 1 GiB file in about a second, and it sees exact event boundaries, GTIDs and times.
// Format: MySQL/MariaDB binlog v4 — 4-byte magic, then events with a 19-byte header
// (timestamp u32, type u8, server_id u32, event_size u32, next_pos u32, flags u16), all little-endian.
import { open, type FileHandle } from 'node:fs/promises';

const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const HEADER = 19;

const QUERY_EVENT = 2;
const STOP_EVENT = 3;
const ROTATE_EVENT = 4;
const FORMAT_DESCRIPTION_EVENT = 15;
const XID_EVENT = 16;
const MYSQL_GTID_EVENT = 33;
const MYSQL_ANONYMOUS_GTID_EVENT = 34;
const MYSQL_PREVIOUS_GTIDS_EVENT = 35;
const MARIADB_GTID_EVENT = 162;
const MARIADB_GTID_LIST_EVENT = 163;
const MARIADB_FL_STANDALONE = 1;

/** One transaction as the binlog holds it: from its GTID event to the end of its commit event. */
export interface BinlogTransaction {
  gtid: string;
  /** Unix seconds of the GTID event (when the transaction started executing on the source). */
  time: number;
  startPos: number;
  endPos: number;
}

export interface BinlogFileSummary {
  flavor: 'mariadb' | 'mysql' | 'unknown';
  size: number;
  /** Offset just past the last complete event; less than size when the file ends mid-event. */
  validEnd: number;
  gtidsBefore: string;
  transactions: number;
  firstGtid: string | null;
  lastGtid: string | null;
  firstEventTime: number | null;
  lastEventTime: number | null;
  /** A rotate or stop event closes the file: nothing more will be written to it. */
  closed: boolean;
}

interface EventHeader {
  pos: number;
  time: number;
  type: number;
  serverId: number;
  size: number;
}

/** Buffered random-access reader: header walks read the file once, in large sequential chunks. */
class ChunkReader {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly chunk = 4 << 20,
  ) {}

  async read(pos: number, len: number): Promise<Buffer | null> {
    if (pos + len > this.size) return null;
    if (pos < this.bufStart || pos + len > this.bufStart + this.buf.length) {
      const want = Math.min(Math.max(len, this.chunk), this.size - pos);
      const b = Buffer.alloc(want);
      const { bytesRead } = await this.fh.read(b, 0, want, pos);
      this.buf = b.subarray(0, bytesRead);
      this.bufStart = pos;
      if (bytesRead < len) return null;
    }
    return this.buf.subarray(pos - this.bufStart, pos - this.bufStart + len);
  }
}

function uuidFromBytes(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Walks every event of a binlog file, calling `onTransaction` for each complete transaction.
 * Tolerates a file that ends mid-event (the active file of a live archiver): it stops at the last
 * complete event. Throws on a file that is not a binlog.
 */
export async function scanBinlog(
  path: string,
  onTransaction?: (t: BinlogTransaction) => void | false,
): Promise<BinlogFileSummary> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const r = new ChunkReader(fh, size);
    const magic = await r.read(0, 4);
    if (!magic || !magic.equals(MAGIC))
      throw new Error(`${path} is not a binary log file (bad magic number)`);

    const s: BinlogFileSummary = {
      flavor: 'unknown',
      size,
      validEnd: 4,
      gtidsBefore: '',
      transactions: 0,
      firstGtid: null,
      lastGtid: null,
      firstEventTime: null,
      lastEventTime: null,
      closed: false,
    };
    let checksumLen = 0;
    let open: { gtid: string; time: number; startPos: number; standalone: boolean } | null = null;
    let stop = false;

    const finish = (endPos: number) => {
      if (!open) return;
      const t: BinlogTransaction = { gtid: open.gtid, time: open.time, startPos: open.startPos, endPos };
      open = null;
      s.transactions++;
      s.firstGtid ??= t.gtid;
      s.lastGtid = t.gtid;
      if (onTransaction?.(t) === false) stop = true;
    };

    let pos = 4;
    while (!stop) {
      const hb = await r.read(pos, HEADER);
      if (!hb) break;
      const h: EventHeader = {
        pos,
        time: hb.readUInt32LE(0),
        type: hb.readUInt8(4),
        serverId: hb.readUInt32LE(5),
        size: hb.readUInt32LE(9),
      };
      if (h.size < HEADER) throw new Error(`${path}: corrupt event at ${pos} (size ${h.size})`);
      const end = pos + h.size;
      if (end > size) break; // partial event at the tail: still being written
      const body = async (len: number) =>
        (await r.read(pos + HEADER, Math.min(len, h.size - HEADER))) ?? Buffer.alloc(0);

      if (h.type !== FORMAT_DESCRIPTION_EVENT && h.time > 0) {
        s.firstEventTime ??= h.time;
        s.lastEventTime = h.time;
      }
      switch (h.type) {
        case FORMAT_DESCRIPTION_EVENT: {
          const b = await body(h.size - HEADER);
          const version = b.subarray(2, 52).toString('latin1').replace(/\0.*$/s, '');
          s.flavor = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
          // With checksums on, the event ends with alg (1 byte) + CRC32 (4 bytes).
          const alg = b.length >= 5 ? b.readUInt8(b.length - 5) : 0;
          checksumLen = alg === 1 ? 4 : 0;
          break;
        }
        case MARIADB_GTID_LIST_EVENT: {
          const b = await body(h.size - HEADER);
          const count = b.readUInt32LE(0) & 0x0fffffff;
          // The list holds one GTID per (domain, server_id) ever seen, each domain's most recent one
          // last; keep that one per domain, so gtidsBefore is a position (like gtid_binlog_pos).
          const gtids = new Map<number, string>();
          for (let i = 0; i < count && 4 + 16 * (i + 1) <= b.length; i++) {
            const o = 4 + 16 * i;
            const domain = b.readUInt32LE(o);
            gtids.set(domain, `${domain}-${b.readUInt32LE(o + 4)}-${b.readBigUInt64LE(o + 8)}`);
          }
          s.gtidsBefore = [...gtids.values()].join(',');
          break;
        }
        case MYSQL_PREVIOUS_GTIDS_EVENT: {
          const b = await body(h.size - HEADER - checksumLen);
          const parts: string[] = [];
          let o = 0;
          const nSids = Number(b.readBigUInt64LE(o));
          o += 8;
          for (let i = 0; i < nSids; i++) {
            const uuid = uuidFromBytes(b.subarray(o, o + 16));
            const n = Number(b.readBigUInt64LE(o + 16));
            o += 24;
            const ranges: string[] = [];
            for (let j = 0; j < n; j++) {
              const start = b.readBigUInt64LE(o);
              const endEx = b.readBigUInt64LE(o + 8);
              o += 16;
              ranges.push(endEx - start === 1n ? `${start}` : `${start}-${endEx - 1n}`);
            }
            parts.push(`${uuid}:${ranges.join(':')}`);
          }
          s.gtidsBefore = parts.join(',');
          break;
        }
        case MARIADB_GTID_EVENT: {
          finish(pos); // a transaction never spans a GTID event; close a dangling one defensively
          const b = await body(13);
          const seq = b.readBigUInt64LE(0);
          const domain = b.readUInt32LE(8);
          const flags = b.readUInt8(12);
          open = {
            gtid: `${domain}-${h.serverId}-${seq}`,
            time: h.time,
            startPos: pos,
            standalone: (flags & MARIADB_FL_STANDALONE) !== 0,
          };
          break;
        }
        case MYSQL_GTID_EVENT:
        case MYSQL_ANONYMOUS_GTID_EVENT: {
          finish(pos);
          const b = await body(25);
          const gtid =
            h.type === MYSQL_GTID_EVENT
              ? `${uuidFromBytes(b.subarray(1, 17))}:${b.readBigUInt64LE(17)}`
              : 'ANONYMOUS';
          // MySQL DDL has no XID: its single Query event ends it, like MariaDB's standalone flag.
          open = { gtid, time: h.time, startPos: pos, standalone: false };
          break;
        }
        case XID_EVENT:
          finish(end);
          break;
        case QUERY_EVENT: {
          if (!open) break;
          if (open.standalone) {
            finish(end);
            break;
          }
          const b = await body(h.size - HEADER - checksumLen);
          const statusLen = b.readUInt16LE(11);
          const dbLen = b.readUInt8(8);
          const query = b
            .subarray(13 + statusLen + dbLen + 1)
            .toString('latin1')
            .trim()
            .toUpperCase();
          if (
            query === 'COMMIT' ||
            query === 'XA COMMIT' ||
            (s.flavor === 'mysql' && !/^BEGIN/.test(query))
          ) {
            finish(end);
          }
          break;
        }
        case ROTATE_EVENT:
          // The source's rotate at the end closes the file; an artificial one at offset 4 does not.
          if (pos > 4) s.closed = true;
          break;
        case STOP_EVENT:
          s.closed = true;
          break;
      }
      s.validEnd = end;
      pos = end;
    }
    return s;
  } finally {
    await fh.close();
  }
}

/** Every event start offset in the file plus its end: the positions a `position` target may name. */
export async function eventBoundaries(path: string): Promise<Set<number>> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const r = new ChunkReader(fh, size);
    const out = new Set<number>();
    let pos = 4;
    for (;;) {
      out.add(pos);
      const hb = await r.read(pos, HEADER);
      if (!hb) break;
      const evSize = hb.readUInt32LE(9);
      if (evSize < HEADER || pos + evSize > size) break;
      pos += evSize;
    }
    return out;
  } finally {
    await fh.close();
  }
}
