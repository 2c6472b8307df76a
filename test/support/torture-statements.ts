// The SQL text of the torture workload (test/support/torture.ts runs it). Everything here is a pure
// function of a seeded generator, so a seed always yields the same statements; values are literals,
// so a statement-format replay reproduces them exactly. Sessions write disjoint keys, so the data a
// run leaves does not depend on how the concurrent sessions interleave.
import mysql from 'mysql2/promise';

export type Rng = () => number;

/** mulberry32: small, fast, and the same sequence on every platform for a given seed. */
export function prng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const str = (s: string): string => mysql.escape(s);
const pad = (n: number | string, w = 2): string => String(n).padStart(w, '0');
const hex = (r: Rng, n: number): string =>
  n === 0 ? "''" : `X'${Array.from({ length: n }, () => pad(int(r, 0, 255).toString(16))).join('')}'`;
const digits = (r: Rng, n: number): string => Array.from({ length: n }, () => int(r, 0, 9)).join('');

/** Text with 4-byte characters (emoji, musical symbols), accents and quotes. */
const WORDS = [
  'naïve',
  'café',
  '😀',
  '𝄞 clef',
  "o'brien",
  'back\\slash',
  'ünïcödé',
  '🚀🔥',
  'plain',
  'ＦＵＬＬ',
];
export const words = (r: Rng, n: number): string => Array.from({ length: n }, () => pick(r, WORDS)).join(' ');

/** A money amount as a DECIMAL(12,2) literal. */
export const amount = (r: Rng): string => `${int(r, 1, 5000)}.${pad(int(r, 0, 99))}`;

/** A TIMESTAMP(6) literal that exists in every time zone (no DST gap between 04:00 and 20:59). */
export const instant = (r: Rng): string =>
  `'${int(r, 2001, 2030)}-${pad(int(r, 1, 12))}-${pad(int(r, 1, 28))} ${pad(int(r, 4, 20))}:${pad(int(r, 0, 59))}:${pad(int(r, 0, 59))}.${digits(r, 6)}'`;

export const SCHEMAS = { main: 'torture', aux: 'torture_aux', scratch: 'torture_scratch' } as const;

/** Tables and routines that exist from the start (before the backup point). */
export const CREATE_SCHEMA = [
  'CREATE DATABASE torture CHARACTER SET utf8mb4',
  'CREATE DATABASE torture_aux CHARACTER SET utf8mb4',
  `CREATE TABLE torture.accounts (id INT PRIMARY KEY, owner VARCHAR(64) NOT NULL, balance DECIMAL(14,2) NOT NULL,
    updated DATETIME(6) NOT NULL, note TEXT NULL) ENGINE=InnoDB`,
  `CREATE TABLE torture.ledger (id BIGINT PRIMARY KEY, account_id INT NOT NULL, amount DECIMAL(12,2) NOT NULL,
    kind ENUM('debit','credit','stmt','proc','xa','savepoint') NOT NULL, at TIMESTAMP(6) NOT NULL, KEY (account_id)) ENGINE=InnoDB`,
  `CREATE TABLE torture.all_types (id INT PRIMARY KEY,
    c_tinyint TINYINT, c_utinyint TINYINT UNSIGNED, c_smallint SMALLINT, c_usmallint SMALLINT UNSIGNED,
    c_mediumint MEDIUMINT, c_umediumint MEDIUMINT UNSIGNED, c_int INT, c_uint INT UNSIGNED,
    c_bigint BIGINT, c_ubigint BIGINT UNSIGNED, c_decimal DECIMAL(20,6), c_float FLOAT, c_double DOUBLE,
    c_bit BIT(13), c_date DATE, c_time TIME(6), c_datetime DATETIME(6), c_timestamp TIMESTAMP(6) NULL DEFAULT NULL,
    c_year YEAR, c_char CHAR(8), c_varchar VARCHAR(64) COLLATE utf8mb4_bin, c_binary BINARY(6), c_varbinary VARBINARY(32),
    c_blob BLOB, c_text TEXT, c_enum ENUM('red','green','blue'), c_set SET('a','b','c','d'), c_json JSON,
    c_point POINT NULL, c_geometry GEOMETRY NULL) ENGINE=InnoDB`,
  // No primary key and no index at all: a row-based applier finds rows by a full scan of equal images.
  'CREATE TABLE torture.nopk (k INT NOT NULL, v VARCHAR(32) NOT NULL, n INT NOT NULL) ENGINE=InnoDB',
  'CREATE TABLE torture.journal (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(64) NOT NULL) ENGINE=InnoDB',
  // Non-transactional: survives the ROLLBACK of a transaction that also wrote InnoDB rows.
  'CREATE TABLE torture.counters (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=MyISAM',
  `CREATE TABLE torture.stmt_log (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(64) NOT NULL, r DOUBLE NULL,
    parent INT NULL) ENGINE=InnoDB`,
  `CREATE TABLE torture_aux.copies (id INT PRIMARY KEY, owner VARCHAR(64) NOT NULL, balance DECIMAL(14,2) NOT NULL)
    ENGINE=InnoDB`,
];

