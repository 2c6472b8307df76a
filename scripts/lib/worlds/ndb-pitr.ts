// The NDB PITR world shared by the integration, contract and fault suites and the ndb-pitr demo: one
// real MariaDB "SQL node" holding the shop tables, the NDB model on it (ndb-model.ts), and the
// stand-ins' state file (two data nodes, a backup directory) that NDB_STANDIN_STATE points at.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startMariadbServer, type MariadbServer } from '../mariadb-server';
import { NdbSource } from './ndb-model';

export interface NdbPitrWorld {
  base: string;
  server: MariadbServer;
  ndb: NdbSource;
  stateFile: string;
}

/** Builds the world in `base` (an existing, empty directory) and points NDB_STANDIN_STATE at it. */
export async function startNdbPitrWorld(base: string): Promise<NdbPitrWorld> {
  const server = await startMariadbServer({
    baseDir: join(base, 'sql-node'),
    serverId: 1,
    // NDB SQL nodes in this model run without GTID strict mode (NDB replication is by epoch and position).
    extraArgs: ['--gtid-strict-mode=OFF', '--innodb-flush-log-at-trx-commit=2', '--sync-binlog=0'],
  });
  // Statements, not rows: only the server_id 0 row of ndb_apply_status is restored (as by the real
  // ndb_restore), and NDB applies the injector's row writes to it as overwrites; MariaDB would not.
  const ndb = new NdbSource(server, 1000, { binlogFormat: 'STATEMENT' });
  await ndb.init();
  await server.query(`CREATE DATABASE shop;
    CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(32), visits INT NOT NULL DEFAULT 0, last INT) ENGINE=InnoDB;
    CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT, amount INT) ENGINE=InnoDB;`);
  for (const n of [2, 3]) await mkdir(join(base, 'ndb-data', String(n)), { recursive: true });
  const stateFile = join(base, 'ndb-state.json');
  await writeFile(
    stateFile,
    JSON.stringify({
      sqlNode: { socket: server.socket, user: 'root' },
      ndbSchemas: ['shop'],
      dataNodes: [{ id: 2 }, { id: 3 }],
      backupDataDir: join(base, 'ndb-backup'),
      nextBackupId: 1,
    }),
  );
  process.env.NDB_STANDIN_STATE = stateFile;
  return { base, server, ndb, stateFile };
}

/** `count` epochs of shop orders and customer visits, three to a GCI; `seed` keeps runs apart. */
export async function writeShopEpochs(ndb: NdbSource, count: number, seed: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const k = seed * 100_000 + i;
    await ndb.epoch(
      `INSERT INTO shop.orders (customer_id, amount) VALUES (${k % 50}, ${(k * 7) % 1000});
       INSERT INTO shop.customers VALUES (${k % 50}, 'c${k % 50}', 0, ${k}) ON DUPLICATE KEY UPDATE visits = visits + 1, last = ${k};`,
    );
    if (i % 3 === 2) ndb.nextGci();
  }
}
