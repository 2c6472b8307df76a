// A cluster's backup catalog (fleet catalog `backup.catalog`): every backup it holds, with the
// coordinates read from the backup's own metadata. A directory holds prepared backup directories and
// xbstream files (`*.xbstream`, `*.xbstream.zst`, `*.xbstream.gz`); an S3 prefix holds stream objects.
// A stream's metadata comes last in it, so reading it means reading the whole stream once: the result
// is cached in an index in this host's state directory, keyed by name, size and mtime (files) or
// ETag (objects), and read again only when the backup changes — as the binlog archive's index does.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { BackupCatalogLocation, BackupCompression, BackupEntry } from '../../workflows/backup-catalog';
import { failure } from '../../workflows/failures';
import { openArchive } from '../archive/archives';
import { S3Archive } from '../archive/archive-s3';
import { writeFileDurably } from '../runtime/durable-file';
import { ensureStateDir } from '../runtime/state-dir';
import { dirBytes } from '../percona/room';
import { readDirMetadata, readStreamMetadata, type BackupMetadata } from './backup-metadata';

/** One backup as listed: its entry when usable, else why not. */
export interface ListedBackup extends Omit<BackupEntry, 'binlog'> {
  binlog: BackupEntry['binlog'] | null;
  /** Why it cannot start a recovery (unprepared, damaged, no binlog position); null when usable. */
  problem: string | null;
  /** Bytes the extracted backup occupies (a stream's payload), when known. */
  dataBytes?: number;
}

export interface BackupCatalogListing {
  location: string;
  backups: ListedBackup[];
}

const STREAM = /\.xbstream(\.zst|\.gz)?$/;
const INDEX_VERSION = 1;

export function compressionOf(name: string): BackupCompression {
  const m = STREAM.exec(name);
  return m?.[1] === '.zst' ? 'zstd' : m?.[1] === '.gz' ? 'gzip' : 'none';
}

/** The usable backup as the plan takes it (null when it is not usable). */
export function entryOf(b: ListedBackup): BackupEntry | null {
  if (b.problem || !b.binlog) return null;
  const { problem: _p, dataBytes: _d, ...rest } = b;
  return { ...rest, binlog: b.binlog };
}

interface CachedStream {
  id: string;
  meta: BackupMetadata;
}
interface CatalogIndex {
  version: number;
  location: string;
  streams: Record<string, CachedStream>;
}

/** Where this host keeps the index of a catalog (the catalog itself is not written). */
async function indexPath(location: string): Promise<string> {
  const dir = await ensureStateDir('backup-catalogs');
  return join(dir, `${createHash('sha256').update(location).digest('hex').slice(0, 24)}.json`);
}

async function readCatalogIndex(path: string, location: string): Promise<CatalogIndex> {
  const empty = { version: INDEX_VERSION, location, streams: {} };
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return empty;
  try {
    const parsed = JSON.parse(text) as CatalogIndex;
    // Not ours or of another version: rebuilt (it is only a cache of what the backups say).
    return parsed.version === INDEX_VERSION && parsed.location === location && parsed.streams
      ? parsed
      : empty;
  } catch {
    return empty;
  }
}

/** Storage of a catalog: what it holds, and a stream's bytes. */
interface CatalogStore {
  location: string;
  list(): Promise<{ name: string; form: 'prepared-dir' | 'xbstream'; bytes: number; version: string }[]>;
  open(name: string): Promise<Readable>;
  dirMetadata(name: string): Promise<BackupMetadata>;
}

