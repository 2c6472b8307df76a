// The NDB channel-failover world of the bad-input catalog, the model of ndb-failover.test.ts made
// small: source SQL nodes M (epochs by NdbSource) and M' (a replica of M on the default channel, so it
// binlogs the same epochs at its own positions, indexed by indexReplicatedEpochs), and replica
// clusters R1 (DDL-exists errors not skipped) and R2 (skipped), each with a 'primary' channel from M
// that failed (stopped) after some epochs. M' itself is a replica whose primary channel still runs.
// Nothing changed = every channel of R1, R2 and M' as it was (configuration, threads, positions),
// their latest applied epoch and tables the same, and no secondary channel created.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DDL_EXIST_ERRORS } from '../../activities/ndb/replica-inspect';
import { SqlPools } from '../../activities/mysql/sql';
import { fingerprintTables } from '../../activities/mysql/verify';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { startMariadbServer, type MariadbServer } from '../../scripts/lib/mariadb-server';
import type { CatalogWorld } from './catalog-case';
import { indexReplicatedEpochs, NDB_TABLES_SQL, NdbSource, type EpochRecord } from './ndb-world';

type Row = Record<string, string | number | null>;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function masterStatus(s: MariadbServer): Promise<{ File: string; Position: number }> {
  const [row] = await s.query<{ File: string; Position: number }[]>('SHOW MASTER STATUS');
  return row!;
}

export class NdbFailoverCatalogWorld implements CatalogWorld {
  /** The replication password, known to the worker by reference only (env NDB_CATALOG_REPL_PW). */
  readonly replPassword = `repl-${randomUUID()}`;
  readonly sql = new SqlPools();
  M!: MariadbServer;
  M2!: MariadbServer;
  R1!: MariadbServer;
  R2!: MariadbServer;
  ndb!: NdbSource;
  lastBeforeFailure!: EpochRecord;
  firstAfterFailure!: EpochRecord;
  private baseline: unknown[] = [];

  private constructor(readonly base: string) {}

  static async build(): Promise<NdbFailoverCatalogWorld> {
    const w = new NdbFailoverCatalogWorld(await mkdtemp(join(tmpdir(), 'catalog-ndb-failover-')));
    process.env.NDB_CATALOG_REPL_PW = w.replPassword;
    const common = ['--gtid-strict-mode=OFF', '--innodb-flush-log-at-trx-commit=2', '--sync-binlog=0'];
    const strict = ['--slave-ddl-exec-mode=STRICT'];
    const skipDdl = `--slave-skip-errors=${DDL_EXIST_ERRORS.join(',')}`;
    const start = (name: string, serverId: number, extra: string[] = []) =>
      startMariadbServer({ baseDir: join(w.base, name), serverId, extraArgs: [...common, ...extra] });
    [w.M, w.M2, w.R1, w.R2] = await Promise.all([
      start('m', 1),
      start('m-prime', 2),
      start('r1', 11, strict),
      start('r2', 12, [...strict, skipDdl]),
    ]);
    const all = [w.M, w.M2, w.R1, w.R2];
    w.ndb = new NdbSource(w.M, 1000);
    await w.ndb.init();
    for (const s of all) {
      await s.query(`SET SESSION sql_log_bin = 0; ${NDB_TABLES_SQL}`);
      await s.query(
        "SET SESSION sql_log_bin = 0; CREATE USER 'repl'@'%' IDENTIFIED BY ?; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'",
        [w.replPassword],
      );
    }
    for (const s of all) await s.endPool(); // pooled sessions were left with sql_log_bin = 0
    await w.replicate(w.M2, '', w.M);
    for (const r of [w.R1, w.R2]) await w.replicate(r, 'primary', w.M);
    await w.M.query(`
      CREATE DATABASE shop;
      CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT NOT NULL) ENGINE=InnoDB;`);
    await w.writeEpochs(2, 3, 0);
    w.lastBeforeFailure = w.ndb.epochs.at(-1)!;
    for (const r of [w.R1, w.R2, w.M2]) await w.caughtUp(r, r === w.M2 ? '' : 'primary');
    for (const r of [w.R1, w.R2]) await r.query("STOP SLAVE 'primary'"); // the primary channel fails
    await w.M2.query('FLUSH BINARY LOGS');
    const applied = w.ndb.epochs.length;
    await w.writeEpochs(2, 3, 100);
    w.firstAfterFailure = w.ndb.epochs[applied]!;
    await w.caughtUp(w.M2, '');
    await indexReplicatedEpochs(w.M2, w.ndb.epochs);
    await w.M2.endPool();
    w.baseline = await w.snapshot();
    return w;
  }

