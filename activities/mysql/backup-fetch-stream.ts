// The streamed part of fetching a base backup: catalog bytes → decompression → `mbstream -x`, in one
// pass. The downloaded bytes are also kept on disk (the only copy of the stream this needs): a download
// cut off resumes from them with a ranged read of the rest, and a partial extraction, never trusted, is
// redone from them without downloading again. Each stage's failure is told apart, so a refusal names
// the phase that saw the damage (download, decompress, extract).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { execa } from 'execa';
import { ApplicationFailure } from '@temporalio/common';
import type { BackupCompression } from '../../workflows/backup-catalog';
import { childEnv } from '../runtime/child-env';
import { errorLines } from '../runtime/command';
import { renameDurably } from '../runtime/durable-file';
import type { BackupObject } from './backup-fetch-source';

export type FetchPhase = 'download' | 'decompress' | 'extract' | 'prepare';

/** A damaged stream, seen by one phase (the caller names the backup). */
export class StreamDamaged extends Error {
  constructor(
    readonly phase: FetchPhase,
    message: string,
  ) {
    super(message);
  }
}

export interface StreamCounters {
  /** Bytes of the stream passed to decompression/extraction so far (of `total`). */
  done: number;
  total: number;
  /** Bytes read from the catalog by this attempt (not from the copy on disk). */
  fetched: number;
}

export interface ExtractRequest {
  obj: BackupObject;
  compression: BackupCompression;
  /** The program that extracts: mbstream (MariaDB) or xbstream (Percona). */
  extractor: 'mbstream' | 'xbstream';
  /** The complete stream, once downloaded; `${kept}.part` while the download is under way. */
  kept: string;
  extractDir: string;
  counters: StreamCounters;
  signal: AbortSignal | undefined;
  /** Called once the whole object is on disk and verified (before the extraction has finished). */
  onDownloaded(info: { resumedAt: number; fetched: number }): Promise<void>;
}

/** Downloads (or re-reads) the stream and extracts it into `extractDir` (empty, made by the caller). */
export async function streamIntoDirectory(o: ExtractRequest): Promise<{ resumedAt: number | null }> {
  const have = await stat(o.kept).then(
    (s) => s.size,
    () => null,
  );
  const complete = have !== null;
  const resumedAt = complete ? null : await partBytes(o);
  o.counters.total = o.obj.size;
  const source = Readable.from(complete ? fromDisk(o) : downloading(o, resumedAt ?? 0), {
    objectMode: false,
  });

  const errors: { download?: unknown; decompress?: string; extract?: string } = {};
  const extractor = execa(o.extractor, ['-x', '-C', o.extractDir], {
    env: childEnv(),
    extendEnv: false,
    stdin: 'pipe',
    stdout: 'ignore',
    reject: false,
    cancelSignal: o.signal,
    forceKillAfterDelay: 5_000,
  });
  const into = drainingInto(extractor.stdin!);
  const feeding = feed(o.compression, source, into, o.signal, errors);
  const [ex] = await Promise.all([extractor, feeding]);
  if (ex.exitCode !== 0) errors.extract = errorLines(String(ex.stderr)) || `exited with code ${ex.exitCode}`;

  // The first real cause wins: a refused or failed download, then damage seen by decompression, then
  // by extraction. The stream is read to its end even when the extractor stops early, so the download
  // and the decompression judge all of it: a flipped byte of a compressed stream is the decompression's
  // to name, though the extractor may meet its garbage first.
  if (errors.download && !isBrokenPipe(errors.download)) {
    if (errors.download instanceof ApplicationFailure || errors.download instanceof StreamDamaged)
      throw errors.download;
    throw new StreamDamaged('download', describeError(errors.download));
  }
  if (errors.decompress && !/broken pipe|EPIPE/i.test(errors.decompress))
    throw new StreamDamaged('decompress', errors.decompress);
  if (errors.extract) throw new StreamDamaged('extract', `${o.extractor}: ${errors.extract}`);
  if (errors.decompress) throw new StreamDamaged('decompress', errors.decompress);
  if (errors.download) throw new StreamDamaged('download', describeError(errors.download));
  return { resumedAt };
}

/**
 * A sink that feeds the extractor's stdin while it reads, and discards the rest once it has exited
 * (its own exit code says why), so the stages before it still see the whole stream.
 */
function drainingInto(stdin: Writable): Writable {
  let gone = false;
  stdin.on('error', () => (gone = true));
  stdin.on('close', () => (gone = true));
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      if (gone) return done();
      stdin.write(chunk, () => done());
    },
    final(done) {
      if (gone) return done();
      stdin.end(() => done());
    },
  });
}

