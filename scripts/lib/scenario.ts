// The accident scenario shared by the demo and the tests: a real MariaDB source with an archiver,
// a workload, a real base backup, more work, then an accident (a dropped table).
import { execa } from 'execa';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BinlogArchiver } from '../../activities/archive/archiver';
import { FsArchive } from '../../activities/archive/archive-fs';
import type { BinlogArchive } from '../../activities/archive/archive';
import { SqlPools } from '../../activities/mysql/sql';
import { fingerprintTables } from '../../activities/mysql/verify';
import type { Endpoint, TableFingerprint } from '../../workflows/schemas';
import { MariadbServer, startMariadbServer } from './mariadb-server';

export interface Source {
  server: MariadbServer;
  endpoint: Endpoint;
  archiver: BinlogArchiver;
  archive: BinlogArchive;
  archiveDir: string;
  sql: SqlPools;
}

export async function startSource(
  baseDir: string,
  opts: { archive?: BinlogArchive; serverId?: number; extraArgs?: string[] } = {},
): Promise<Source> {
  const server = await startMariadbServer({
    baseDir: join(baseDir, 'source'),
    serverId: opts.serverId ?? 1,
    // Quick commits for test workloads; the recovery itself does not depend on them.
    extraArgs: ['--innodb-flush-log-at-trx-commit=2', '--sync-binlog=0', ...(opts.extraArgs ?? [])],
  });
  const endpoint: Endpoint = { socket: server.socket, user: 'root' };
  const archiveDir = join(baseDir, 'archive');
  const archive = opts.archive ?? new FsArchive(archiveDir);
  const archiver = new BinlogArchiver({
    source: endpoint,
    spoolDir: archiveDir,
    archive,
    serverId: 900 + (opts.serverId ?? 1),
    syncEveryMs: 1000,
  });
  archiver.start();
  return { server, endpoint, archiver, archive, archiveDir, sql: new SqlPools() };
}

export async function createShop(s: MariadbServer): Promise<void> {
  await s.query(`
    CREATE DATABASE shop;
    CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, tier VARCHAR(16) NOT NULL) ENGINE=InnoDB;
    CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, amount DECIMAL(10,2) NOT NULL,
      status VARCHAR(16) NOT NULL, KEY (customer_id)) ENGINE=InnoDB;`);
  await s.query(`
    CREATE PROCEDURE shop.workload(IN seed INT, IN n INT)
    BEGIN
      DECLARE i INT DEFAULT 0;
      DECLARE k BIGINT;
      WHILE i < n DO
        SET k = seed * 1000000 + i;
        START TRANSACTION;
        INSERT INTO shop.customers VALUES (MOD(k, 5000), CONCAT('customer-', MOD(k, 5000)), ELT(MOD(k, 3) + 1, 'gold', 'silver', 'bronze'))
          ON DUPLICATE KEY UPDATE tier = VALUES(tier);
        INSERT INTO shop.orders (customer_id, amount, status) VALUES (MOD(k, 5000), MOD(k * 7919, 100000) / 100, 'new');
        IF MOD(i, 4) = 0 THEN
          UPDATE shop.orders SET status = 'shipped' WHERE id = GREATEST(1, CAST(LAST_INSERT_ID() AS SIGNED) - 7);
        END IF;
        COMMIT;
        SET i = i + 1;
      END WHILE;
    END`);
}

/**
 * `transactions` small transactions: a customer upsert, a new order, and every fourth an update of
 * an earlier order, so the replay exercises inserts and updates. Runs server-side (a stored procedure)
 * to be quick; deterministic for a given `seed`.
 */
export async function runWorkload(s: MariadbServer, seed: number, transactions: number): Promise<void> {
  await s.query('CALL shop.workload(?, ?)', [seed, transactions]);
}

/** A real physical backup, prepared (what the Percona operator restores from). */
export async function takeBackup(s: MariadbServer, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await execa('mariadb-backup', [
    '--no-defaults',
    '--backup',
    `--target-dir=${dir}`,
    `--socket=${s.socket}`,
    '--user=root',
  ]);
  await execa('mariadb-backup', ['--no-defaults', '--prepare', `--target-dir=${dir}`]);
}

export async function fingerprint(
  sql: SqlPools,
  e: Endpoint,
  schemas = ['shop'],
): Promise<Record<string, TableFingerprint>> {
  return fingerprintTables(sql, e, schemas);
}

export async function gtidPos(s: MariadbServer): Promise<string> {
  const rows = await s.query<{ p: string }[]>('SELECT @@gtid_binlog_pos AS p');
  return rows[0]!.p;
}

/**
 * A cut between two whole seconds: the next second boundary after now, returned once the clock has
 * passed it. Binlog times are whole seconds, so everything written before the call is stamped before
 * it and everything written after, at or after it: a time target that separates them exactly.
 */
export async function secondBoundary(): Promise<string> {
  const boundary = (Math.floor(Date.now() / 1000) + 1) * 1000;
  while (Date.now() < boundary + 20) await new Promise((r) => setTimeout(r, boundary + 20 - Date.now()));
  return new Date(boundary).toISOString().replace('.000Z', 'Z');
}
