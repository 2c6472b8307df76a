// The Vitess world of the bad-input catalog, vitess-snapshot.test.ts's model made small: base keyspace
// `commerce` with one shard `0`, a real MariaDB source (binlog server, with its own archive) over
// three binlog files, a real prepared mariadb-backup with Vitess's MANIFEST in a file backup storage,
// a second storage holding only an unprepared backup, an existing snapshot keyspace, and times T0
// (before the backup), T1 (after the last write but one) and T2 (after every write). vtctlclient is
// the stand-in. Nothing changed = the topology file byte for byte, no restored datadir, no keyspace
// ledger, the source running as the same process at the same GTID position.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { removeTestDir } from '../../scripts/lib/cleanup';
import {
  createShop,
  gtidPos,
  runWorkload,
  startSource,
  takeBackup,
  type Source,
} from '../../scripts/lib/scenario';
import { keyspaceLedgerDir, shardDir } from '../../workflows/schemas-vitess';
import type { CatalogWorld } from './catalog-case';

const KS = 'commerce';
const VTCTLD = 'localhost:15999';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const rfc = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** Waits into the next whole second and returns it: earlier events have earlier times. */
async function cut(): Promise<string> {
  const now = Date.now();
  const next = Math.floor(now / 1000) * 1000 + 1000;
  await sleep(next - now + 30);
  return rfc(next);
}

export class VitessCatalogWorld implements CatalogWorld {
  /** The binlog server user's password, known to the worker by reference (env VITESS_CATALOG_BINLOG_PW). */
  readonly binlogPassword = `binlog-pw-${process.pid}-catalog`;
  readonly backupRoot: string;
  readonly unpreparedRoot: string;
  readonly tabletsRoot: string;
  readonly topoFile: string;
  readonly existingKeyspace = 'existing_snapshot';
  source!: Source;
  at = { t0: '', t1: '', t2: '' };
  private uid = 500;
  private baseline!: { topo: string; pid: number | null; gtid: string };

  private constructor(readonly base: string) {
    this.backupRoot = join(base, 'backups');
    this.unpreparedRoot = join(base, 'backups-unprepared');
    this.tabletsRoot = join(base, 'vt');
    this.topoFile = join(base, 'topo.json');
  }

  static async build(): Promise<VitessCatalogWorld> {
    const w = new VitessCatalogWorld(await mkdtemp(join(tmpdir(), 'catalog-vitess-')));
    process.env.VITESS_STANDIN_STATE = w.topoFile;
    process.env.VITESS_CATALOG_BINLOG_PW = w.binlogPassword;
    w.source = await startSource(join(w.base, 'source'), { serverId: 1 });
    const s = w.source.server;
    await createShop(s);
    await s.query(
      "SET SESSION sql_log_bin = 0; CREATE USER 'vt_repl'@'127.0.0.1' IDENTIFIED BY ?; GRANT REPLICATION SLAVE ON *.* TO 'vt_repl'@'127.0.0.1'; SET SESSION sql_log_bin = 1",
      [w.binlogPassword],
    );
    await w.vtctl('CreateKeyspace', KS);
    await w.vtctl('ApplyVSchema', `-vschema=${JSON.stringify({ sharded: false, tables: {} })}`, KS);
    w.at.t0 = await cut();
    await runWorkload(s, 1, 200);
    await w.backup(w.backupRoot, true);
    await w.backup(w.unpreparedRoot, false);
    for (const seed of [2, 3]) {
      await runWorkload(s, seed, 200);
      await s.query('FLUSH BINARY LOGS');
    }
    await runWorkload(s, 4, 200);
    w.at.t1 = await cut();
    await runWorkload(s, 5, 50);
    w.at.t2 = await cut();
    await w.vtctl(
      'CreateKeyspace',
      '-keyspace_type=SNAPSHOT',
      `-base_keyspace=${KS}`,
      `-snapshot_time=${w.at.t1}`,
      w.existingKeyspace,
    );
    await w.source.archiver.waitCaughtUp();
    await w.source.archiver.sync();
    await w.source.archiver.stop();
    w.baseline = {
      topo: await readFile(w.topoFile, 'utf8'),
      pid: await s.pid(),
      gtid: await gtidPos(s),
    };
    return w;
  }