/** Concurrent sessions, each with its own binlog format, owning a disjoint key range. */
export const SESSION_FORMATS = ['ROW', 'ROW', 'STATEMENT', 'MIXED'] as const;
export const SEED_ACCOUNTS = 40;
const accountId = (session: number, i: number) => (session + 1) * 100_000 + i;

export function seedRows(r: Rng, scale: number): string[] {
  const accounts: string[] = [];
  SESSION_FORMATS.forEach((_, s) => {
    for (let i = 1; i <= SEED_ACCOUNTS; i++)
      accounts.push(
        `(${accountId(s, i)}, ${str(words(r, 2))}, ${amount(r)}, ${instant(r)}, ${str(words(r, 3))})`,
      );
  });
  const types = Array.from(
    { length: Math.max(10, Math.round(40 * scale)) },
    (_, i) => `(${typesRow(r, i + 1)})`,
  );
  const nopk: string[] = [];
  for (let k = 1; k <= Math.max(10, Math.round(60 * scale)); k++) {
    const copies = int(r, 1, 3); // duplicates: identical rows a row-based applier must tell apart by count
    for (let c = 0; c < copies; c++) nopk.push(`(${k}, 'v${k}', 0)`);
  }
  return [
    `INSERT INTO torture.accounts VALUES ${accounts.join(', ')}`,
    `INSERT INTO torture.all_types VALUES ${types.join(', ')}`,
    `INSERT INTO torture.nopk VALUES ${nopk.join(', ')}`,
    'INSERT INTO torture.counters VALUES (1, 0), (2, 0)',
  ];
}

/** One row of torture.all_types: every column family, extremes, 4-byte characters, some NULLs. */
export function typesRow(r: Rng, id: number): string {
  const n = (v: string): string => (r() < 0.12 ? 'NULL' : v);
  const x = () => (int(r, -4000, 4000) / 8).toString();
  const geometries = [
    `ST_GeomFromText('LINESTRING(0 0, ${x()} ${x()}, 3 4)')`,
    `ST_GeomFromText('POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))')`,
    `ST_GeomFromText('POINT(${x()} ${x()})')`,
  ];
  const json = JSON.stringify({ id, w: words(r, 2), a: [int(r, -9, 9), 2.5, null, true], o: { e: 'é😀' } });
  return [
    String(id),
    n(String(pick(r, [-128, 127, int(r, -128, 127)]))),
    n(String(pick(r, [0, 255, int(r, 0, 255)]))),
    n(String(int(r, -32768, 32767))),
    n(String(int(r, 0, 65535))),
    n(String(int(r, -8388608, 8388607))),
    n(String(int(r, 0, 16777215))),
    n(String(pick(r, [-2147483648, 2147483647, int(r, -2147483648, 2147483647)]))),
    n(String(int(r, 0, 4294967295))),
    n(pick(r, ['-9223372036854775808', '9223372036854775807', `-${int(r, 1, 9)}${digits(r, 17)}`])),
    n(pick(r, ['18446744073709551615', '0', `${int(r, 1, 9)}${digits(r, 18)}`])),
    n(`${pick(r, ['-', ''])}${int(r, 0, 99999999)}${digits(r, 6)}.${digits(r, 6)}`),
    n(x()),
    n(pick(r, ['2.718281828459045', '-1e300', '1e-300', x()])),
    n(`b'${Array.from({ length: 13 }, () => int(r, 0, 1)).join('')}'`),
    n(
      pick(r, [
        "'1000-01-01'",
        "'9999-12-31'",
        `'${int(r, 1970, 2037)}-${pad(int(r, 1, 12))}-${pad(int(r, 1, 28))}'`,
      ]),
    ),
    n(
      pick(r, [
        "'-838:59:59.000000'",
        "'838:59:59.000000'",
        `'${pad(int(r, 0, 23))}:${pad(int(r, 0, 59))}:00.${digits(r, 6)}'`,
      ]),
    ),
    n(pick(r, ["'1000-01-01 00:00:00.000000'", "'9999-12-31 23:59:59.999999'", instant(r)])),
    n(instant(r)),
    n(pick(r, ['1901', '2155', '0000', String(int(r, 1901, 2155))])),
    n(str(pick(r, ['', 'abc', 'trail  ', 'ÄÖÜ']))),
    n(str(words(r, int(r, 1, 4)))),
    n(hex(r, int(r, 1, 6))),
    n(hex(r, int(r, 0, 32))),
    n(hex(r, int(r, 0, 300))),
    n(str(words(r, int(r, 1, 30)))),
    n(str(pick(r, ['red', 'green', 'blue']))),
    n(str(pick(r, ['', 'a', 'a,c', 'b,d', 'a,b,c,d']))),
    n(str(json)),
    n(`POINT(${x()}, ${x()})`),
    n(pick(r, geometries)),
  ].join(', ');
}

