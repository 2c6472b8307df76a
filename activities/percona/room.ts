// Room on disk, checked by a plan before anything is touched: a restore that keeps the old datadir
// (moved aside on the same filesystem) needs the whole backup again beside it, plus what the replay
// writes (the restored server's own binlog and the data's growth). Needs on one filesystem add up.
import { lstat, readdir, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { failure } from '../../workflows/failures';

export interface RoomNeed {
  /** A path that will be written (it may not exist yet: its nearest existing parent is measured). */
  path: string;
  parts: { what: string; bytes: number }[];
}

const MARGIN = 0.1;
const SLACK = 64 * 1024 * 1024;

export const human = (n: number) =>
  n >= 2 ** 30
    ? `${(n / 2 ** 30).toFixed(1)} GiB`
    : n >= 2 ** 20
      ? `${(n / 2 ** 20).toFixed(1)} MiB`
      : `${Math.ceil(n / 1024)} KiB`;

/** Sum of the sizes of the files under `dir` (symlinks not followed). */
export async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else if (e.isFile()) total += (await lstat(p)).size;
  }
  return total;
}

/** The nearest existing directory at or above `path`, with its filesystem's device and free bytes. */
async function filesystemOf(path: string): Promise<{ at: string; dev: number; free: number }> {
  let at = path;
  for (;;) {
    const st = await lstat(at).catch(() => null);
    if (st) {
      const fs = await statfs(at);
      return { at, dev: st.dev, free: fs.bavail * fs.bsize };
    }
    const up = dirname(at);
    if (up === at) throw failure('UnsafeDatadir', `no existing directory above ${path}`);
    at = up;
  }
}

/** What the needs take on each filesystem, against what it has free: the refusal, or evidence. */
export async function checkRoom(needs: RoomNeed[]): Promise<{ refusal: string | null; evidence: string[] }> {
  const byFs = new Map<number, { at: string; free: number; paths: string[]; parts: RoomNeed['parts'] }>();
  for (const n of needs) {
    const fs = await filesystemOf(n.path);
    const entry = byFs.get(fs.dev) ?? { at: fs.at, free: fs.free, paths: [], parts: [] };
    entry.paths.push(n.path);
    entry.parts.push(...n.parts);
    byFs.set(fs.dev, entry);
  }
  const evidence: string[] = [];
  for (const fs of byFs.values()) {
    const sum = fs.parts.reduce((t, p) => t + p.bytes, 0);
    const need = Math.ceil(sum * (1 + MARGIN)) + SLACK;
    const said = `${human(need)} needed on the filesystem of ${fs.paths.join(' and ')} (${fs.parts.map((p) => `${p.what} ${human(p.bytes)}`).join(', ')}, and a ${MARGIN * 100}% margin), ${human(fs.free)} free`;
    if (need > fs.free)
      return {
        refusal: `not enough room: ${said}. The old datadir is kept, never deleted, so the restore needs room beside it: free space there or restore to a datadir on a larger filesystem; nothing was touched`,
        evidence,
      };
    evidence.push(`room: ${said}`);
  }
  return { refusal: null, evidence };
}
