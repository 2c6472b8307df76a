// Keeps an archive's index current: every stored binlog file described once (GTID range, times,
// size, checksum). Files already indexed with the same size are not read again.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { binlogSequence, type ArchiveIndex, type ArchivedFile, type BinlogArchive } from './archive';
import { scanBinlog } from './binlog-scan';
import { ensureStaging } from '../runtime/state-dir';

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A local path for an archived file: the file itself (filesystem archive) or a verified copy in `stagingDir`. */
export async function localCopy(
  archive: BinlogArchive,
  name: string,
  stagingDir: string,
  expected?: { size: number; sha256: string },
): Promise<string> {
  const direct = archive.localPath(name);
  if (direct) return direct;
  await ensureStaging(stagingDir);
  const dest = join(stagingDir, name);
  const have = await stat(dest).catch(() => null);
  if (
    !have ||
    (expected && have.size !== expected.size) ||
    (expected && (await sha256File(dest)) !== expected.sha256)
  ) {
    await archive.fetchFile(name, dest);
  }
  return dest;
}

/**
 * Describes one local binlog file the way the index stores it, in one read. Damage is not judged here
 * (a damaged file outside every replay window must not stop indexing): the plan verifies each event
 * of the files it will replay.
 */
export async function describeFile(name: string, path: string): Promise<ArchivedFile> {
  const s = await scanBinlog(path, undefined, { verify: false, sha256: true });
  return {
    name,
    size: s.size,
    sha256: s.sha256!,
    gtidsBefore: s.gtidsBefore,
    firstGtid: s.firstGtid,
    lastGtid: s.lastGtid,
    firstEventTime: s.firstEventTime,
    lastEventTime: s.lastEventTime,
    transactions: s.transactions,
    complete: s.closed,
  };
}

export function sortIndex(files: ArchivedFile[]): ArchivedFile[] {
  return [...files].sort(
    (a, b) => binlogSequence(a.name) - binlogSequence(b.name) || a.name.localeCompare(b.name),
  );
}

/**
 * Brings the index up to date with what the archive stores; returns it (and saves it when it changed).
 * `alreadyLocal` names a file's local copy when the caller holds one (the archiver's spool, which it
 * has just pushed): no download, and no staging directory needed for it, while it has the size stored.
 */
export async function refreshIndex(
  archive: BinlogArchive,
  stagingDir: string,
  alreadyLocal?: (name: string) => string | undefined,
): Promise<ArchiveIndex> {
  const [stored, index] = await Promise.all([archive.listFiles(), archive.readIndex()]);
  const known = new Map(index.files.map((f) => [f.name, f]));
  let changed = stored.length !== index.files.length;
  const files: ArchivedFile[] = [];
  for (const { name, size } of stored) {
    const k = known.get(name);
    // A complete file never changes: one whose size did is damaged or replaced, not grown. Keep what
    // was indexed, so the plan that reads it refuses it as changed after indexing.
    if (k && k.complete) {
      files.push(k);
      continue;
    }
    if (k && k.size === size) {
      files.push(k); // unchanged since last look; may still grow
      continue;
    }
    changed = true;
    // The archive's own file when it has one; else the caller's copy if it still has the stored size
    // (a spool file may have grown since it was pushed); else a download.
    const local = archive.localPath(name) ? undefined : alreadyLocal?.(name);
    const sameSize = local && (await stat(local).catch(() => null))?.size === size;
    const path = sameSize ? local : await localCopy(archive, name, stagingDir);
    files.push(await describeFile(name, path));
  }
  const out: ArchiveIndex = { version: 1, files: sortIndex(files) };
  if (changed) await archive.writeIndex(out);
  return out;
}
