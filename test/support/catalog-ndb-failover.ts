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
import { SqlPools } from '../../activities/mysql/sql';
import { fingerprintTables } from '../../activities/mysql/verify';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { startMariadbServer, type MariadbServer } from '../../scripts/lib/mariadb-server';
import type { CatalogWorld } from './catalog-case';
import { indexReplicatedEpochs, NdbSource, type EpochRecord } from '../../scripts/lib/worlds/ndb-model';
import {
  caughtUp,
  NDB_SERVER_ARGS,
  prepareNdbServers,
  replicate,
  SKIP_DDL_ARG,
  STRICT_REPLICA_ARGS,
  type Row,
} from '../../scripts/lib/worlds/ndb-replication';

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
    const start = (name: string, serverId: number, extra: string[] = []) =>
      startMariadbServer({
        baseDir: join(w.base, name),
        serverId,
        extraArgs: [...NDB_SERVER_ARGS, ...extra],
      });
    [w.M, w.M2, w.R1, w.R2] = await Promise.all([
      start('m', 1),
      start('m-prime', 2),
      start('r1', 11, STRICT_REPLICA_ARGS),
      start('r2', 12, [...STRICT_REPLICA_ARGS, SKIP_DDL_ARG]),
    ]);
    const all = [w.M, w.M2, w.R1, w.R2];
    w.ndb = new NdbSource(w.M, 1000);
    await w.ndb.init();
    await prepareNdbServers(all, w.replPassword);
    await replicate(w.M2, '', w.M, w.replPassword);
    for (const r of [w.R1, w.R2]) await replicate(r, 'primary', w.M, w.replPassword);
    await w.M.query(`
      CREATE DATABASE shop;
      CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT NOT NULL) ENGINE=InnoDB;`);
    await w.writeEpochs(2, 3, 0);
    w.lastBeforeFailure = w.ndb.epochs.at(-1)!;
    for (const r of [w.R1, w.R2, w.M2]) await caughtUp(r, r === w.M2 ? '' : 'primary', w.M);
    for (const r of [w.R1, w.R2]) await r.query("STOP SLAVE 'primary'"); // the primary channel fails
    await w.M2.query('FLUSH BINARY LOGS');
    const applied = w.ndb.epochs.length;
    await w.writeEpochs(2, 3, 100);
    w.firstAfterFailure = w.ndb.epochs[applied]!;
    await caughtUp(w.M2, '', w.M);
    await indexReplicatedEpochs(w.M2, w.ndb.epochs);
    await w.M2.endPool();
    w.baseline = await w.snapshot();
    return w;
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
