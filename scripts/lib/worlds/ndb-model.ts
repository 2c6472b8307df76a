// The NDB Cluster bookkeeping, modelled on real MariaDB servers for the NDB runbook tests and demos (NDB
// itself cannot be installed here). Each "cluster" is a MariaDB server whose NDB data lives in `ndbSchemas`
// (plus mysql.ndb_apply_status). Like NDB's binlog injector, every epoch is one transaction that also
// upserts mysql.ndb_apply_status (so it replicates), and gets a mysql.ndb_binlog_index row (not
// binlogged) with its File/Position and next_file/next_position in that server's own binlog.
// Epoch numbers are real NDB epochs: (GCI << 32) | micro-GCI.
// NDB's injector logs the ndb_apply_status write as a write-row event that the applier applies as an
// overwrite (NDB tables take writes as "replace"), so a replay creates the row on a cluster restored
// without it (ndb_restore restores only server_id 0). MariaDB applies a row event for a missing row
// as an error; with `binlogFormat: 'STATEMENT'` the epoch is logged as its statements, whose upsert
// has the same effect on replay (the PITR worlds; the failover worlds replicate rows as before).
import { join } from 'node:path';
import { scanBinlog } from '../../../activities/archive/binlog-scan';
import type { MariadbServer } from '../mariadb-server';

export const NDB_TABLES_SQL = `
  CREATE TABLE IF NOT EXISTS mysql.ndb_apply_status (
    server_id INT UNSIGNED NOT NULL, epoch BIGINT UNSIGNED NOT NULL, log_name VARCHAR(255) BINARY NOT NULL,
    start_pos BIGINT UNSIGNED NOT NULL, end_pos BIGINT UNSIGNED NOT NULL, PRIMARY KEY (server_id)) ENGINE=InnoDB;
  CREATE TABLE IF NOT EXISTS mysql.ndb_binlog_index (
    Position BIGINT UNSIGNED NOT NULL, File VARCHAR(255) NOT NULL, epoch BIGINT UNSIGNED NOT NULL,
    inserts INT UNSIGNED NOT NULL, updates INT UNSIGNED NOT NULL, deletes INT UNSIGNED NOT NULL,
    schemaops INT UNSIGNED NOT NULL, orig_server_id INT UNSIGNED NOT NULL, orig_epoch BIGINT UNSIGNED NOT NULL,
    gci INT UNSIGNED NOT NULL, next_position BIGINT UNSIGNED NOT NULL, next_file VARCHAR(255) NOT NULL,
    PRIMARY KEY (epoch, orig_server_id, orig_epoch)) ENGINE=InnoDB;`;

/** Runs SQL with sql_log_bin=0 on a connection of its own, and sets it back before the pool reuses it. */
async function withoutBinlog(server: MariadbServer, text: string, params: unknown[] = []): Promise<void> {
  const conn = await server.sql().getConnection();
  try {
    await conn.query('SET SESSION sql_log_bin = 0');
    await conn.query(text, params);
  } finally {
    await conn.query('SET SESSION sql_log_bin = 1').catch(() => {});
    conn.release();
  }
}

export const epochOf = (gci: number, micro = 0): bigint => (BigInt(gci) << 32n) | BigInt(micro);

export interface EpochRecord {
  epoch: bigint;
  gci: number;
  gtid: string;
  file: string;
  position: number;
  nextPosition: number;
  time: number;
}

/** The epoch writer of one source cluster. */
export class NdbSource {
  readonly epochs: EpochRecord[] = [];
  private gci: number;
  private micro = 0;
  private serverId = 0;

  constructor(
    readonly server: MariadbServer,
    firstGci = 1000,
    private readonly opts: { binlogFormat?: 'ROW' | 'STATEMENT' } = {},
  ) {
    this.gci = firstGci;
  }

  async init(): Promise<void> {
    await withoutBinlog(this.server, NDB_TABLES_SQL);
    const [[row]] = (await this.server.sql().query('SELECT @@server_id AS id')) as unknown as [
      { id: number }[],
    ];
    this.serverId = Number(row!.id);
  }

