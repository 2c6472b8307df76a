// Reads an xbstream (what `mariadb-backup --backup --stream=xbstream` and xtrabackup write) once,
// front to back, verifying every chunk, and keeps the few small files a caller asks for (the backup's
// own metadata). Whole-stream compression (`| zstd`, `| gzip`) is undone on the fly: zstd by the
// `zstd` program (argv, minimal environment), gzip by node's zlib.
//
// Chunk format, as MariaDB reads it (extra/mariabackup/xbstream.h, xbstream_read.cc), little-endian:
//   magic "XBSTCK01" (8) · flags (1; 0x01 = ignorable) · type (1; 'P' payload, 'E' end of file)
//   · path length (4, < FN_REFLEN = 512) · path
//   then, except for 'E': payload length (8) · payload offset in the file (8) · checksum (4) · payload
// The checksum is my_checksum(0, payload) = CRC-32 (ISO 3309, zlib's crc32). As mbstream -x does
// (xbstream.cc), each file's chunks must follow one another (offset = bytes so far), an 'E' chunk
// closes the file, and an unknown chunk marked ignorable is still written to its file.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { createGunzip, crc32 } from 'node:zlib';
import type { BackupCompression } from '../../workflows/backup-catalog';
import { childEnv } from '../runtime/child-env';

const MAGIC = Buffer.from('XBSTCK01', 'latin1');
const FN_REFLEN = 512;
const FLAG_IGNORABLE = 0x01;
/** Files the caller keeps are metadata: a few KiB. Anything bigger is not what it claims to be. */
const MAX_KEPT = 1 << 20;

/** The stream is not a complete, intact xbstream: `offset` is where, in the (decompressed) stream. */
export class XbstreamDamaged extends Error {
  override name = 'XbstreamDamaged';
  constructor(
    readonly offset: number,
    why: string,
  ) {
    super(`${why} at offset ${offset}`);
  }
}

export interface XbstreamSummary {
  /** The kept files' contents, by path in the stream. */
  kept: Map<string, Buffer>;
  /** Every path the stream holds. */
  files: number;
  /** Sum of payload bytes: what the extracted backup occupies (before its own --compress, if any). */
  dataBytes: number;
  /** Bytes of the (decompressed) stream. */
  streamBytes: number;
}

/** Pulls exact byte counts out of an async byte source. */
class Pull {
  private bufs: Buffer[] = [];
  private have = 0;
  offset = 0;
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<void> {
    while (this.have < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else {
        const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
        this.bufs.push(b);
        this.have += b.length;
      }
    }
  }

  /** Up to `n` bytes (fewer only at the end of the stream). */
  async take(n: number): Promise<Buffer> {
    await this.fill(n);
    const all = this.bufs.length === 1 ? this.bufs[0]! : Buffer.concat(this.bufs);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.bufs = rest.length ? [rest] : [];
    this.have = rest.length;
    this.offset += out.length;
    return out;
  }

  /** Passes `n` bytes to `sink` in pieces, without holding them all; returns how many there were. */
  async stream(n: number, sink: (b: Buffer) => void): Promise<number> {
    let left = n;
    while (left > 0) {
      if (this.have === 0) await this.fill(1);
      if (this.have === 0) break;
      const piece = await this.take(Math.min(left, this.have));
      sink(piece);
      left -= piece.length;
    }
    return n - left;
  }
}

/**
 * Reads the whole stream: every chunk's magic, type, lengths and checksum. Throws XbstreamDamaged
 * naming the offset of the first damage (a bad magic, a truncated chunk, a checksum mismatch).
 */
