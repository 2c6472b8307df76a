// The Vitess world of the bad-input catalog, scripts/lib/worlds/vitess.ts made small: base keyspace
// `commerce` with one shard `0`, a real MariaDB source (binlog server, with its own archive) over
// three binlog files, a real prepared mariadb-backup with Vitess's MANIFEST in a file backup storage,
// a second storage holding only an unprepared backup, an existing snapshot keyspace, and times T0
// (before the backup), T1 (after the last write but one) and T2 (after every write). vtctlclient is
// the stand-in. Nothing changed = the topology file byte for byte, no restored datadir, no keyspace
// ledger, the source running as the same process at the same GTID position.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gtidPos, runWorkload, secondBoundary } from '../../scripts/lib/scenario';
import { VitessWorld, VITESS_TOPO, VTCTLD } from '../../scripts/lib/worlds/vitess';
import { keyspaceLedgerDir, shardDir } from '../../workflows/schemas-vitess';
import type { CatalogWorld } from './catalog-case';

const KS = 'commerce';
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

export class VitessCatalogWorld implements CatalogWorld {
  /** The binlog server user's password, known to the worker by reference (env VITESS_CATALOG_BINLOG_PW). */
  readonly binlogPassword = `binlog-pw-${process.pid}-catalog`;
  readonly backupRoot: string;
  readonly unpreparedRoot: string;
  readonly tabletsRoot: string;
  readonly topoFile: string;
  readonly existingKeyspace = 'existing_snapshot';
  world!: VitessWorld;
  at = { t0: '', t1: '', t2: '' };
  private uid = 500;
  private baseline!: { topo: string; pid: number | null; gtid: string };

  private constructor(readonly base: string) {
    this.backupRoot = join(base, 'backups');
    this.unpreparedRoot = join(base, 'backups-unprepared');
    this.tabletsRoot = join(base, 'vt');
    this.topoFile = join(base, 'topo.json');
  }

  get source() {
    return this.world.shards[0]!.source;
  }

  static async build(): Promise<VitessCatalogWorld> {
    const w = new VitessCatalogWorld(await mkdtemp(join(tmpdir(), 'catalog-vitess-')));
    w.world = await VitessWorld.build({
      base: w.base,
      keyspace: KS,
      shards: ['0'],
      binlogPassword: w.binlogPassword,
      binlogPasswordEnv: 'VITESS_CATALOG_BINLOG_PW',
      vschema: { sharded: false, tables: {} },
    });
    const shard = w.world.shards[0]!;
    const s = shard.source.server;
    w.at.t0 = await secondBoundary();
    await runWorkload(s, 1, 200);
    await w.world.backup(shard, 'prepared');
    await w.world.backup(shard, 'unprepared', { prepare: false, root: w.unpreparedRoot });
    for (const seed of [2, 3]) {
      await runWorkload(s, seed, 200);
      await s.query('FLUSH BINARY LOGS');
    }
    await runWorkload(s, 4, 200);
    w.at.t1 = await secondBoundary();
    await runWorkload(s, 5, 50);
    w.at.t2 = await secondBoundary();
    await w.world.vtctl(
      'CreateKeyspace',
      '-keyspace_type=SNAPSHOT',
      `-base_keyspace=${KS}`,
      `-snapshot_time=${w.at.t1}`,
      w.existingKeyspace,
    );
    await w.world.stopArchivers();
    w.baseline = {
      topo: await readFile(w.topoFile, 'utf8'),
      pid: await s.pid(),
      gtid: await gtidPos(s),
    };
    return w;
  }

  /** A request restoring shard 0 of commerce into `snapshotKeyspace` at `snapshotTime` (T1 by default). */
  input(snapshotKeyspace: string, over: Record<string, unknown> = {}, shard: Record<string, unknown> = {}) {
    const s = this.source.server;
    return {
      vtctld: { server: VTCTLD, topo: VITESS_TOPO },
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
    await this.world?.cleanup();
  }
}
