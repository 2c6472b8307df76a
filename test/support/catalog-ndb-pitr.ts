// The NDB point-in-time-recovery world of the bad-input catalog: a real MariaDB "SQL node" that keeps
// NDB's bookkeeping (scripts/lib/worlds/ndb-model.ts), two data nodes and a management server played
// by the stand-ins, one nightly backup, epochs before and after it over two binlog files, an archive
// with a dump of mysql.ndb_binlog_index made by the runbook's own step 2, and two index rows damaged
// the way a hostile or broken injector would write them (a quote and a statement in File, a newline in
// next_file).
// Nothing changed = the SQL node up with the same tables, ndb_apply_status and ndb_binlog_index, no
// data node cleared (stand-in state), no ledger beside the data nodes or in the SQL node.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { backupBinlogIndex } from '../../activities/ndb/ndb-binlog-index';
import { SqlPools } from '../../activities/mysql/sql';
import { LEDGER_SCHEMA } from '../../activities/mysql/sql-ledger';
import { fingerprintTables } from '../../activities/mysql/verify';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { startMariadbServer, type MariadbServer } from '../../scripts/lib/mariadb-server';
import type { CatalogWorld } from './catalog-case';
import { NdbSource, type EpochRecord } from '../../scripts/lib/worlds/ndb-model';

/** The parts of the SQL node and the stand-in cluster that a refused run must leave as they were. */
interface NdbSnapshot {
  pid: number | null;
  shop: unknown;
  bookkeeping: unknown;
  schemas: string[];
  cluster: { wipes: number; cleared: number[]; running: number[] | null };
}

export class NdbPitrCatalogWorld implements CatalogWorld {
  readonly sql = new SqlPools();
  private n = 0;
  private baseline!: NdbSnapshot;
  readonly dataNodeDirs: string[];
  readonly stateFile: string;
  /** The pre-built archive (binlog files + index) and the ndb_binlog_index dump in it. */
  readonly archiveDir: string;
  readonly indexDump: string;
  readonly backupDataDir: string;
  /** Epochs: the index row of `hostileFile` has a File with a quote and a statement; `hostileNextFile` a next_file with a newline. */
  hostileFile!: EpochRecord;
  hostileNextFile!: EpochRecord;

  private constructor(
    readonly base: string,
    readonly server: MariadbServer,
    readonly ndb: NdbSource,
  ) {
    this.dataNodeDirs = [join(base, 'ndb-data', '2'), join(base, 'ndb-data', '3')];
    this.stateFile = join(base, 'ndb-state.json');
    this.archiveDir = join(base, 'archive');
    this.indexDump = join(this.archiveDir, 'ndb_binlog_index.catalog.sql');
    this.backupDataDir = join(base, 'ndb-backup');
  }

  static async build(): Promise<NdbPitrCatalogWorld> {
    const base = await mkdtemp(join(tmpdir(), 'catalog-ndb-pitr-'));
    const server = await startMariadbServer({
      baseDir: join(base, 'sql-node'),
      serverId: 1,
      extraArgs: ['--gtid-strict-mode=OFF', '--innodb-flush-log-at-trx-commit=2', '--sync-binlog=0'],
    });
    const w = new NdbPitrCatalogWorld(
      base,
      server,
      new NdbSource(server, 1000, { binlogFormat: 'STATEMENT' }),
    );
    await w.ndb.init();
    await server.query(`CREATE DATABASE shop;
      CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(32), visits INT NOT NULL DEFAULT 0, last INT) ENGINE=InnoDB;
      CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT, amount INT) ENGINE=InnoDB;`);
    for (const d of w.dataNodeDirs) await mkdir(d, { recursive: true });
    await writeFile(
      w.stateFile,
      JSON.stringify({
        sqlNode: { socket: server.socket, user: 'root' },
        ndbSchemas: ['shop'],
        dataNodes: [{ id: 2 }, { id: 3 }],
        backupDataDir: w.backupDataDir,
        nextBackupId: 1,
      }),
    );
    process.env.NDB_STANDIN_STATE = w.stateFile;

    await w.writeEpochs(6, 1);
    await execa('ndb_mgm', ['--execute', 'START BACKUP WAIT COMPLETED']); // backup 1
    w.ndb.nextGci();
    await w.writeEpochs(6, 2);
    await server.query('FLUSH BINARY LOGS');
    await w.writeEpochs(6, 3);
    // The runbook's own step 2 builds the archive and the dump the cases reuse.
    await backupBinlogIndex(w.sql, {
      recoveryId: 'catalog',
      sqlNode: w.endpoint,
      archiveDir: w.archiveDir,
      dialect: 'mariadb', // MariaDB stands in for the MySQL SQL node
    });
    [w.hostileFile, w.hostileNextFile] = w.ndb.epochs.slice(-2) as [EpochRecord, EpochRecord];
    await server.query(
      `SET SESSION sql_log_bin = 0;
       UPDATE mysql.ndb_binlog_index SET File = ? WHERE epoch = ?;
       UPDATE mysql.ndb_binlog_index SET next_file = ? WHERE epoch = ?;
       SET SESSION sql_log_bin = 1;`,
      [
        `${server.datadir}/mysql-bin.000002'; DROP TABLE shop.orders; -- `,
        w.hostileFile.epoch.toString(),
        `${server.datadir}/mysql-bin.000002\nSTART SLAVE`,
        w.hostileNextFile.epoch.toString(),
      ],
    );
    await server.endPool(); // no pooled session keeps sql_log_bin = 0
    w.baseline = await w.snapshot();
    return w;
  }

