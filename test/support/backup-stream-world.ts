// A real streamed base backup in a real S3 store, for the fetch-backup tests: a MariaDB source with the
// shop tables and an incompressible filler (so a download takes long enough to be cut), a
// `mariadb-backup --backup --stream=xbstream` taken while it is idle (its tables at that moment are the
// ground truth), uploaded plain, `| zstd` and `| gzip` to SeaweedFS, plus what a catalog says of each.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import type { BackupCatalogLocation, BackupCompression, BackupEntry } from '../../workflows/backup-catalog';
import type { TableFingerprint } from '../../workflows/schemas';
import { SqlPools } from '../../activities/mysql/sql';
import { fingerprintTables } from '../../activities/mysql/verify';
import { startMariadbServer, type MariadbServer } from '../../scripts/lib/mariadb-server';
import { createShop, runWorkload } from '../../scripts/lib/scenario';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { startSeaweedS3, type SeaweedS3 } from './seaweedfs';
import { takeStreamBackup } from './stream-backup';

export interface StreamWorld {
  base: string;
  s3: SeaweedS3;
  raw: S3Client;
  source: MariadbServer;
  /** The source's tables at the backup point. */
  truth: Record<string, TableFingerprint>;
  /** The plain stream on local disk (tests damage copies of it). */
  streamFile: string;
  binlog: BackupEntry['binlog'];
  location: BackupCatalogLocation;
  /** Uploads `file` as `name` and returns the catalog's entry for it. */
  upload(name: string, file: string, compression: BackupCompression): Promise<BackupEntry>;
  entries: Record<BackupCompression, BackupEntry>;
  cleanup(): Promise<void>;
}

export const S3_KEY_ENV = 'BACKUP_TEST_S3_KEY';
export const S3_SECRET_ENV = 'BACKUP_TEST_S3_SECRET';

export async function streamWorld(fillerMb = 16): Promise<StreamWorld> {
  const base = await mkdtemp(join(tmpdir(), 'backup-stream-'));
  const s3 = await startSeaweedS3({ bucket: 'backups', volumes: 80 });
  process.env[S3_KEY_ENV] = s3.accessKeyId;
  process.env[S3_SECRET_ENV] = s3.secretAccessKey;
  const raw = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  const source = await startMariadbServer({ baseDir: join(base, 'source'), serverId: 1 });
  await createShop(source);
  await runWorkload(source, 1, 800);
  await source.query('CREATE TABLE shop.filler (id INT PRIMARY KEY, b VARBINARY(1024)) ENGINE=InnoDB');
  await source.query(
    `INSERT INTO shop.filler SELECT seq, RANDOM_BYTES(1024) FROM shop.seq_1_to_${fillerMb * 1000}`,
  );
  await runWorkload(source, 2, 200);
  const sql = new SqlPools();
  const endpoint = { socket: source.socket, user: 'root' };
  const truth = await fingerprintTables(sql, endpoint, ['shop']);

  const streamFile = join(base, 'full.xbstream');
  await takeStreamBackup(source.socket, streamFile, 'none', join(base, 'backup-tmp'));
  const after = await fingerprintTables(sql, endpoint, ['shop']);
  await sql.closeAll();
  if (JSON.stringify(after) !== JSON.stringify(truth))
    throw new Error('the source changed during the backup');
  // The coordinates as the catalog reads them from the stream's own xtrabackup_binlog_info.
  const peek = join(base, 'peek');
  await mkdir(peek);
  await execa('mbstream', ['-x', '-C', peek], { inputFile: streamFile });
  const [file, position, gtid] = (await readFile(join(peek, 'xtrabackup_binlog_info'), 'utf8'))
    .trim()
    .split(/\s+/);
  const binlog = { file: file!, position: Number(position), gtid: gtid ?? '' };

  await compress(['zstd', '-q', '-c', '-3'], streamFile, `${streamFile}.zst`);
  await compress(['gzip', '-c', '-1'], streamFile, `${streamFile}.gz`);
  const location: BackupCatalogLocation = {
    kind: 's3',
    bucket: s3.bucket,
    prefix: 'shop/base',
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    accessKeyId: { env: S3_KEY_ENV },
    secretAccessKey: { env: S3_SECRET_ENV },
  };
  const upload = async (name: string, path: string, compression: BackupCompression) => {
    const { size } = await stat(path);
    const Key = `shop/base/${name}`;
    await raw.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key, Body: createReadStream(path), ContentLength: size }),
    );
    const head = await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key }));
    return {
      name,
      id: `${name}@${head.ETag}`,
      form: 'xbstream',
      compression,
      bytes: size,
      finishedAt: null,
      binlog,
      tool: 'mariadb-backup',
    } satisfies BackupEntry;
  };
  const entries = {
    none: await upload('full.xbstream', streamFile, 'none'),
    zstd: await upload('full.xbstream.zst', `${streamFile}.zst`, 'zstd'),
    gzip: await upload('full.xbstream.gz', `${streamFile}.gz`, 'gzip'),
  };
  return {
    base,
    s3,
    raw,
    source,
    truth,
    streamFile,
    binlog,
    location,
    upload,
    entries,
    async cleanup() {
      raw.destroy();
      await source.stop().catch(() => {});
      await s3.stop();
      await removeTestDir(base);
    },
  };
}

async function compress(argv: string[], from: string, to: string): Promise<void> {
  const p = execa(argv[0]!, argv.slice(1), { inputFile: from, stdout: 'pipe', buffer: false });
  await Promise.all([pipeline(p.stdout!, createWriteStream(to)), p]);
}

/** Restores a prepared directory into a fresh server and reads its tables. */
export async function tablesOfPrepared(
  prepared: string,
  baseDir: string,
): Promise<Record<string, TableFingerprint>> {
  const { MariadbServer } = await import('../../scripts/lib/mariadb-server');
  const server = new MariadbServer({ baseDir, serverId: 7 });
  await execa('mariadb-backup', [
    '--no-defaults',
    '--copy-back',
    `--target-dir=${prepared}`,
    `--datadir=${server.datadir}`,
  ]);
  await server.start();
  const sql = new SqlPools();
  try {
    return await fingerprintTables(sql, { socket: server.socket, user: 'root' }, ['shop']);
  } finally {
    await sql.closeAll();
    await server.stop();
  }
}
