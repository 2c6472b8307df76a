// A Vitess keyspace for vitessSnapshotRestore's tests and demo: one real MariaDB source per shard (the
// shard's primary and binlog server, with an archiver of its own), real prepared mariadb-backup backups
// with the MANIFEST Vitess writes, in a file backup storage (`<root>/<keyspace>/<shard>/<name>/`), and
// the topology kept by the vtctlclient/vttablet stand-ins (test/fixtures/bin) in a file
// ($VITESS_STANDIN_STATE). Ground truth is read from the sources themselves.
import { execa } from 'execa';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TableFingerprint } from '../../../workflows/schemas';
import { removeTestDir } from '../cleanup';
import { createShop, fingerprint, gtidPos, startSource, takeBackup, type Source } from '../scenario';

export const VTCTLD = 'localhost:15999';
export const VITESS_TOPO = {
  implementation: 'etcd2',
  globalServerAddress: 'localhost:2379',
  globalRoot: '/vitess/global',
} as const;
/** The replication user the recovery reads each shard's binlogs as (vttablet's -binlog_user). */
export const BINLOG_USER = 'vt_repl';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** RFC 3339 to the second, UTC (how Vitess writes backup and snapshot times). */
export const rfc = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

export interface VitessShardWorld {
  name: string;
  source: Source;
  /** Backup directory names, by the role the caller gave them. */
  backups: Record<string, string>;
}

export interface ShardState {
  tables: Record<string, TableFingerprint>;
  gtid: string;
}

export interface VitessWorldOptions {
  /** Where everything lives (sources, backups, restored tablets, the topology file). */
  base: string;
  keyspace: string;
  shards: string[];
  /** The binlog user's password, known to the worker by reference: process.env[binlogPasswordEnv]. */
  binlogPassword: string;
  binlogPasswordEnv: string;
  vschema: Record<string, unknown>;
}

export class VitessWorld {
  readonly backupRoot: string;
  readonly tabletsRoot: string;
  readonly topoFile: string;
  shards: VitessShardWorld[] = [];

  private constructor(readonly o: VitessWorldOptions) {
    this.backupRoot = join(o.base, 'backups');
    this.tabletsRoot = join(o.base, 'vt');
    this.topoFile = join(o.base, 'topo.json');
  }

  get keyspace(): string {
    return this.o.keyspace;
  }

  /** The keyspace with its shards' sources up (each with the shop schema and the binlog user), and its vschema. */
  static async build(o: VitessWorldOptions): Promise<VitessWorld> {
    const w = new VitessWorld(o);
    process.env.VITESS_STANDIN_STATE = w.topoFile;
    process.env[o.binlogPasswordEnv] = o.binlogPassword;
    await mkdir(w.backupRoot, { recursive: true });
    try {
      w.shards = await Promise.all(
        o.shards.map(async (name, i) => {
          const source = await startSource(join(o.base, `source${i + 1}`), { serverId: i + 1 });
          await createShop(source.server);
          await source.server.query(
            `SET SESSION sql_log_bin = 0; CREATE USER '${BINLOG_USER}'@'127.0.0.1' IDENTIFIED BY ?; GRANT REPLICATION SLAVE ON *.* TO '${BINLOG_USER}'@'127.0.0.1'; SET SESSION sql_log_bin = 1`,
            [o.binlogPassword],
          );
          return { name, source, backups: {} };
        }),
      );
      await w.vtctl('CreateKeyspace', o.keyspace);
      await w.vtctl('ApplyVSchema', `-vschema=${JSON.stringify(o.vschema)}`, o.keyspace);
    } catch (err) {
      await w.stop();
      throw err;
    }
    return w;
  }

  vtctl(...args: string[]) {
    return execa('vtctlclient', ['-server', VTCTLD, ...args]);
  }

  /** Runs `f` on every shard at once. */
  each<T>(f: (s: VitessShardWorld, i: number) => Promise<T>): Promise<T[]> {
    return Promise.all(this.shards.map(f));
  }