  private async replicate(replica: MariadbServer, channel: string, from: MariadbServer): Promise<void> {
    const at = await masterStatus(from);
    const ch = channel ? ` '${channel}'` : '';
    await replica.query(
      `CHANGE MASTER${ch} TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ?, MASTER_USER = 'repl', MASTER_PASSWORD = ?,
         MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no; START SLAVE${ch}`,
      [from.port, this.replPassword, at.File, at.Position],
    );
  }

  private async caughtUp(replica: MariadbServer, channel: string): Promise<void> {
    const want = await masterStatus(this.M);
    for (let i = 0; i < 300; i++) {
      const [st] = await replica.query<Row[]>(`SHOW SLAVE '${channel}' STATUS`);
      if (st?.Relay_Master_Log_File === want.File && Number(st.Exec_Master_Log_Pos) >= Number(want.Position))
        return;
      if (st?.Last_SQL_Error) throw new Error(`replication failed: ${st.Last_SQL_Error}`);
      await sleep(100);
    }
    throw new Error(`channel '${channel}' of ${replica.datadir} did not catch up`);
  }

  private async writeEpochs(gcis: number, micros: number, seed: number): Promise<void> {
    for (let g = 0; g < gcis; g++) {
      this.ndb.nextGci();
      for (let m = 0; m < micros; m++) {
        const n = seed + g * micros + m;
        await this.ndb.epoch(`INSERT INTO shop.orders VALUES (${n}, ${n * 7});
          UPDATE shop.orders SET amount = amount + 1 WHERE id = ${Math.max(0, n - 1)};`);
      }
    }
  }

  endpoint(s: MariadbServer) {
    return { socket: s.socket, user: 'root' };
  }

  /** A failover request for replica `r` (R1 by default) from M' over the secondary channel. */
  input(extra: Record<string, unknown> = {}, r: MariadbServer = this.R1) {
    return {
      dialect: 'mariadb', // MariaDB stands in for the MySQL SQL nodes
      cluster: 'shop-dr',
      replica: { endpoint: this.endpoint(r) },
      primary: { channel: 'primary' },
      secondary: {
        channel: 'secondary',
        source: { endpoint: this.endpoint(this.M2) },
        connect: {
          host: '127.0.0.1',
          port: this.M2.port,
          user: 'repl',
          password: { env: 'NDB_CATALOG_REPL_PW' },
        },
      },
      form: 'epoch-greater',
      catchUpTimeout: '30s',
      ...extra,
    };
  }

  /** Every channel (configuration, threads, positions), the latest applied epoch and the tables. */
  private async snapshot(): Promise<unknown[]> {
    return Promise.all(
      [this.R1, this.R2, this.M2].map(async (s) => ({
        pid: await s.pid(),
        channels: (await s.query<Row[]>('SHOW ALL SLAVES STATUS')).map((r) => [
          r.Connection_name,
          r.Slave_IO_Running,
          r.Slave_SQL_Running,
          r.Master_Host,
          r.Master_Port,
          r.Master_Log_File,
          r.Read_Master_Log_Pos,
          r.Relay_Master_Log_File,
          r.Exec_Master_Log_Pos,
        ]),
        latest: await s.query('SELECT CAST(MAX(epoch) AS CHAR) AS e FROM mysql.ndb_apply_status'),
        shop: await fingerprintTables(this.sql, this.endpoint(s), ['shop']),
        // A checkpoint ledger (runbook_ledger) would show up here.
        schemas: await s.query('SHOW DATABASES'),
      })),
    );
  }

  async nothingChanged(): Promise<string[]> {
    assert.deepEqual(await this.snapshot(), this.baseline, 'a replica or its channels changed');
    return [
      "R1, R2, M' up; channels as they were (threads, source, positions)",
      'epochs, tables and schemas (no ledger) same',
    ];
  }

  /** Puts M''s index back as the injector wrote it (after a case damaged it on purpose). */
  async reindex(): Promise<void> {
    await indexReplicatedEpochs(this.M2, this.ndb.epochs);
    await this.M2.endPool();
  }

  async cleanup(): Promise<void> {
    await this.sql.closeAll();
    for (const s of [this.M, this.M2, this.R1, this.R2]) await s?.destroy().catch(() => {});
    await removeTestDir(this.base);
  }
}
