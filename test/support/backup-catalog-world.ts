// A MariaDB source taking writes, with a real archiver, and a backup catalog of real mariadb-backup
// backups taken between the writes: prepared directories, xbstream streams (plain, `| zstd`,
// `| gzip`), one unprepared directory, and one taken just after a binlog rotation. Ground truth is recorded as each backup is taken: the
// source's binlog position and GTID state at that moment (nothing writes while a backup runs).
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { takeStreamBackup } from './stream-backup';
import {
  createShop,
  gtidPos,
  runWorkload,
  secondBoundary,
  startSource,
  type Source,
} from '../../scripts/lib/scenario';
import type { MariadbServer } from '../../scripts/lib/mariadb-server';

export interface TakenBackup {
  name: string;
  form: 'prepared-dir' | 'xbstream';
  compression: 'none' | 'zstd' | 'gzip';
  prepared: boolean;
  /** Recorded on the source as the backup was taken. */
  file: string;
  position: number;
  gtid: string;
  /** A second boundary before the backup (after the writes it holds) and one after it. */
  before: string;
  after: string;
}

export interface CatalogWorld {
  base: string;
  source: Source;
  catalogDir: string;
  backups: TakenBackup[];
  /** GTIDs recorded between backups: `between[i]` is the last GTID written after backups[i] (before backups[i+1]). */
  between: string[];
  /** A second boundary just after `between[i]`: more writes follow it before backups[i+1]. */
  mid: string[];
  /** A GTID written before the first backup (older than every backup), and a time after it with writes following. */
  beforeAll: string;
  beforeAllTime: string;
  cleanup(): Promise<void>;
}

const backupArgs = (s: MariadbServer) => ['--no-defaults', '--backup', `--socket=${s.socket}`, '--user=root'];

async function masterStatus(s: MariadbServer): Promise<{ file: string; position: number }> {
  const [row] = await s.query<{ File: string; Position: number }[]>('SHOW MASTER STATUS');
  return { file: row!.File, position: Number(row!.Position) };
}

/** FLUSH BINARY LOGS, then until the server has appended the new file's Binlog_checkpoint event (a moment later). */
async function rotate(s: MariadbServer): Promise<void> {
  await s.query('FLUSH BINARY LOGS');
  const { file } = await masterStatus(s);
  for (let i = 0; i < 300; i++) {
    const events = await s.query<{ Event_type: string; Info: string }[]>(`SHOW BINLOG EVENTS IN '${file}'`);
    // The first checkpoint may still name the previous file; the one naming this file comes last.
    if (events.some((e) => e.Event_type === 'Binlog_checkpoint' && e.Info.includes(file))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no Binlog_checkpoint in ${file} after FLUSH BINARY LOGS`);
}

export async function buildCatalogWorld(): Promise<CatalogWorld> {
  const base = await mkdtemp(join(tmpdir(), 'bkcat-'));
  const source = await startSource(base);
  const s = source.server;
  const catalogDir = join(base, 'backups');
  await mkdir(catalogDir);
  await createShop(s);
  await runWorkload(s, 1, 300);
  const beforeAll = await gtidPos(s);
  const beforeAllTime = await secondBoundary();
  await runWorkload(s, 2, 300);
  await rotate(s);
  await runWorkload(s, 3, 200);
  const plan: Pick<TakenBackup, 'name' | 'form' | 'compression' | 'prepared'>[] = [
    { name: 'full-1', form: 'prepared-dir', compression: 'none', prepared: true },
    { name: 'full-2.xbstream', form: 'xbstream', compression: 'none', prepared: false },
    { name: 'full-3.xbstream.zst', form: 'xbstream', compression: 'zstd', prepared: false },
    { name: 'full-4.xbstream.gz', form: 'xbstream', compression: 'gzip', prepared: false },
    { name: 'raw-5', form: 'prepared-dir', compression: 'none', prepared: false },
    // Taken right after a binlog rotation: its own binlog file holds no transaction before its position.
    { name: 'full-6', form: 'prepared-dir', compression: 'none', prepared: true },
  ];
  const backups: TakenBackup[] = [];
  const between: string[] = [];
  const mid: string[] = [];
  for (const [i, p] of plan.entries()) {
    if (p.name === 'full-6') await rotate(s);
    const before = await secondBoundary();
    const { file, position } = await masterStatus(s);
    const gtid = await gtidPos(s);
    const path = join(catalogDir, p.name);
    if (p.form === 'xbstream') await takeStreamBackup(s.socket, path, p.compression, join(base, `tmp-${i}`));
    else {
      await execa('mariadb-backup', [...backupArgs(s), `--target-dir=${path}`]);
      if (p.prepared) await execa('mariadb-backup', ['--no-defaults', '--prepare', `--target-dir=${path}`]);
    }
    const after = await secondBoundary();
    backups.push({ ...p, file, position, gtid, before, after });
    await runWorkload(s, 10 + i, 200);
    if (i === 1) await rotate(s);
    between.push(await gtidPos(s));
    mid.push(await secondBoundary());
    await runWorkload(s, 20 + i, 100);
  }
  await source.archiver.waitCaughtUp();
  await source.archiver.sync();
  await source.archiver.stop();
  return {
    base,
    source,
    catalogDir,
    backups,
    between,
    mid,
    beforeAll,
    beforeAllTime,
    async cleanup() {
      await source.sql.closeAll();
      await source.server.stop().catch(() => {});
      await removeTestDir(base);
    },
  };
}