function fsStore(dir: string): CatalogStore {
  return {
    location: dir,
    async list() {
      const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
        throw failure(
          err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'EACCES'
            ? 'InvalidInput'
            : 'Transient',
          `backup catalog ${dir} cannot be read: ${err.code ?? String(err)}`,
        );
      });
      const out = [];
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const path = join(dir, e.name);
        if (e.isDirectory()) {
          const st = await stat(path);
          out.push({
            name: e.name,
            form: 'prepared-dir' as const,
            bytes: await dirBytes(path),
            version: `${st.mtimeMs}`,
          });
        } else if (e.isFile() && STREAM.test(e.name)) {
          const st = await stat(path);
          out.push({
            name: e.name,
            form: 'xbstream' as const,
            bytes: st.size,
            version: `${st.size}:${st.mtimeMs}`,
          });
        }
      }
      return out;
    },
    open: async (name) => createReadStream(join(dir, name)),
    dirMetadata: (name) => readDirMetadata(join(dir, name)),
  };
}

async function s3Store(loc: Extract<BackupCatalogLocation, { kind: 's3' }>): Promise<CatalogStore> {
  const archive = await openArchive(loc);
  if (!(archive instanceof S3Archive)) throw failure('RunbookBug', 'an s3 catalog did not open as S3');
  return {
    location: archive.location,
    async list() {
      const objects = await archive.listObjects((n) => STREAM.test(n));
      return objects.map((o) => ({
        name: o.name,
        form: 'xbstream' as const,
        bytes: o.size,
        version: `${o.size}:${o.etag}`,
      }));
    },
    open: (name) => archive.openFile(name),
    dirMetadata: () => Promise.reject(failure('RunbookBug', 'an S3 catalog holds no directories')),
  };
}

/**
 * Lists a catalog: every backup with its coordinates, usable or why not, newest first (by finish
 * time, then binlog position). Streams not seen before (or changed) are read once; `onRead` is told.
 */
export async function listBackupCatalog(
  loc: BackupCatalogLocation,
  o: { onRead?: (name: string) => void } = {},
): Promise<BackupCatalogListing> {
  const store = loc.kind === 'fs' ? fsStore(loc.dir) : await s3Store(loc);
  const path = await indexPath(store.location);
  const index = await readCatalogIndex(path, store.location);
  const next: CatalogIndex = { version: INDEX_VERSION, location: store.location, streams: {} };
  let changed = false;
  const backups: ListedBackup[] = [];
  for (const item of await store.list()) {
    const id = `${item.name}@${item.version}`;
    let meta: BackupMetadata;
    if (item.form === 'prepared-dir') meta = await store.dirMetadata(item.name);
    else {
      const cached = index.streams[item.name];
      if (cached?.id === id) meta = cached.meta;
      else {
        o.onRead?.(item.name);
        meta = await readStreamMetadata(await store.open(item.name), compressionOf(item.name));
        changed = true;
      }
      next.streams[item.name] = { id, meta };
    }
    backups.push({
      name: item.name,
      id,
      form: item.form,
      compression: item.form === 'xbstream' ? compressionOf(item.name) : 'none',
      bytes: item.bytes,
      finishedAt: meta.finishedAt,
      binlog: meta.binlog,
      tool: meta.tool,
      problem: meta.problem,
      ...(meta.dataBytes !== undefined ? { dataBytes: meta.dataBytes } : {}),
    });
  }
  if (changed || Object.keys(index.streams).length !== Object.keys(next.streams).length)
    await writeFileDurably(path, JSON.stringify(next));
  return { location: store.location, backups: backups.sort(newestFirst) };
}

const seq = (file: string) => Number(/\.(\d+)$/.exec(file)?.[1] ?? -1);

/** Newest first: by finish time, then by binlog file and position; unknown ones last. */
export function newestFirst(a: ListedBackup, b: ListedBackup): number {
  const t = (x: ListedBackup) => (x.finishedAt ? Date.parse(x.finishedAt) : -Infinity);
  if (t(a) !== t(b)) return t(b) - t(a);
  const pa = a.binlog ? [seq(a.binlog.file), a.binlog.position] : [-1, -1];
  const pb = b.binlog ? [seq(b.binlog.file), b.binlog.position] : [-1, -1];
  return pb[0]! - pa[0]! || pb[1]! - pa[1]! || a.name.localeCompare(b.name);
}
