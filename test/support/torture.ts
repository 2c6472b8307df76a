// A "torture" workload for recovery tests, on a real MariaDB source (scripts/lib/scenario.ts
// startSource, with TORTURE_SOURCE_ARGS): every DDL kind, CREATE … SELECT, temporary tables under
// STATEMENT and MIXED, unsafe statements, a transaction bigger than max_binlog_size, a 17 MiB row,
// tables without a primary key, every column type family, savepoints, rollbacks, XA, concurrent
// sessions and many rotations. Ground truth is read LIVE from the source at quiesced checkpoints,
// never computed by replaying binlogs. The SQL itself is in torture-statements.ts.
import mysql from 'mysql2/promise';
import { fingerprintTables } from '../../activities/mysql/verify';
import type { Source } from '../../scripts/lib/scenario';
import type { TableFingerprint } from '../../workflows/schemas';
import {
  ACCIDENT,
  CREATE_SCHEMA,
  SCHEMAS,
  SESSION_FORMATS,
  SessionScript,
  bigPhase,
  ddlPhase,
  prng,
  seedRows,
  transactionsPhase,
} from './torture-statements';

/** Start the source with these (after its own args): small binlog files, and room for the 17 MiB row. */
export const TORTURE_SOURCE_ARGS = ['--max-binlog-size=1M', '--max-allowed-packet=256M'];
/** Every schema the workload writes; fingerprints cover these. */
export const TORTURE_SCHEMAS: string[] = Object.values(SCHEMAS);

export interface TortureCheckpoint {
  label: string;
  /** @@gtid_binlog_pos while quiesced: an inclusive GTID target reproduces `truth`. */
  gtid: string;
  /** The first GTID committed after it (an exclusive GTID target reproduces `truth` too). */
  nextGtid: string | null;
  /**
   * SHOW MASTER STATUS while quiesced: an exclusive position target reproduces `truth`. After a
   * rotation the server may still append a Binlog checkpoint event here before the next transaction.
   */
  position: { file: string; position: number };
  /** Whole seconds: every earlier transaction is stamped before it, every later one at or after it. */
  time: string;
  truth: Record<string, TableFingerprint>;
}

export interface TortureOptions {
  seed?: number;
  /** Multiplies the concurrent transactions and seed rows (the hard shapes are always there). */
  scale?: number;
  /** Called once, quiesced, at the first checkpoint: take the base backup here. Must not write. */
  onBackupPoint?: () => Promise<void>;
  log?: (line: string) => void;
}

export interface TortureRun {
  seed: number;
  /** In order: [0] is the backup point, the last one is just before the accident. */
  checkpoints: TortureCheckpoint[];
  /** The first accident transaction (the DROP TABLE); equals the last checkpoint's nextGtid. */
  accidentGtid: string;
  accident: { dropGtid: string; deleteGtid: string; statements: typeof ACCIDENT };
  finalGtid: string;
  finalTruth: Record<string, TableFingerprint>;
  /** Transactions the run binlogged (GTIDs), from the first DDL to the accident. */
  transactions: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const RETRYABLE = new Set([1213, 1205]); // deadlock, lock wait timeout: the transaction was rolled back

/** One connection with its own session state (binlog format, time zone, temporary tables). */
class Session {
  private constructor(
    readonly name: string,
    private readonly conn: mysql.Connection,
  ) {}

  static async open(source: Source, name: string, setup: string[] = []): Promise<Session> {
    const conn = await mysql.createConnection({
      socketPath: source.server.socket,
      user: 'root',
      multipleStatements: true,
      charset: 'UTF8MB4_GENERAL_CI',
    });
    const s = new Session(name, conn);
    for (const sql of setup) await s.run(sql);
    return s;
  }

  async run(sql: string): Promise<void> {
    try {
      await this.conn.query(sql);
    } catch (err) {
      const { errno, message } = err as { errno?: number; message?: string };
      const text = sql.replace(/\s+/g, ' ').slice(0, 160);
      const e = new Error(`torture: session ${this.name}: ${message} (errno ${errno}) in: ${text}`);
      throw Object.assign(e, { errno });
    }
  }