export async function readXbstream(
  source: AsyncIterable<Buffer>,
  keep: (path: string) => boolean,
): Promise<XbstreamSummary> {
  const r = new Pull(source[Symbol.asyncIterator]());
  const parts = new Map<string, { offset: number; data: Buffer }[]>();
  const paths = new Set<string>();
  // Each open file's next offset: mbstream refuses a chunk that does not continue its file.
  const next = new Map<string, number>();
  let dataBytes = 0;
  for (;;) {
    const at = r.offset;
    const head = await r.take(14);
    if (head.length === 0) break;
    if (head.length < 14) throw new XbstreamDamaged(at, 'truncated chunk header');
    if (!head.subarray(0, 8).equals(MAGIC)) throw new XbstreamDamaged(at, 'wrong chunk magic');
    const flags = head[8]!;
    const type = String.fromCharCode(head[9]!);
    if (type !== 'P' && type !== 'E' && !(flags & FLAG_IGNORABLE))
      throw new XbstreamDamaged(at + 9, `unknown chunk type 0x${head[9]!.toString(16)}`);
    const pathLen = head.readUInt32LE(10);
    if (pathLen >= FN_REFLEN) throw new XbstreamDamaged(at + 10, `path length ${pathLen} is too large`);
    const pathBuf = await r.take(pathLen);
    if (pathBuf.length < pathLen) throw new XbstreamDamaged(r.offset, 'truncated chunk path');
    const path = pathBuf.toString('utf8');
    paths.add(path);
    if (type === 'E') {
      next.delete(path);
      continue;
    }
    const lens = await r.take(20);
    if (lens.length < 20) throw new XbstreamDamaged(r.offset, 'truncated chunk header');
    const length = lens.readBigUInt64LE(0);
    const offset = lens.readBigUInt64LE(8);
    const checksum = lens.readUInt32LE(16);
    const checksumAt = r.offset - 4;
    if (length > BigInt(Number.MAX_SAFE_INTEGER) || offset > BigInt(Number.MAX_SAFE_INTEGER))
      throw new XbstreamDamaged(checksumAt - 16, 'chunk length or offset is too large');
    const wanted = keep(path);
    const n = Number(length);
    if (wanted && n + Number(offset) > MAX_KEPT)
      throw new XbstreamDamaged(checksumAt - 16, `${path} is larger than a metadata file can be`);
    let crc = 0;
    const pieces: Buffer[] = [];
    const got = await r.stream(n, (b) => {
      crc = crc32(b, crc);
      if (wanted) pieces.push(b);
    });
    if (got < n) throw new XbstreamDamaged(r.offset, `truncated chunk payload of ${path}`);
    if (crc >>> 0 !== checksum)
      throw new XbstreamDamaged(
        checksumAt,
        `checksum mismatch in a chunk of ${path} (expected 0x${checksum.toString(16)}, read 0x${(crc >>> 0).toString(16)})`,
      );
    // An ignorable chunk of an unknown type is written to its file like a payload, as mbstream does.
    const expected = next.get(path) ?? 0;
    if (Number(offset) !== expected)
      throw new XbstreamDamaged(
        checksumAt - 8,
        `out-of-order chunk of ${path}: its offset is ${offset}, the file is ${expected} bytes so far`,
      );
    next.set(path, expected + n);
    dataBytes += n;
    if (wanted)
      (parts.get(path) ?? parts.set(path, []).get(path)!).push({
        offset: Number(offset),
        data: Buffer.concat(pieces),
      });
  }
  const kept = new Map<string, Buffer>();
  for (const [path, chunks] of parts) {
    const size = Math.max(...chunks.map((c) => c.offset + c.data.length));
    const buf = Buffer.alloc(size);
    for (const c of chunks) c.data.copy(buf, c.offset);
    kept.set(path, buf);
  }
  return { kept, files: paths.size, dataBytes, streamBytes: r.offset };
}

/** The stream's bytes with whole-stream compression undone; a decompressor's failure ends it with an error. */
export function decompressed(raw: Readable, compression: BackupCompression): AsyncIterable<Buffer> {
  if (compression === 'none') return raw;
  if (compression === 'gzip') {
    const gunzip = createGunzip();
    raw.on('error', (err) => gunzip.destroy(err));
    return raw.pipe(gunzip);
  }
  return zstdDecompress(raw);
}

async function* zstdDecompress(raw: Readable): AsyncIterable<Buffer> {
  const child = spawn('zstd', ['-d', '-c', '-q'], {
    env: childEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => void (stderr = (stderr + s).slice(-2000)));
  const exited = new Promise<number | null>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => res(code));
  });
  raw.on('error', () => child.stdin.destroy());
  child.stdin.on('error', () => {}); // zstd may stop reading first: its exit code says why
  raw.pipe(child.stdin);
  try {
    for await (const b of child.stdout as AsyncIterable<Buffer>) yield b;
    const code = await exited;
    if (code !== 0) throw new ZstdFailed(code, stderr.trim().split('\n').at(-1) ?? '');
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    raw.destroy();
  }
}

/** zstd could not decompress the stream (damaged, truncated, not zstd). */
export class ZstdFailed extends Error {
  override name = 'ZstdFailed';
  constructor(code: number | null, why: string) {
    super(`zstd -d exited ${code}: ${why || 'no message'}`);
  }
}