  /** Starts a new GCI: the next epochs get micro-GCIs 0, 1, 2, … */
  nextGci(): void {
    this.gci++;
    this.micro = 0;
  }

  /** One epoch: `statements` plus the ndb_apply_status upsert, in one transaction; then its index row. */
  async epoch(statements: string): Promise<EpochRecord> {
    const s = this.server;
    const conn = await s.sql().getConnection();
    try {
      const epoch = epochOf(this.gci, this.micro++);
      const [[before]] = (await conn.query('SHOW MASTER STATUS')) as unknown as [
        { File: string; Position: number }[],
      ];
      if (this.opts.binlogFormat) await conn.query(`SET SESSION binlog_format = ${this.opts.binlogFormat}`);
      await conn.query('BEGIN');
      await conn.query(statements);
      // The server id as a literal: a statement replayed elsewhere must not take that server's id.
      await conn.query(
        `INSERT INTO mysql.ndb_apply_status VALUES (${this.serverId}, ?, ?, ?, 0)
           ON DUPLICATE KEY UPDATE epoch = VALUES(epoch), log_name = VALUES(log_name), start_pos = VALUES(start_pos)`,
        [epoch.toString(), before!.File, before!.Position],
      );
      await conn.query('COMMIT');
      const [[after]] = (await conn.query('SHOW MASTER STATUS')) as unknown as [
        { File: string; Position: number }[],
      ];
      const [[g]] = (await conn.query('SELECT @@gtid_binlog_pos AS g')) as unknown as [{ g: string }[]];
      const rec: EpochRecord = {
        epoch,
        gci: this.gci,
        gtid: g!.g,
        file: before!.File,
        position: Number(before!.Position),
        nextPosition: Number(after!.Position),
        time: Math.floor(Date.now() / 1000),
      };
      this.epochs.push(rec);
      // NDB writes File with the binlog's directory; the runbooks strip it with SUBSTRING_INDEX.
      await conn.query('SET SESSION sql_log_bin = 0');
      await conn.query(`INSERT INTO mysql.ndb_binlog_index VALUES (?, ?, ?, 1, 0, 0, 0, 0, 0, ?, ?, ?)`, [
        rec.position,
        join(s.datadir, rec.file),
        epoch.toString(),
        rec.gci,
        rec.nextPosition,
        join(s.datadir, after!.File),
      ]);
      await conn.query('SET SESSION sql_log_bin = 1');
      return rec;
    } finally {
      if (this.opts.binlogFormat) await conn.query('SET SESSION binlog_format = DEFAULT').catch(() => {});
      conn.release();
    }
  }
}

/**
 * The injector of a second SQL node of the same source cluster (modelled as a replica with
 * log_slave_updates): indexes the epochs it has binlogged at *its own* binlog positions.
 */
export async function indexReplicatedEpochs(node: MariadbServer, epochs: EpochRecord[]): Promise<void> {
  const byGtid = new Map(epochs.map((e) => [e.gtid.split(',').find((x) => x.startsWith('0-')) ?? e.gtid, e]));
  const files = (await node.query<{ Log_name: string }[]>('SHOW BINARY LOGS')).map((r) => r.Log_name);
  const rows: unknown[][] = [];
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const txs: { gtid: string; startPos: number; endPos: number }[] = [];
    await scanBinlog(join(node.datadir, file), (t) => void txs.push(t));
    for (const t of txs) {
      const e = byGtid.get(t.gtid);
      if (!e) continue;
      rows.push([
        t.startPos,
        join(node.datadir, file),
        e.epoch.toString(),
        e.gci,
        t.endPos,
        join(node.datadir, file),
      ]);
    }
  }
  await withoutBinlog(node, 'DELETE FROM mysql.ndb_binlog_index');
  for (const r of rows)
    await withoutBinlog(
      node,
      'INSERT INTO mysql.ndb_binlog_index VALUES (?, ?, ?, 1, 0, 0, 0, 0, 0, ?, ?, ?)',
      r,
    );
}
