// The checkpoint ledger for systems only SQL reaches: a row per (recovery, step) in the dedicated
// schema `runbook_ledger`, written with sql_log_bin=0 so it adds no GTID and never replicates.
// It is InnoDB on the SQL node itself, so clearing NDB data nodes (ndbd --initial) leaves it alone.
import type { Endpoint } from '../../workflows/schemas';
import type { SqlPools } from './sql';

export const LEDGER_SCHEMA = 'runbook_ledger';

export class SqlLedger {
  private ready = false;
  constructor(
    private readonly sql: SqlPools,
    private readonly e: Endpoint,
  ) {}

  private async ensure(): Promise<void> {
    if (this.ready) return;
    const pool = await this.sql.get(this.e);
    const conn = await pool.getConnection();
    try {
      await conn.query('SET SESSION sql_log_bin = 0');
      await conn.query(`CREATE DATABASE IF NOT EXISTS ${LEDGER_SCHEMA}`);
      await conn.query(
        `CREATE TABLE IF NOT EXISTS ${LEDGER_SCHEMA}.checkpoints (recovery_id VARCHAR(100) NOT NULL, step VARCHAR(100) NOT NULL,
           record JSON NOT NULL, at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), PRIMARY KEY (recovery_id, step)) ENGINE=InnoDB`,
      );
    } finally {
      conn.release();
    }
    this.ready = true;
  }

  async read(
    recoveryId: string,
    step: string,
  ): Promise<(Record<string, unknown> & { at: string }) | undefined> {
    await this.ensure();
    const [row] = await this.sql.query(
      this.e,
      `SELECT record, at FROM ${LEDGER_SCHEMA}.checkpoints WHERE recovery_id = ? AND step = ?`,
      [recoveryId, step],
    );
    if (!row) return undefined;
    const record =
      typeof row.record === 'string'
        ? (JSON.parse(row.record) as Record<string, unknown>)
        : (row.record as Record<string, unknown>);
    return { ...record, at: String(row.at) };
  }

  async write(recoveryId: string, step: string, record: Record<string, unknown> = {}): Promise<void> {
    await this.ensure();
    const pool = await this.sql.get(this.e);
    const conn = await pool.getConnection();
    try {
      await conn.query('SET SESSION sql_log_bin = 0');
      await conn.query(
        `INSERT INTO ${LEDGER_SCHEMA}.checkpoints (recovery_id, step, record) VALUES (?, ?, ?)
           ON DUPLICATE KEY UPDATE record = VALUES(record), at = CURRENT_TIMESTAMP(3)`,
        [recoveryId, step, JSON.stringify(record)],
      );
    } finally {
      await conn.query('SET SESSION sql_log_bin = 1').catch(() => {});
      conn.release();
    }
  }
}
