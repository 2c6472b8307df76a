// Walks the events of a binlog byte stream: the magic number, each 19-byte header and, when the
// format description says the file carries checksums, each event's CRC32. It is fed chunks of any
// size, so a file is verified while it is read or downloaded (read once); an event larger than the
// inline limit is checksummed as it passes and never held whole.
// Format: binlog v4, little-endian header (timestamp u32, type u8, server_id u32, event_size u32,
// next_position u32, flags u16); with binlog_checksum=CRC32 every event ends with the CRC32 of
// everything before it (for the format description, computed with its "in use" flag cleared).
import { crc32 } from 'node:zlib';

export const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
export const HEADER = 19;

export const EVENT = {
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  TABLE_MAP: 19,
  MYSQL_GTID: 33,
  MYSQL_ANONYMOUS_GTID: 34,
  MYSQL_PREVIOUS_GTIDS: 35,
  MYSQL_XA_PREPARE: 38,
  MARIADB_ANNOTATE_ROWS: 160,
  MARIADB_GTID: 162,
  MARIADB_GTID_LIST: 163,
  MARIADB_START_ENCRYPTION: 164,
  MARIADB_QUERY_COMPRESSED: 165,
} as const;

/** Write/update/delete rows events: v1, v2, MySQL partial update, MariaDB compressed. */
const ROWS_EVENTS = new Set([23, 24, 25, 30, 31, 32, 39, 166, 167, 168, 169, 170, 171]);
export const isRowsEvent = (type: number) => ROWS_EVENTS.has(type);
export const isCompressedRowsEvent = (type: number) => type >= 166 && type <= 171;

const LOG_EVENT_BINLOG_IN_USE_F = 0x1;
/** Whole events up to this size are handled from one buffer; larger ones stream through. */
const INLINE_MAX = 1 << 20;
/** How much of a streamed event's body is kept for decoding (its fixed fields and first bytes). */
const STREAMED_PREFIX = 64 << 10;

/** One event; the walker reuses the object, so it is valid only during the onEvent call. */
export interface BinlogEvent {
  pos: number;
  time: number;
  type: number;
  serverId: number;
  /** Whole event: header, body and checksum. */
  size: number;
  flags: number;
  /** The body without the checksum, or its first STREAMED_PREFIX bytes for a larger event. */
  body: Buffer;
  /** Length of the whole body without the checksum. */
  bodyLength: number;
}