  get endpoint() {
    return { socket: this.server.socket, user: 'root' };
  }

  private async writeEpochs(n: number, seed: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const k = seed * 1000 + i;
      await this.ndb.epoch(
        `INSERT INTO shop.orders (customer_id, amount) VALUES (${k % 50}, ${(k * 7) % 1000});
         INSERT INTO shop.customers VALUES (${k % 50}, 'c${k % 50}', 0, ${k}) ON DUPLICATE KEY UPDATE visits = visits + 1, last = ${k};`,
      );
      if (i % 3 === 2) this.ndb.nextGci();
    }
  }

  /** A copy of the archive for one case (the runbook refreshes the archive's index in place), minus `omit`. */
  async archiveCopy(omit: string[] = []): Promise<string> {
    const dir = join(this.base, `archive-${++this.n}`);
    await cp(this.archiveDir, dir, { recursive: true });
    for (const f of omit) await rm(join(dir, f));
    return dir;
  }

  /** A request against this world; the archive is a fresh copy unless the case gives its own. */
  async input(extra: Record<string, unknown>) {
    return {
      cluster: {
        name: 'ndb1',
        connectstring: 'mgm1:1186',
        dataNodes: [
          { id: 2, binary: 'ndbd', dataDir: this.dataNodeDirs[0] },
          { id: 3, binary: 'ndbmtd', dataDir: this.dataNodeDirs[1] },
        ],
        sqlNode: this.endpoint,
      },
      backup: { dataDir: this.backupDataDir, id: 1 },
      archiveDir: await this.archiveCopy(),
      dialect: 'mariadb', // MariaDB stands in for the MySQL SQL node
      indexDump: this.indexDump,
      verify: { schemas: ['shop'] },
      heartbeatTimeout: '10s',
      ...extra,
    };
  }

  private async snapshot(): Promise<NdbSnapshot> {
    const st = JSON.parse(await readFile(this.stateFile, 'utf8')) as {
      wipes?: number;
      cleared?: number[];
      running?: number[];
    };
    return {
      pid: await this.server.pid(),
      shop: await fingerprintTables(this.sql, this.endpoint, ['shop']),
      bookkeeping: await this.server.query(
        'CHECKSUM TABLE mysql.ndb_apply_status, mysql.ndb_binlog_index EXTENDED',
      ),
      schemas: (await this.server.query<{ Database: string }[]>('SHOW DATABASES')).map((r) => r.Database),
      cluster: { wipes: st.wipes ?? 0, cleared: st.cleared ?? [], running: st.running ?? null },
    };
  }

  async nothingChanged(): Promise<string[]> {
    const now = await this.snapshot();
    assert.equal(now.pid, this.baseline.pid, 'the SQL node was restarted');
    assert.deepEqual(now.shop, this.baseline.shop, 'the NDB data changed');
    assert.deepEqual(now.bookkeeping, this.baseline.bookkeeping, 'ndb_apply_status/ndb_binlog_index changed');
    assert.ok(!now.schemas.includes(LEDGER_SCHEMA), 'a ledger was written on the SQL node');
    assert.deepEqual(now.cluster, this.baseline.cluster, 'a data node was stopped or cleared (--initial)');
    for (const d of this.dataNodeDirs)
      assert.equal(await stat(`${d}.runbook-ledger`).catch(() => null), null, 'a data node ledger exists');
    return [
      'SQL node up (same pid, table checksums)',
      'ndb_apply_status + ndb_binlog_index checksums same',
      'no data node stopped or cleared, no ledger',
    ];
  }

  async cleanup(): Promise<void> {
    await this.sql.closeAll();
    await this.server.stop().catch(() => {});
    await removeTestDir(this.base);
  }
}