/** Pipes the stream through its decompression into the extractor, noting each stage's error. */
async function feed(
  compression: BackupCompression,
  source: Readable,
  into: Writable,
  signal: AbortSignal | undefined,
  errors: { download?: unknown; decompress?: string },
): Promise<void> {
  source.on('error', (e) => (errors.download ??= e));
  if (compression === 'none') {
    await pipeline(source, into).catch((e: unknown) => (errors.download ??= e));
    return;
  }
  if (compression === 'gzip') {
    const gunzip = createGunzip();
    gunzip.on('error', (e) => (errors.decompress ??= `gzip: ${e.message}`));
    await pipeline(source, gunzip, into).catch((e: unknown) => {
      if (!errors.decompress) errors.download ??= e;
    });
    return;
  }
  // zstd as its own process (its CLI is what wrote the stream; it checks the frame checksum).
  const zstd = execa('zstd', ['-d', '-c', '-q'], {
    env: childEnv(),
    extendEnv: false,
    stdin: 'pipe',
    stdout: 'pipe',
    buffer: { stdout: false, stderr: true },
    reject: false,
    cancelSignal: signal,
    forceKillAfterDelay: 5_000,
  });
  const [, , z] = await Promise.all([
    pipeline(source, zstd.stdin!).catch((e: unknown) => (errors.download ??= e)),
    pipeline(zstd.stdout!, into).catch(() => {}),
    zstd,
  ]);
  if (z.exitCode !== 0) errors.decompress = `zstd: ${errorLines(String(z.stderr)) || `exit ${z.exitCode}`}`;
}

/** Bytes of an earlier attempt's download on disk (a part longer than the object is not this object's). */
async function partBytes(o: ExtractRequest): Promise<number> {
  const part = `${o.kept}.part`;
  const size = await stat(part).then(
    (s) => s.size,
    () => 0,
  );
  if (size > o.obj.size) {
    await rm(part, { force: true });
    return 0;
  }
  return size;
}

/** The complete stream kept on disk. */
async function* fromDisk(o: ExtractRequest): AsyncGenerator<Buffer> {
  for await (const chunk of createReadStream(o.kept) as AsyncIterable<Buffer>) {
    o.counters.done += chunk.length;
    yield chunk;
  }
}

/**
 * The bytes already on disk, then the rest from the catalog, appended to the part file as they pass.
 * At the end the part must be exactly the object's size and, when the ETag is a plain MD5 (a single-
 * part upload), hash to it: then it becomes the kept stream.
 */
async function* downloading(o: ExtractRequest, from: number): AsyncGenerator<Buffer> {
  const part = `${o.kept}.part`;
  const md5 = createHash('md5');
  if (from > 0)
    for await (const chunk of createReadStream(part, { end: from - 1 }) as AsyncIterable<Buffer>) {
      md5.update(chunk);
      o.counters.done += chunk.length;
      yield chunk;
    }
  const fh = await open(part, 'a', 0o600);
  let written = from;
  try {
    if (from < o.obj.size)
      for await (const chunk of (await o.obj.read(from)) as AsyncIterable<Buffer>) {
        await fh.write(chunk);
        written += chunk.length;
        md5.update(chunk);
        o.counters.fetched += chunk.length;
        o.counters.done += chunk.length;
        yield chunk;
      }
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (written !== o.obj.size)
    throw new StreamDamaged('download', `${o.obj.location}: got ${written} bytes of ${o.obj.size}`);
  const plainMd5 = /^"?([0-9a-f]{32})"?$/i.exec(o.obj.etag)?.[1];
  if (plainMd5 && md5.digest('hex') !== plainMd5.toLowerCase()) {
    await rm(part, { force: true }); // ours, and not the object: never resumed from
    throw new StreamDamaged(
      'download',
      `${o.obj.location}: the ${written} bytes fetched do not hash to the object's ETag ${o.obj.etag} (changed in transit or on the store); the partial copy was removed`,
    );
  }
  await renameDurably(part, o.kept);
  await o.onDownloaded({ resumedAt: from, fetched: o.counters.fetched });
}

const isBrokenPipe = (e: unknown) =>
  (e as NodeJS.ErrnoException | undefined)?.code === 'EPIPE' ||
  (e as NodeJS.ErrnoException | undefined)?.code === 'ERR_STREAM_PREMATURE_CLOSE' ||
  (e as NodeJS.ErrnoException | undefined)?.code === 'ERR_STREAM_DESTROYED';

const describeError = (e: unknown) => (e instanceof Error ? e.message : String(e));