/** The bytes of a binlog are damaged at `offset`: what was found there. */
export class BinlogDamaged extends Error {
  override name = 'BinlogDamaged';
  constructor(
    readonly offset: number,
    readonly what: string,
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}damaged event at offset ${offset}: ${what}`);
  }

  /** The same damage, naming the file it is in. */
  in(file: string): BinlogDamaged {
    return new BinlogDamaged(this.offset, this.what, file);
  }
}

/** Not a binlog at all (wrong magic number), or a kind this reader cannot read (encrypted). */
export class NotABinlog extends Error {
  override name = 'NotABinlog';
}

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

interface StreamedEvent {
  header: Buffer;
  size: number;
  bodyLength: number;
  got: number;
  crc: number;
  prefix: Buffer[];
  prefixLength: number;
  trailer: Buffer[];
}

export class EventWalker {
  /** Bytes consumed so far (the offset of the next byte). */
  private offset = 0;
  private pending: Buffer = Buffer.alloc(0);
  private streamed: StreamedEvent | null = null;
  private sawMagic = false;
  private checksumLength = 0;
  /** Offset just past the last complete event. */
  validEnd = 0;
  checksums: 'crc32' | 'none' | 'unknown' = 'unknown';
  events = 0;

  constructor(
    private readonly onEvent: (e: BinlogEvent) => void,
    private readonly verify = true,
  ) {}

  /** Feeds the next bytes of the file; calls onEvent for each complete event, in order. */
  push(chunk: Buffer): void {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    for (;;) {
      if (this.streamed) {
        const used = this.feedStreamed(buf, off);
        off += used;
        if (this.streamed) break; // needs more bytes
        continue;
      }
      if (!this.sawMagic) {
        if (buf.length - off < MAGIC.length) break;
        if (!buf.subarray(off, off + 4).equals(MAGIC))
          throw new NotABinlog('not a binary log file (bad magic number)');
        this.sawMagic = true;
        off += 4;
        this.offset = 4;
        this.validEnd = 4;
        continue;
      }
      if (buf.length - off < HEADER) break;
      const size = buf.readUInt32LE(off + 9);
      if (size < HEADER + this.checksumLength)
        throw new BinlogDamaged(this.offset, `event size ${size} is smaller than an event header`);
      if (size <= INLINE_MAX) {
        if (buf.length - off < size) break;
        this.whole(buf.subarray(off, off + size));
        off += size;
        continue;
      }
      this.startStreamed(buf.subarray(off, off + HEADER), size);
      off += HEADER;
    }
    const rest = buf.subarray(off);
    // Keep only the unread tail (copied, so a large chunk is not held for a few bytes of it).
    this.pending = rest.length ? Buffer.from(rest) : Buffer.alloc(0);
  }

  /** The file ended: whether it ended on an event boundary, and the first byte left over if not. */
  end(): { complete: boolean; partialAt: number | null } {
    const leftover = this.pending.length > 0 || this.streamed !== null;
    if (!this.sawMagic) throw new NotABinlog('not a binary log file (bad magic number)');
    return { complete: !leftover, partialAt: leftover ? this.offset : null };
  }

  private checkNextPos(pos: number, size: number, nextPos: number): void {
    // 0 in artificial events; 32 bits wide, so it wraps in files over 4 GiB.
    if (this.verify && nextPos !== 0 && nextPos !== (pos + size) % 2 ** 32)
      throw new BinlogDamaged(
        pos,
        `the header says the next event is at ${nextPos}, but this one ends at ${pos + size}`,
      );
  }

  private whole(ev: Buffer): void {
    const pos = this.offset;
    const type = ev[4]!;
    this.checkNextPos(pos, ev.length, ev.readUInt32LE(13));
    if (type === EVENT.FORMAT_DESCRIPTION) this.readChecksumAlgorithm(ev);
    if (type === EVENT.MARIADB_START_ENCRYPTION)
      throw new NotABinlog(
        'the binlog is encrypted (encrypt_binlog=ON): it cannot be verified or replayed here',
      );
    const bodyEnd = ev.length - this.checksumLength;
    if (this.checksumLength && this.verify) {
      const stored = ev.readUInt32LE(bodyEnd);
      const computed = this.crcOf(ev.subarray(0, bodyEnd), type);
      if (stored !== computed)
        throw new BinlogDamaged(pos, `CRC32 mismatch (stored ${hex(stored)}, computed ${hex(computed)})`);
    }
    this.emit(ev, pos, ev.length, ev.subarray(HEADER, bodyEnd), bodyEnd - HEADER);
  }

  private crcOf(bytes: Buffer, type: number, seed = 0): number {
    if (type === EVENT.FORMAT_DESCRIPTION && bytes.readUInt16LE(17) & LOG_EVENT_BINLOG_IN_USE_F) {
      const copy = Buffer.from(bytes);
      copy.writeUInt16LE(copy.readUInt16LE(17) & ~LOG_EVENT_BINLOG_IN_USE_F, 17);
      return crc32(copy, seed);
    }
    return crc32(bytes, seed);
  }

  /** The format description ends with the checksum algorithm (1 byte) and a 4-byte checksum. */
  private readChecksumAlgorithm(ev: Buffer): void {
    if (ev.length < HEADER + 57 + 5) {
      this.checksums = 'none';
      this.checksumLength = 0;
      return;
    }
    const alg = ev.readUInt8(ev.length - 5);
    this.checksums = alg === 1 ? 'crc32' : 'none';
    // The FDE carries its own 4 checksum bytes whatever the algorithm; later events only with CRC32.
    this.checksumLength = alg === 1 ? 4 : 0;
    if (alg !== 1 && this.verify && alg !== 0)
      throw new BinlogDamaged(this.offset, `unknown checksum algorithm ${alg} in the format description`);
  }

  private readonly event: BinlogEvent = {
    pos: 0,
    time: 0,
    type: 0,
    serverId: 0,
    size: 0,
    flags: 0,
    body: Buffer.alloc(0),
    bodyLength: 0,
  };

  /** Hands one event (its header bytes in `h`) to onEvent, in the one reused event object. */
  private emit(h: Buffer, pos: number, size: number, body: Buffer, bodyLength: number): void {
    this.offset = pos + size;
    this.validEnd = this.offset;
    this.events++;
    const e = this.event;
    e.pos = pos;
    e.time = h.readUInt32LE(0);
    e.type = h[4]!;
    e.serverId = h.readUInt32LE(5);
    e.size = size;
    e.flags = h.readUInt16LE(17);
    // The FDE's own trailer (alg + checksum) is not part of its body for the reader.
    e.body = e.type === EVENT.FORMAT_DESCRIPTION && this.checksums === 'none' ? body.subarray(0, -4) : body;
    e.bodyLength = bodyLength;
    this.onEvent(e);
  }

  private startStreamed(header: Buffer, size: number): void {
    this.checkNextPos(this.offset, size, header.readUInt32LE(13));
    this.streamed = {
      header: Buffer.from(header),
      size,
      bodyLength: size - HEADER - this.checksumLength,
      got: 0,
      crc: crc32(header),
      prefix: [],
      prefixLength: 0,
      trailer: [],
    };
  }

  /** Feeds body bytes of a streamed event; returns how many were used. */
  private feedStreamed(buf: Buffer, off: number): number {
    const s = this.streamed!;
    const want = s.size - HEADER - s.got;
    const piece = buf.subarray(off, off + Math.min(want, buf.length - off));
    const inBody = Math.max(0, Math.min(piece.length, s.bodyLength - s.got));
    const body = piece.subarray(0, inBody);
    if (body.length) {
      s.crc = crc32(body, s.crc);
      if (s.prefixLength < STREAMED_PREFIX) {
        const keep = body.subarray(0, STREAMED_PREFIX - s.prefixLength);
        s.prefix.push(Buffer.from(keep));
        s.prefixLength += keep.length;
      }
    }
    if (piece.length > inBody) s.trailer.push(Buffer.from(piece.subarray(inBody)));
    s.got += piece.length;
    if (s.got === s.size - HEADER) this.finishStreamed();
    return piece.length;
  }

  private finishStreamed(): void {
    const s = this.streamed!;
    this.streamed = null;
    if (this.checksumLength && this.verify) {
      const stored = Buffer.concat(s.trailer).readUInt32LE(0);
      if (stored !== s.crc >>> 0)
        throw new BinlogDamaged(
          this.offset,
          `CRC32 mismatch (stored ${hex(stored)}, computed ${hex(s.crc)})`,
        );
    }
    this.emit(s.header, this.offset, s.size, Buffer.concat(s.prefix), s.bodyLength);
  }
}