/**
 * One transaction of a concurrent session, as separate statements (one round trip each, so commits
 * of different sessions interleave). The first statement carries a comment naming the session, which
 * the binlog keeps (Annotate_rows, or the Query event itself under STATEMENT).
 */
export class SessionScript {
  private nextLedger: number;
  private nextAccount = SEED_ACCOUNTS + 1;
  private nextTypes: number;
  private readonly ledger: number[] = [];
  private readonly typesIds: number[] = [];

  constructor(
    readonly session: number,
    private readonly r: Rng,
  ) {
    this.nextLedger = (session + 1) * 10_000_000;
    this.nextTypes = (session + 1) * 100_000;
  }

  transaction(round: number, i: number): string[] {
    const r = this.r;
    const tag = `/* torture session ${this.session} round ${round} txn ${i} */`;
    const kind = r();
    const own = () => accountId(this.session, int(r, 1, SEED_ACCOUNTS));
    if (kind < 0.55) {
      const [a, b, amt, at] = [own(), own(), amount(r), instant(r)];
      const [l1, l2] = [this.nextLedger++, this.nextLedger++];
      this.ledger.push(l1, l2);
      return [
        `${tag} INSERT INTO torture.ledger VALUES (${l1}, ${a}, -${amt}, 'debit', ${at}), (${l2}, ${b}, ${amt}, 'credit', ${at})`,
        `UPDATE torture.accounts SET balance = balance - ${amt}, updated = ${at} WHERE id = ${a}`,
        `UPDATE torture.accounts SET balance = balance + ${amt}, updated = ${at} WHERE id = ${b}`,
      ];
    }
    if (kind < 0.7) {
      const id = accountId(this.session, this.nextAccount++);
      return [
        `${tag} INSERT INTO torture.accounts (id, owner, balance, updated) VALUES (${id}, ${str(words(r, 2))}, ${amount(r)}, ${instant(r)})`,
      ];
    }
    if (kind < 0.85 || !this.ledger.length) {
      if (this.typesIds.length && r() < 0.5) {
        const id = pick(r, this.typesIds);
        return r() < 0.5
          ? [`${tag} REPLACE INTO torture.all_types VALUES (${typesRow(r, id)})`]
          : [
              `${tag} UPDATE torture.all_types SET c_int = ${int(r, -1000, 1000)}, c_varchar = ${str(words(r, 2))},
                c_json = NULL, c_bit = b'${int(r, 0, 1)}01' WHERE id = ${id}`,
            ];
      }
      const id = this.nextTypes++;
      this.typesIds.push(id);
      return [`${tag} INSERT INTO torture.all_types VALUES (${typesRow(r, id)})`];
    }
    const victim = this.ledger.splice(int(r, 0, this.ledger.length - 1), 1)[0]!;
    return [`${tag} DELETE FROM torture.ledger WHERE id = ${victim}`];
  }
}