  /** Each shard's tables and GTID position, read from its source. */
  capture(): Promise<ShardState[]> {
    return this.each(async (s) => ({
      tables: await fingerprint(s.source.sql, s.source.endpoint),
      gtid: await gtidPos(s.source.server),
    }));
  }

  /**
   * A real mariadb-backup of the shard (prepared unless told otherwise), with the MANIFEST Vitess
   * writes, in `<root>/<keyspace>/<shard>/<time>.<alias>/`; recorded under `role`.
   */
  async backup(
    s: VitessShardWorld,
    role: string,
    o: { prepare?: boolean; root?: string; alias?: string } = {},
  ): Promise<string> {
    const prepare = o.prepare ?? true;
    let start = Date.now();
    const alias = o.alias ?? `zone1-${String(101 + this.shards.indexOf(s)).padStart(10, '0')}`;
    const nameAt = (ms: number) =>
      `${rfc(ms)
        .replace(/[-:Z]/g, '')
        .replace('T', '.')
        .replace(/^(\d{4})(\d{2})(\d{2})/, '$1-$2-$3')}.${alias}`;
    while (Object.values(s.backups).includes(nameAt(start))) {
      await sleep(200); // Vitess names backups to the second
      start = Date.now();
    }
    const name = nameAt(start);
    const dir = join(o.root ?? this.backupRoot, this.keyspace, s.name, name);
    if (prepare) await takeBackup(s.source.server, dir);
    else {
      await mkdir(dir, { recursive: true });
      await execa('mariadb-backup', [
        '--no-defaults',
        '--backup',
        `--target-dir=${dir}`,
        `--socket=${s.source.server.socket}`,
        '--user=root',
      ]);
    }
    const info = await readFile(join(dir, 'xtrabackup_binlog_info'), 'utf8');
    const [, , gtid = ''] = info.trim().split(/\s+/);
    const manifest = {
      BackupMethod: 'mariadb-backup',
      Position: `MariaDB/${gtid}`,
      BackupTime: rfc(start),
      FinishedTime: rfc(Date.now()),
      TabletAlias: alias,
      Keyspace: this.keyspace,
      Shard: s.name,
      MySQLVersion: '10.11',
    };
    await writeFile(join(dir, 'MANIFEST'), JSON.stringify(manifest, null, 2));
    s.backups[role] = name;
    return name;
  }

  /** Every archiver has the sources' binlogs, then stops (the recoveries only read). */
  async stopArchivers(): Promise<void> {
    await this.each(async (s) => {
      await s.source.archiver.waitCaughtUp();
      await s.source.archiver.sync();
      await s.source.archiver.stop();
    });
  }

  /** A recovery request of the whole keyspace (each shard's binlogs from its source, as vttablet reads them). */
  input(
    snapshotKeyspace: string,
    snapshotTime: string,
    firstUid: number,
    over: Record<string, unknown> = {},
  ) {
    return {
      vtctld: { server: VTCTLD, topo: VITESS_TOPO },
      baseKeyspace: this.keyspace,
      snapshotKeyspace,
      snapshotTime,
      backup: { fileBackupStorageRoot: this.backupRoot },
      tablets: { root: this.tabletsRoot },
      dbName: 'shop',
      heartbeatTimeout: '10s',
      shards: this.shards.map((s, i) => ({
        name: s.name,
        tabletUid: firstUid + i,
        binlogSource: {
          host: '127.0.0.1',
          tls: { mode: 'disabled' }, // loopback: these servers have no certificate
          port: s.source.server.port,
          user: BINLOG_USER,
          password: { env: this.o.binlogPasswordEnv },
        },
      })),
      ...over,
    };
  }

  /** Stops the sources (restored mysqlds and vttablets are the caller's: they live under tabletsRoot). */
  async stop(): Promise<void> {
    for (const s of this.shards) {
      await s.source.archiver.stop().catch(() => {});
      await s.source.sql.closeAll();
      await s.source.server.stop().catch(() => {});
    }
  }

  /** Stops everything under the base directory (restored mysqlds, vttablets) and removes it. */
  async cleanup(): Promise<void> {
    await this.stop();
    await removeTestDir(this.o.base);
  }
}