  vtctl(...args: string[]) {
    return execa('vtctlclient', ['-server', VTCTLD, ...args]);
  }

  /** A real mariadb-backup of the shard with the MANIFEST Vitess writes, in `<root>/commerce/0/<time>.<alias>/`. */
  private async backup(root: string, prepare: boolean): Promise<void> {
    const alias = 'zone1-0000000101';
    const start = Date.now();
    const name = `${rfc(start)
      .replace(/[-:Z]/g, '')
      .replace('T', '.')
      .replace(/^(\d{4})(\d{2})(\d{2})/, '$1-$2-$3')}.${alias}`;
    const dir = join(root, KS, '0', name);
    const s = this.source.server;
    if (prepare) await takeBackup(s, dir);
    else {
      await mkdir(dir, { recursive: true });
      await execa('mariadb-backup', [
        '--no-defaults',
        '--backup',
        `--target-dir=${dir}`,
        `--socket=${s.socket}`,
        '--user=root',
      ]);
    }
    const [, , gtid = ''] = (await readFile(join(dir, 'xtrabackup_binlog_info'), 'utf8')).trim().split(/\s+/);
    const manifest = {
      BackupMethod: 'mariadb-backup',
      Position: `MariaDB/${gtid}`,
      BackupTime: rfc(start),
      FinishedTime: rfc(Date.now()),
      TabletAlias: alias,
      Keyspace: KS,
      Shard: '0',
      MySQLVersion: '10.11',
    };
    await writeFile(join(dir, 'MANIFEST'), JSON.stringify(manifest, null, 2));
  }

  /** A request restoring shard 0 of commerce into `snapshotKeyspace` at `snapshotTime` (T1 by default). */
  input(snapshotKeyspace: string, over: Record<string, unknown> = {}, shard: Record<string, unknown> = {}) {
    const s = this.source.server;
    return {
      vtctld: {
        server: VTCTLD,
        topo: {
          implementation: 'etcd2',
          globalServerAddress: 'localhost:2379',
          globalRoot: '/vitess/global',
        },
      },
      baseKeyspace: KS,
      snapshotKeyspace,
      snapshotTime: this.at.t1,
      backup: { fileBackupStorageRoot: this.backupRoot },
      tablets: { root: this.tabletsRoot },
      dbName: 'shop',
      heartbeatTimeout: '10s',
      pitrGtidLookupTimeout: '20s',
      shards: [
        {
          name: '0',
          tabletUid: this.uid++,
          binlogSource: {
            host: '127.0.0.1',
            tls: { mode: 'disabled' }, // loopback: the test servers have no certificate
            port: s.port,
            user: 'vt_repl',
            password: { env: 'VITESS_CATALOG_BINLOG_PW' },
          },
          ...shard,
        },
      ],
      ...over,
    };
  }

  dir(name: string): string {
    return join(this.base, name);
  }

  async nothingChanged(input: unknown): Promise<string[]> {
    assert.equal(await readFile(this.topoFile, 'utf8'), this.baseline.topo, 'the topology changed');
    const ks = (input as { snapshotKeyspace?: unknown }).snapshotKeyspace;
    if (typeof ks === 'string' && /^[A-Za-z0-9_-]+$/.test(ks)) {
      // Staging the shard's binlogs (<shard>/binlogs) is reading; a datadir or a ledger would be a change.
      for (const shard of ['0', '80-']) {
        const dir = shardDir(this.tabletsRoot, ks, shard);
        assert.equal(await exists(`${dir}/data`), false, 'a shard datadir was created');
        assert.equal(await exists(`${dir}/data.runbook-ledger`), false, 'a shard ledger was written');
      }
      assert.equal(await exists(keyspaceLedgerDir(this.tabletsRoot, ks)), false, 'a keyspace ledger exists');
    }
    const s = this.source.server;
    assert.equal(await s.pid(), this.baseline.pid, 'the source was restarted');
    assert.equal(await gtidPos(s), this.baseline.gtid, 'the source moved on');
    return [
      'topology byte-for-byte same',
      'no restored datadir or ledger',
      'binlog source up (same pid, GTID)',
    ];
  }

  async cleanup(): Promise<void> {
    await this.source?.sql.closeAll();
    await this.source?.server.stop().catch(() => {});
    await removeTestDir(this.base);
  }
}
