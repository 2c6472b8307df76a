// Reading an archived binlog once: its bytes arrive as a stream of chunks that the caller verifies as
// they pass; for a remote archive the same bytes are written to the staging directory on the way, so
// what is verified is exactly what the replay will later read. A read that is abandoned (damage
// found, or the caller stopped early) leaves no staged file behind.
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ArchivedFile, BinlogArchive } from './archive';
import { ensureStaging } from '../runtime/state-dir';

export interface ArchiveRead {
  chunks: AsyncIterable<Buffer>;
  /** Where the bytes are on this host once they have been read through (null until then for a download). */
  path(): string | null;
}

/** Reads one archived file (described by the index) as a stream of chunks. */
export type ReadArchived = (f: Pick<ArchivedFile, 'name' | 'size'>) => Promise<ArchiveRead>;

const CHUNK = 1 << 20;

function fromDisk(path: string): ArchiveRead {
  return { chunks: createReadStream(path, { highWaterMark: CHUNK }), path: () => path };
}

/** Yields the source's chunks while writing them to `dest` (via dest.part, renamed once complete). */
async function* stagedWhileRead(source: Readable, dest: string, done: (p: string) => void) {
  const part = `${dest}.part`;
  const fh = await open(part, 'w', 0o600);
  let complete = false;
  try {
    for await (const chunk of source) {
      await fh.write(chunk as Buffer);
      yield chunk as Buffer;
    }
    complete = true;
  } finally {
    source.destroy();
    await fh.close();
    if (complete) {
      await rename(part, dest);
      done(dest);
    } else await rm(part, { force: true });
  }
}

/**
 * The reader for an archive: a filesystem archive is read in place; a remote one from its staged copy
 * when that copy has the indexed size (it is verified again as it is read), else downloaded into
 * `stagingDir` while it is read.
 */
export function archiveReader(archive: BinlogArchive, stagingDir: string): ReadArchived {
  return async (f) => {
    const direct = archive.localPath(f.name);
    if (direct) return fromDisk(direct);
    const dest = join(stagingDir, f.name);
    const have = await stat(dest).catch(() => null);
    if (have && have.size >= f.size) return fromDisk(dest);
    await ensureStaging(stagingDir);
    let staged: string | null = null;
    const chunks = stagedWhileRead(await archive.openFile(f.name), dest, (p) => (staged = p));
    return { chunks, path: () => staged };
  };
}