// ---- Phases after the backup point -------------------------------------------------------------

const ledgerIds = (base: number) => {
  let next = base;
  return () => next++;
};
const stmtAccount = (r: Rng) => accountId(2, int(r, 1, SEED_ACCOUNTS));

/** Every DDL kind and work under STATEMENT and MIXED formats (CREATE … SELECT comes in phase 4). */
export function ddlPhase(r: Rng) {
  const id = ledgerIds(90_000_000);
  const events = Array.from({ length: 20 }, (_, i) => `(${i + 1}, ${str(words(r, 2))}, ${instant(r)})`);
  const stage = Array.from({ length: 20 }, () => `(${id()}, ${stmtAccount(r)}, ${amount(r)})`);
  return {
    ddl: [
      `CREATE TABLE torture.events_staging (id INT PRIMARY KEY, what VARCHAR(64) NOT NULL, at DATETIME(6) NOT NULL)
        ENGINE=InnoDB`,
      `INSERT INTO torture.events_staging VALUES ${events.join(', ')}`,
      'RENAME TABLE torture.events_staging TO torture.events',
      "ALTER TABLE torture.accounts ADD COLUMN region VARCHAR(8) NOT NULL DEFAULT 'eu' AFTER owner",
      'ALTER TABLE torture.accounts DROP COLUMN note',
      'ALTER TABLE torture.ledger ADD INDEX ix_kind (kind)',
      'CREATE INDEX ix_owner ON torture.accounts (owner)',
      'CREATE INDEX ix_dec ON torture.all_types (c_decimal)',
      'DROP INDEX ix_dec ON torture.all_types',
      'CREATE VIEW torture.v_rich AS SELECT id, owner, balance FROM torture.accounts WHERE balance > 1000',
      `CREATE TRIGGER torture.ledger_ai AFTER INSERT ON torture.ledger FOR EACH ROW
        UPDATE torture.accounts SET balance = balance + NEW.amount WHERE id = NEW.account_id`,
      `CREATE PROCEDURE torture.pay(IN p_id BIGINT, IN p_account INT, IN p_amount DECIMAL(12,2))
       BEGIN
         INSERT INTO torture.ledger VALUES (p_id, p_account, p_amount, 'proc', '2024-05-05 05:05:05.050505');
         UPDATE torture.accounts SET updated = '2024-05-05 05:05:05.050505' WHERE id = p_account;
       END`,
      "UPDATE torture.accounts SET region = 'us' WHERE id % 5 = 0",
    ],
    /** Run on the STATEMENT session; the temporary table stays open across a FLUSH BINARY LOGS. */
    statementBeforeFlush: [
      `CREATE TEMPORARY TABLE torture.tmp_stage (id BIGINT PRIMARY KEY, account_id INT NOT NULL,
        amount DECIMAL(12,2) NOT NULL)`,
      `INSERT INTO torture.tmp_stage VALUES ${stage.join(', ')}`,
    ],
    statementAfterFlush: [
      // The trigger fires again when this statement is replayed.
      `INSERT INTO torture.ledger SELECT id, account_id, amount, 'stmt', '2024-03-10 02:30:00.000001'
        FROM torture.tmp_stage ORDER BY id`,
      `UPDATE torture.accounts SET balance = balance - 1 WHERE id >= ${accountId(2, 1)} ORDER BY id LIMIT 5`,
      "INSERT INTO torture.stmt_log (msg, r) VALUES ('rand', RAND() >= 0)",
      "INSERT INTO torture.stmt_log (msg) VALUES ('parent')",
      "INSERT INTO torture.stmt_log (msg, parent) VALUES ('child', LAST_INSERT_ID())",
      `SET @who = ${str(words(r, 3))}`,
      'INSERT INTO torture.stmt_log (msg) VALUES (@who)',
      'INSERT INTO torture_aux.copies SELECT id, owner, balance FROM torture.accounts ORDER BY id LIMIT 20',
      ...[1, 2, 3].map((i) => `INSERT INTO torture.all_types VALUES (${typesRow(r, 80_000 + i)})`),
      `START TRANSACTION; CALL torture.pay(${id()}, ${stmtAccount(r)}, ${amount(r)});
        CALL torture.pay(${id()}, ${stmtAccount(r)}, -${amount(r)}); COMMIT`,
      'DELETE FROM torture.stmt_log ORDER BY id LIMIT 1',
      'DROP TEMPORARY TABLE torture.tmp_stage',
    ],
    /** Run on the MIXED session: safe statements stay statements, unsafe ones become rows. */
    mixed: [
      'CREATE TEMPORARY TABLE torture.tmp_mix (k INT NOT NULL, v VARCHAR(32) NOT NULL, n INT NOT NULL)',
      "INSERT INTO torture.tmp_mix VALUES (1001, 'm1', 0), (1001, 'm1', 0), (1002, 'm2', 0), (1003, 'm3', 0)",
      'INSERT INTO torture.nopk SELECT k, v, n FROM torture.tmp_mix',
      'INSERT INTO torture.nopk SELECT k + 1000, v, n FROM torture.tmp_mix LIMIT 2',
      'UPDATE torture.nopk SET n = n + 10 WHERE k = 1001 LIMIT 1',
      "INSERT INTO torture.stmt_log (msg, r) VALUES (CONCAT('uuid ', LENGTH(UUID())), 1)",
      'DROP TEMPORARY TABLE torture.tmp_mix',
    ],
  };
}

