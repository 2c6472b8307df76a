// Filesystem archive (the embedded default): binlog files and the index in one directory.
import { createReadStream, statSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { copyFileDurably, writeFileDurably } from '../runtime/durable-file';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BINLOG_NAME, INDEX_NAME, emptyIndex, type ArchiveIndex, type BinlogArchive } from './archive';
import { failure } from '../../workflows/failures';

const STAT_SLICE = 5_000;

export class FsArchive implements BinlogArchive {
  constructor(readonly dir: string) {}

  get location(): string {
    return this.dir;
  }

  async listFiles(): Promise<{ name: string; size: number }[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Missing or forbidden is the catalog's to fix; anything else (EIO, EMFILE) may pass.
      throw failure(
        code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' ? 'ArchiveMisconfigured' : 'Transient',
        `archive ${this.dir} cannot be read: ${code ?? String(err)}`,
      );
    }
    // Synchronous stats in slices: 100,000 async stats cost seconds of thread-pool round trips (more
    // on a busy host), a sync stat microseconds; yielding between slices lets heartbeats go on.
    const binlogs = names.filter((n) => BINLOG_NAME.test(n)).sort();
    const out: { name: string; size: number }[] = [];
    for (let i = 0; i < binlogs.length; i += STAT_SLICE) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      for (const name of binlogs.slice(i, i + STAT_SLICE))
        out.push({ name, size: statSync(join(this.dir, name)).size });
    }
    return out;
  }

  async readIndex(): Promise<ArchiveIndex> {
    try {
      return JSON.parse(await readFile(join(this.dir, INDEX_NAME), 'utf8')) as ArchiveIndex;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyIndex();
      throw failure(
        'ArchiveDamaged',
        `archive index ${join(this.dir, INDEX_NAME)} is unreadable: ${String(err)}`,
      );
    }
  }

  async writeIndex(index: ArchiveIndex): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileDurably(join(this.dir, INDEX_NAME), JSON.stringify(index));
  }

  async putFile(name: string, localPath: string): Promise<void> {
    const target = join(this.dir, name);
    if (target === localPath) return;
    await mkdir(this.dir, { recursive: true });
    await copyFileDurably(localPath, target);
  }

  async fetchFile(name: string, destPath: string): Promise<void> {
    await copyFile(join(this.dir, name), `${destPath}.part`);
    await rename(`${destPath}.part`, destPath);
  }

  async openFile(name: string): Promise<Readable> {
    return createReadStream(join(this.dir, name));
  }

  localPath(name: string): string {
    return join(this.dir, name);
  }
}
