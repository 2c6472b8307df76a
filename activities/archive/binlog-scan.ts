// Reads binlog files directly (no mariadb-binlog process): every event is walked and, when the file
// carries checksums, CRC-verified (binlog-events.ts), and events are grouped into transactions with
// what the plan and the proof need: GTID, time, exact boundaries, row events and statements, the
// tables touched and the shapes a replay strategy may not handle. Indexes a 1 GiB file in seconds.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { BinlogDamaged, EventWalker, NotABinlog } from './binlog-events';
import { TransactionGrouper } from './binlog-grouper';
import type { BinlogFileSummary, BinlogTransaction, ScanOptions } from './binlog-scan-types';

export { BinlogDamaged, NotABinlog } from './binlog-events';
export type { BinlogFileSummary, BinlogTransaction, ScanOptions } from './binlog-scan-types';

/** A reading error that names the file it is about. */
function naming(err: unknown, file: string | undefined): unknown {
  if (err instanceof BinlogDamaged && file) return err.in(file);
  if (err instanceof NotABinlog) return new NotABinlog(`${file ?? 'the file'}: ${err.message}`);
  return err;
}

/**
 * Walks a binlog given as a stream of chunks, calling `onTransaction` for each complete transaction.
 * Tolerates a file that ends mid-event (the active file of a live archiver): it stops at the last
 * complete event (`validEnd` < `size`). Throws NotABinlog on a file that is not a binlog, and
 * BinlogDamaged on a damaged event (bad CRC32, impossible size) unless `verify` is false.
 */
export async function scanBinlogStream(
  chunks: AsyncIterable<Buffer>,
  size: number,
  onTransaction?: (t: BinlogTransaction, file: BinlogFileSummary) => void | false,
  opts: ScanOptions = {},
): Promise<BinlogFileSummary> {
  const grouper = new TransactionGrouper(size, onTransaction);
  const { onEventEnd, onEvent } = opts;
  const walker = new EventWalker((e) => {
    if (grouper.stop) return;
    onEvent?.(e);
    grouper.onEvent(e);
    onEventEnd?.(e.pos + e.size);
  }, opts.verify ?? true);
  const hash: Hash | null = opts.sha256 ? createHash('sha256') : null;
  let read = 0;
  try {
    for await (const chunk of chunks) {
      hash?.update(chunk);
      read += chunk.length;
      walker.push(chunk);
      if (grouper.stop) break;
    }
    if (!grouper.stop) walker.end();
  } catch (err) {
    throw naming(err, opts.name);
  }
  const s = grouper.summary;
  s.checksums = walker.checksums;
  s.validEnd = walker.validEnd;
  // The bytes there really were (a file read to its end), else what the caller said it holds.
  s.size = grouper.stop ? Math.max(s.size, read) : read;
  if (hash && !grouper.stop) s.sha256 = hash.digest('hex');
  return s;
}

/** scanBinlogStream over a local file. */
export async function scanBinlog(
  path: string,
  onTransaction?: (t: BinlogTransaction, file: BinlogFileSummary) => void | false,
  opts: ScanOptions = {},
): Promise<BinlogFileSummary> {
  const { size } = await stat(path);
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    return await scanBinlogStream(stream, size, onTransaction, { name: path, ...opts });
  } finally {
    stream.destroy();
  }
}

/** Every event start offset in the file plus its end: the positions a `position` target may name. */
export async function eventBoundaries(path: string): Promise<Set<number>> {
  const out = new Set<number>([4]);
  const walker = new EventWalker((e) => void out.add(e.pos + e.size), true);
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) walker.push(chunk as Buffer);
  } catch (err) {
    throw naming(err, path);
  } finally {
    stream.destroy();
  }
  return out;
}

/**
 * The transactions of a binlog as an async stream (for comparing two binlogs side by side without
 * holding either): the same reading and verification as scanBinlogStream, yielded chunk by chunk.
 */
export async function* binlogTransactions(
  path: string,
  opts: Pick<ScanOptions, 'verify'> = {},
): AsyncGenerator<BinlogTransaction> {
  let ready: BinlogTransaction[] = [];
  const grouper = new TransactionGrouper(0, (t) => void ready.push(t));
  const walker = new EventWalker((e) => grouper.onEvent(e), opts.verify ?? true);
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) {
      walker.push(chunk as Buffer);
      const batch = ready;
      ready = [];
      yield* batch;
    }
    walker.end();
  } catch (err) {
    throw naming(err, path);
  } finally {
    stream.destroy();
  }
}