export const HUGE_ROW_BYTES = 17 * 1024 * 1024;

/** A transaction larger than max_binlog_size, a row larger than 16 MiB, a scratch schema, no-PK rows. */
export function bigPhase(r: Rng) {
  return {
    bigTransaction: [
      'CREATE TABLE torture.bulk (id INT PRIMARY KEY, body VARCHAR(1000) NOT NULL, n INT NOT NULL) ENGINE=InnoDB',
      // ≈ 2.7 MB of row events in one transaction, with the 1M max_binlog_size.
      `START TRANSACTION;
       INSERT INTO torture.bulk SELECT seq, REPEAT(CHAR(65 + seq % 26), 900), seq FROM torture.seq_1_to_2400;
       UPDATE torture.bulk SET n = n * 2 WHERE id % 8 = 0;
       DELETE FROM torture.bulk WHERE id % 50 = 0;
       COMMIT`,
    ],
    hugeRow: [
      'CREATE TABLE torture.big_blob (id INT PRIMARY KEY, label VARCHAR(32) NOT NULL, payload LONGBLOB NOT NULL) ENGINE=InnoDB',
      `INSERT INTO torture.big_blob VALUES (1, 'seventeen-mib', REPEAT('torture!', ${HUGE_ROW_BYTES / 8})), (2, 'small', 'x')`,
    ],
    scratch: [
      'CREATE DATABASE torture_scratch CHARACTER SET utf8mb4',
      'CREATE TABLE torture_scratch.notes (id INT PRIMARY KEY, body TEXT NOT NULL) ENGINE=InnoDB',
      `INSERT INTO torture_scratch.notes VALUES ${Array.from({ length: 30 }, (_, i) => `(${i + 1}, ${str(words(r, 4))})`).join(', ')}`,
    ],
    noPrimaryKey: [
      'UPDATE torture.nopk SET n = n + 1 WHERE k = 3 LIMIT 1',
      'DELETE FROM torture.nopk WHERE k = 5 LIMIT 1',
      "UPDATE torture.nopk SET v = CONCAT(v, '+') WHERE k BETWEEN 10 AND 20",
      'DELETE FROM torture.nopk WHERE k % 11 = 0',
      "INSERT INTO torture.nopk VALUES (7, 'v7', 0), (7, 'v7', 0), (7, 'v7', 1)",
      'UPDATE torture.nopk SET n = n + 100 WHERE k = 7 AND n = 0 LIMIT 1',
    ],
    types: [
      'UPDATE torture.all_types SET c_text = NULL, c_point = NULL, c_set = NULL WHERE id % 4 = 0',
      "UPDATE torture.all_types SET c_json = JSON_SET(COALESCE(c_json, '{}'), '$.touched', TRUE) WHERE id % 3 = 0",
      'DELETE FROM torture.all_types WHERE id % 9 = 0',
    ],
  };
}