  /** Statements one round trip each inside START TRANSACTION … COMMIT; retried after a deadlock. */
  async transaction(statements: string[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.run('START TRANSACTION');
        for (const sql of statements) await this.run(sql);
        await this.run('COMMIT');
        return;
      } catch (err) {
        await this.conn.query('ROLLBACK').catch(() => {});
        if (!RETRYABLE.has((err as { errno?: number }).errno ?? 0) || attempt >= 20) throw err;
      }
    }
  }

  async value(sql: string): Promise<string> {
    const [rows] = await this.conn.query<mysql.RowDataPacket[]>(sql);
    return String(Object.values(rows[0] ?? {})[0]);
  }

  async close(): Promise<void> {
    await this.conn.end().catch(() => this.conn.destroy());
  }
}

export async function runTorture(source: Source, opts: TortureOptions = {}): Promise<TortureRun> {
  const seed = opts.seed ?? 1;
  const scale = opts.scale ?? 1;
  const log = opts.log ?? (() => {});
  const r = prng(seed);
  const control = await Session.open(source, 'control');
  const sessions: Session[] = [];
  const scripts = SESSION_FORMATS.map((_, i) => new SessionScript(i, prng(seed * 1000 + i + 1)));
  const perRound = Math.max(5, Math.round(100 * scale));
  const checkpoints: TortureCheckpoint[] = [];
  let round = 0;

  const runAll = async (s: Session, statements: string[]) => {
    for (const sql of statements) await s.run(sql);
  };
  const flush = () => control.run('FLUSH BINARY LOGS');

  /** Every session writes `perRound` transactions at once; their commits interleave around a rotation. */
  const concurrentRound = async () => {
    round++;
    await Promise.all(
      sessions.map(async (s, i) => {
        for (let t = 0; t < perRound; t++) {
          if (i === 0 && t === perRound >> 1) await flush(); // the other sessions keep writing meanwhile
          await s.transaction(scripts[i]!.transaction(round, t));
        }
      }),
    );
  };

  /** Quiesced: nothing in flight; wait into a new second so the time boundary is clean. */
  const checkpoint = async (label: string) => {
    const open = await control.value('SELECT COUNT(*) FROM information_schema.innodb_trx');
    const prepared = (await source.server.query<unknown[]>('XA RECOVER')).length;
    if (open !== '0' || prepared)
      throw new Error(
        `torture: checkpoint ${label}: ${open} open and ${prepared} prepared XA transaction(s)`,
      );
    const boundary = Math.floor(Date.now() / 1000) * 1000 + 1000;
    await sleep(boundary - Date.now() + 20);
    const [status] = await source.server.query<{ File: string; Position: number }[]>('SHOW MASTER STATUS');
    const cp: TortureCheckpoint = {
      label,
      gtid: await control.value('SELECT @@gtid_binlog_pos'),
      nextGtid: null,
      position: { file: status!.File, position: Number(status!.Position) },
      time: new Date(boundary).toISOString().replace('.000Z', 'Z'),
      truth: await fingerprintTables(source.sql, source.endpoint, TORTURE_SCHEMAS),
    };
    checkpoints.push(cp);
    log(`checkpoint ${label}: ${cp.gtid} at ${cp.position.file}:${cp.position.position}, ${cp.time}`);
    return cp;
  };
  /** The first write after a checkpoint, on the control session: its GTID is the checkpoint's next. */
  const firstWrite = async (cp: TortureCheckpoint, sql: string) => {
    await control.run(sql);
    cp.nextGtid = await control.value('SELECT @@last_gtid');
    return cp.nextGtid;
  };

  try {
    const startSeq = seqOf(await control.value('SELECT @@gtid_binlog_pos'));

    // Phase 1, before the backup: schemas, seed rows, a first concurrent round.
    await runAll(control, CREATE_SCHEMA);
    for (const [i, format] of SESSION_FORMATS.entries())
      sessions.push(
        await Session.open(source, `s${i}-${format}`, [
          `SET SESSION binlog_format = '${format}'`,
          // The statement session writes TIMESTAMPs in another zone, with another default database.
          ...(format === 'STATEMENT' ? ["SET SESSION time_zone = '+05:30'", 'USE torture_aux'] : []),
        ]),
      );
    const [stmt, mixed] = [sessions[2]!, sessions[3]!];
    await runAll(control, seedRows(r, scale));
    await concurrentRound();
    await flush();
    const backup = await checkpoint('backup');
    if (opts.onBackupPoint) {
      await opts.onBackupPoint();
      const after = await control.value('SELECT @@gtid_binlog_pos');
      if (after !== backup.gtid)
        throw new Error(`torture: onBackupPoint wrote to the binlog (${backup.gtid} → ${after})`);
    }

    // Phase 2: DDL of every kind, STATEMENT and MIXED sessions with temporary tables.
    const ddl = ddlPhase(r);
    await firstWrite(backup, "INSERT INTO torture.journal (label) VALUES ('after backup')");
    await runAll(control, ddl.ddl);
    await runAll(stmt, ddl.statementBeforeFlush);
    await flush(); // the temporary table lives on in the next binlog file
    await runAll(stmt, ddl.statementAfterFlush);
    await runAll(mixed, ddl.mixed);
    await concurrentRound();
    const afterDdl = await checkpoint('after-ddl-and-statement-formats');

    // Phase 3: a transaction larger than max_binlog_size, a 17 MiB row, a scratch schema, no-PK rows.
    const big = bigPhase(r);
    await firstWrite(afterDdl, "INSERT INTO torture.journal (label) VALUES ('after ddl')");
    await runAll(control, big.bigTransaction);
    await runAll(control, big.hugeRow);
    await runAll(control, big.scratch);
    await runAll(control, big.noPrimaryKey);
    await runAll(control, big.types);
    await concurrentRound();
    await flush();
    const afterBig = await checkpoint('after-big-transactions');

    // Phase 4: CREATE … SELECT, savepoints, rollbacks, XA, a procedure inside a transaction, non-
    // transactional writes inside STATEMENT transactions, teardown DDL (what only the applier replays).
    const trx = transactionsPhase(r, seed);
    await firstWrite(afterBig, "INSERT INTO torture.journal (label) VALUES ('after big')");
    await runAll(control, trx.createSelect);
    await runAll(control, trx.control);
    await detachedXa(source, trx.detachedXa, control);
    await runAll(stmt, trx.statement);
    await runAll(control, trx.teardown);
    await concurrentRound();
    const last = await checkpoint('before-accident');

    // The accident.
    const dropGtid = await firstWrite(last, ACCIDENT.drop);
    await control.run(ACCIDENT.delete);
    const deleteGtid = await control.value('SELECT @@last_gtid');
    const finalGtid = await control.value('SELECT @@gtid_binlog_pos');
    const finalTruth = await fingerprintTables(source.sql, source.endpoint, TORTURE_SCHEMAS);
    await source.archiver.waitCaughtUp(60_000);
    await source.archiver.sync();
    return {
      seed,
      checkpoints,
      accidentGtid: dropGtid,
      accident: { dropGtid, deleteGtid, statements: ACCIDENT },
      finalGtid,
      finalTruth,
      transactions: seqOf(finalGtid) - startSeq,
    };
  } finally {
    await Promise.all([control, ...sessions].map((s) => s.close()));
  }
}

/** XA PREPARE on a connection that then goes away; the control session commits it once it is detached. */
async function detachedXa(source: Source, xa: { xid: string; prepare: string }, control: Session) {
  const s = await Session.open(source, 'xa-detached');
  await s.run(xa.prepare);
  await s.close();
  for (let i = 0; ; i++) {
    try {
      return await control.run(`XA COMMIT ${xa.xid}`);
    } catch (err) {
      if (i >= 100) throw err; // the server detaches the prepared transaction once the thread has ended
      await sleep(50);
    }
  }
}

function seqOf(gtidPos: string): number {
  const m = /^\d+-\d+-(\d+)$/.exec(gtidPos.trim());
  return m ? Number(m[1]) : 0;
}
