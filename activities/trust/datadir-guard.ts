// A datadir is a directory a recovery may move aside and fill: never a system directory, and never
// one that contains or lies inside what the recovery reads or keeps (the backup, the archive, the
// staging, the state directory). Compared on real paths (symlinks, `..`, `/./` and `//` resolved),
// so no spelling gets around it.
import { realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { failure } from '../../workflows/failures';

/** Never a datadir, nor anything inside them. */
const SYSTEM_TREES = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/proc',
  '/run',
  '/sbin',
  '/sys',
  '/usr',
];
/** Never a datadir themselves (their subdirectories may be). */
const SYSTEM_DIRS = [
  '/',
  '/home',
  '/media',
  '/mnt',
  '/opt',
  '/root',
  '/srv',
  '/tmp',
  '/var',
  '/var/lib',
  '/var/log',
];

/** The real path of `p`, resolving the part that exists (what does not exist yet is appended as is). */
export async function realPathOf(p: string): Promise<string> {
  const abs = resolve(p);
  const tail: string[] = [];
  let at = abs;
  for (;;) {
    const real = await realpath(at).catch(() => null);
    if (real) return tail.length ? join(real, ...tail.reverse()) : real;
    const up = dirname(at);
    if (up === at) return abs;
    tail.push(basename(at));
    at = up;
  }
}

const inside = (p: string, dir: string) => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}${sep}`);

/** Refuses a datadir that is a system directory or overlaps one of `others`; returns its real path. */
export async function checkDatadir(
  datadir: string,
  others: { what: string; path: string | undefined }[],
): Promise<string> {
  const real = await realPathOf(datadir);
  const said = real === resolve(datadir) ? datadir : `${datadir} (really ${real})`;
  if (SYSTEM_DIRS.includes(real) || SYSTEM_TREES.some((t) => inside(real, t)))
    throw failure(
      'UnsafeDatadir',
      `refusing ${said} as a datadir: it is a system directory. Name the directory of the server's data; nothing was touched`,
    );
  for (const o of others) {
    if (!o.path) continue;
    const other = await realPathOf(o.path);
    if (inside(real, other) || inside(other, real))
      throw failure(
        'UnsafeDatadir',
        `refusing ${said} as a datadir: it overlaps ${o.what} ${o.path}${other === resolve(o.path) ? '' : ` (really ${other})`}, which the recovery reads or keeps; nothing was touched`,
      );
  }
  return real;
}