/**
 * CREATE … SELECT, savepoints, rollbacks, XA (committed, rolled back, committed by another session),
 * a procedure call, and STATEMENT-format transactions that also write a non-transactional table. The
 * first and the last are shapes a client-side replay cannot apply as the source did: they come last,
 * so the windows up to the earlier checkpoints stay replayable by every strategy.
 */
export function transactionsPhase(r: Rng, seed: number) {
  const id = ledgerIds(91_000_000);
  const acc = () => accountId(0, int(r, 1, SEED_ACCOUNTS));
  const row = (kind: string) => `(${id()}, ${acc()}, ${amount(r)}, '${kind}', ${instant(r)})`;
  const xid = (what: string) => `'torture-${seed}-${what}'`;
  const xa = (name: string, end: string) =>
    `XA START ${xid(name)}; INSERT INTO torture.ledger VALUES ${row('xa')};
     UPDATE torture.accounts SET balance = balance * 2 WHERE id = ${acc()};
     XA END ${xid(name)}; XA PREPARE ${xid(name)}; ${end} ${xid(name)}`;
  return {
    // ROW format: one GTID group flagged ddl holding the CREATE and its row events.
    createSelect: [
      `CREATE TABLE torture.accounts_snapshot ENGINE=InnoDB
        SELECT id, owner, balance FROM torture.accounts WHERE id % 3 = 0`,
    ],
    control: [
      `START TRANSACTION; INSERT INTO torture.ledger VALUES ${row('savepoint')}; SAVEPOINT sp1;
       UPDATE torture.accounts SET balance = balance + 100 WHERE id = ${acc()};
       INSERT INTO torture.ledger VALUES ${row('savepoint')}; ROLLBACK TO SAVEPOINT sp1;
       SAVEPOINT sp2; INSERT INTO torture.ledger VALUES ${row('savepoint')}; RELEASE SAVEPOINT sp2; COMMIT`,
      // InnoDB only: rolled back, so never binlogged.
      `START TRANSACTION; DELETE FROM torture.ledger WHERE id % 2 = 0; UPDATE torture.accounts SET balance = 0;
       ROLLBACK`,
      xa('commit', 'XA COMMIT'),
      xa('rollback', 'XA ROLLBACK'),
      `START TRANSACTION; CALL torture.pay(${id()}, ${acc()}, ${amount(r)});
       UPDATE torture.v_rich SET balance = balance + 1 WHERE id BETWEEN ${accountId(0, 1)} AND ${accountId(0, 20)};
       CALL torture.pay(${id()}, ${acc()}, ${amount(r)}); COMMIT`,
    ],
    /** Prepared on a connection that then disconnects; another session commits it. */
    detachedXa: {
      xid: xid('detached'),
      prepare: `XA START ${xid('detached')}; INSERT INTO torture.ledger VALUES ${row('xa')};
        XA END ${xid('detached')}; XA PREPARE ${xid('detached')}`,
    },
    /** On the STATEMENT session: the non-transactional write survives, the binlog says ROLLBACK. */
    statement: [
      `START TRANSACTION; INSERT INTO torture.ledger VALUES ${row('stmt')};
       UPDATE torture.counters SET n = n + 1 WHERE id = 1; ROLLBACK`,
      `START TRANSACTION; INSERT INTO torture.ledger VALUES ${row('stmt')}; SAVEPOINT s1;
       INSERT INTO torture.ledger VALUES ${row('stmt')}; UPDATE torture.counters SET n = n + 5 WHERE id = 2;
       ROLLBACK TO SAVEPOINT s1; COMMIT`,
    ],
    teardown: [
      'DROP INDEX ix_owner ON torture.accounts',
      'TRUNCATE TABLE torture.events',
      `INSERT INTO torture.events VALUES (1, 'after truncate', ${instant(r)})`,
      'DROP TABLE torture.bulk',
      'DROP DATABASE torture_scratch',
      'RENAME TABLE torture.accounts_snapshot TO torture_aux.accounts_snapshot',
    ],
  };
}

/** After the last checkpoint: a main table dropped, then most of the ledger deleted. */
export const ACCIDENT = {
  drop: 'DROP TABLE torture.accounts',
  delete: "DELETE FROM torture.ledger WHERE kind IN ('debit', 'credit') AND id % 3 <> 0",
} as const;
