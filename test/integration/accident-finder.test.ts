// The accident finder on real MariaDB binlogs with known answers: a workload that writes the accident
// at a GTID it records (with ROW_COUNT() as the rows' ground truth), decoys around it (a big UPDATE
// on another table, a DROP of a same-named table in another schema, a small DELETE), a STATEMENT-format
// phase, a table whose name needs backquotes, and a damaged copy of the archive. Positions are checked
// against mariadb-binlog's own "# at" lines, not the finder's reading.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { copyFile, mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ApplicationFailure } from '@temporalio/common';
import { startMariadbServer, type MariadbServer } from '../../scripts/lib/mariadb-server';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { projectRoot } from '../../scripts/lib/tools';
import { FsArchive } from '../../activities/archive/archive-fs';
import { refreshIndex } from '../../activities/archive/archive-index';
import { findAccidentIn } from '../../activities/archive/accident-activity';
import type { FindQuery } from '../../activities/archive/accident-finder';
import { writeCatalogEntry } from '../support/fleet';
import { flipBitInEventBody } from '../support/damage';
import { RecoveryTarget } from '../../workflows/schemas';

let base: string;
let server: MariadbServer;
let archiveDir: string;
const truth = {
  smallDelete: '',
  customersUpdate: '',
  otherSchemaDrop: '',
  quotedDrop: '',
  accident: '',
  accidentRows: 0,
  statementStart: '',
  statementUpdate: '',
  statementEveryRow: '',
  statementDrop: '',
  ledgerDelete: '',
  ledgerLast: '',
};

type Multi = Record<string, unknown>[][];
/** Runs `sql` on one connection and returns @@last_gtid (and ROW_COUNT() of the statement before). */
async function gtidOf(sql: string): Promise<{ gtid: string; rows: number }> {
  const r = (await server.query(`${sql}; SELECT @@last_gtid AS g, ROW_COUNT() AS n`)) as unknown as Multi;
  const last = r.at(-1)![0]!;
  return { gtid: String(last.g), rows: Number(last.n) };
}

const nextSecond = async () => {
  await new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000)));
  return new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
};

const find = (q: Omit<FindQuery, 'table'> & { table?: string }, dir = archiveDir) =>
  findAccidentIn({ kind: 'fs', dir }, { table: 'shop.orders', ...q });

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'accident-finder-'));
  server = await startMariadbServer({ baseDir: join(base, 'src'), serverId: 7 });
  await server.query(`
    CREATE DATABASE shop; CREATE DATABASE archive2; CREATE DATABASE \`my-db\`;
    CREATE TABLE shop.orders (id INT PRIMARY KEY, customer_id INT NOT NULL, amount DECIMAL(10,2) NOT NULL,
      status VARCHAR(16) NOT NULL, note TEXT NULL, created DATETIME(3) NOT NULL, flags BIT(3) NOT NULL DEFAULT 0,
      kind ENUM('web','shop') NOT NULL DEFAULT 'web', code CHAR(3) NULL, price DOUBLE NULL, ts TIMESTAMP(6) NULL,
      big BIGINT NULL, js JSON NULL, tags SET('a','b','c') NULL, y YEAR NULL, d DATE NULL, t TIME(2) NULL) ENGINE=InnoDB;
    CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(300) NOT NULL, tier VARCHAR(16) NOT NULL);
    CREATE TABLE archive2.orders (id INT PRIMARY KEY);
    CREATE TABLE shop.ledger (id INT PRIMARY KEY, v INT NOT NULL);
    CREATE TABLE \`my-db\`.\`order items\` (id INT PRIMARY KEY, v VARCHAR(10));`);
  // 40 small transactions of 50 rows: the table's usual transaction size.
  for (let k = 0; k < 40; k++) {
    const rows = Array.from({ length: 50 }, (_, i) => {
      const id = k * 50 + i + 1;
      const note = id % 7 ? `'${'n'.repeat(id % 300)}'` : 'NULL';
      return `(${id}, ${id % 97}, ${id}.25, 'new', ${note}, NOW(3), b'101', 'shop', ${id % 3 ? "'abc'" : 'NULL'}, 1.5, NOW(6), ${id * 1e9}, '{"k":${id}}', 'a,c', 2026, '2026-12-07', '12:34:56.78')`;
    });
    await server.query(`INSERT INTO shop.orders VALUES ${rows.join(',')}`);
  }
  await server.query(
    `INSERT INTO shop.customers VALUES ${Array.from({ length: 1000 }, (_, i) => `(${i}, 'c${i}', 'gold')`).join(',')}`,
  );
  // A busy table: a big DELETE, then 250 one-row transactions (more than the listing holds).
  await server.query(
    `INSERT INTO shop.ledger VALUES ${Array.from({ length: 1500 }, (_, i) => `(${i}, ${i})`).join(',')}`,
  );
  truth.ledgerDelete = (await gtidOf('DELETE FROM shop.ledger WHERE id >= 300')).gtid;
  truth.ledgerLast = (
    await gtidOf(
      Array.from({ length: 250 }, (_, i) => `INSERT INTO shop.ledger VALUES (${5000 + i}, ${i})`).join('; '),
    )
  ).gtid;
  truth.smallDelete = (await gtidOf('DELETE FROM shop.orders WHERE id IN (1, 2, 3)')).gtid;
  for (let i = 10; i < 15; i++)
    await server.query(`UPDATE shop.orders SET status = 'paid' WHERE id BETWEEN ${i * 10} AND ${i * 10 + 4}`);
  await server.query('FLUSH BINARY LOGS');
  truth.customersUpdate = (await gtidOf("UPDATE shop.customers SET tier = 'lead'")).gtid;
  truth.otherSchemaDrop = (await gtidOf('DROP TABLE archive2.orders')).gtid;
  await server.query("INSERT INTO `my-db`.`order items` VALUES (1, 'x')");
  truth.quotedDrop = (await gtidOf('DROP TABLE `my-db`.`order items`')).gtid;
  const accident = await gtidOf('DELETE FROM shop.orders WHERE id > 100');
  [truth.accident, truth.accidentRows] = [accident.gtid, accident.rows];
  await server.query(
    "INSERT INTO shop.orders (id, customer_id, amount, status, created) VALUES (5000, 1, 1, 'new', NOW())",
  );
  await server.query('FLUSH BINARY LOGS');
  // STATEMENT format, from the next second on: statements, not rows.
  truth.statementStart = await nextSecond();
  const stmt = (sql: string) =>
    gtidOf(`SET SESSION binlog_format = 'STATEMENT'; ${sql}; SET SESSION binlog_format = 'ROW'`);
  truth.statementUpdate = (await stmt("UPDATE shop.orders SET status = 'x' WHERE id = 50")).gtid;
  truth.statementEveryRow = (await stmt("/* oops */ update `shop`.orders set status = 'lost'")).gtid;
  truth.statementDrop = (await stmt('DROP TABLE IF EXISTS archive2.nothing, shop.orders')).gtid;
  await server.query('FLUSH BINARY LOGS');
  archiveDir = join(base, 'archive');
  await mkdir(archiveDir);
  for (const f of (await readdir(server.datadir)).filter((n) => /^mysql-bin\.\d{6}$/.test(n)))
    await copyFile(join(server.datadir, f), join(archiveDir, f));
  await refreshIndex(new FsArchive(archiveDir), join(base, 'staging'));
});

after(async () => {
  await server?.destroy();
  if (base) await removeTestDir(base);
});

/** Where mariadb-binlog says the GTID event of `gtid` starts ("# at N" before "GTID 0-7-N"). */
async function gtidEventAt(gtid: string): Promise<{ file: string; position: number }> {
  for (const file of (await readdir(archiveDir)).filter((n) => /^mysql-bin\.\d{6}$/.test(n)).sort()) {
    const { stdout } = await execa('mariadb-binlog', ['--no-defaults', join(archiveDir, file)]);
    const lines = stdout.split('\n');
    const i = lines.findIndex((l) => new RegExp(`\\sGTID ${gtid}( |$)`).test(l));
    if (i < 0) continue;
    const at = lines
      .slice(0, i)
      .reverse()
      .find((l) => l.startsWith('# at '))!;
    return { file, position: Number(at.slice(5)) };
  }
  throw new Error(`${gtid} not in the archive`);
}

describe('runbook find: the accident in real binlogs', () => {
  test('ROW format: names exactly the big DELETE, with its rows, and the target that stops just before it', async () => {
    const r = await find({ to: new Date(Date.parse(truth.statementStart) - 1000).toISOString() });
    assert.equal(r.accident?.gtid, truth.accident);
    assert.deepEqual(r.target, { type: 'gtid', gtid: truth.accident, exclusive: true });
    const at = await gtidEventAt(truth.accident);
    assert.deepEqual(r.positionTarget, { type: 'position', ...at });
    assert.deepEqual(r.accident?.changes, [{ kind: 'delete', rows: truth.accidentRows, how: 'exact' }]);
    assert.equal(truth.accidentRows, 1900);
    assert.equal(r.accident?.serverId, 7);
    assert.match(r.accident!.statement, /DELETE FROM shop\.orders WHERE id > 100/);
    // The decoys: the small DELETE is listed and not flagged; other tables are not listed at all.
    const small = r.listed.find((t) => t.gtid === truth.smallDelete);
    assert.deepEqual(small?.changes, [{ kind: 'delete', rows: 3, how: 'exact' }]);
    assert.equal(small?.flag, undefined);
    for (const g of [truth.customersUpdate, truth.otherSchemaDrop, truth.quotedDrop])
      assert.equal(
        r.listed.find((t) => t.gtid === g),
        undefined,
        g,
      );
    assert.deepEqual(
      r.listed.filter((t) => t.flag).map((t) => t.gtid),
      [truth.accident],
    );
    // 40 inserts of 50 rows, counted exactly through every column type of the table.
    const inserts = r.listed.filter((t) =>
      t.changes.some((c) => c.kind === 'insert' && c.rows === 50 && c.how === 'exact'),
    );
    assert.equal(inserts.length, 40);
    assert.ok(r.window.files.length >= 2);
  });

  test('--kind narrows the listing: --kind delete lists the two DELETEs, --kind drop finds nothing in the ROW phase', async () => {
    const to = new Date(Date.parse(truth.statementStart) - 1000).toISOString();
    const deletes = await find({ to, kind: 'delete' });
    assert.deepEqual(
      deletes.listed.map((t) => t.gtid),
      [truth.smallDelete, truth.accident],
    );
    const drops = await find({ to, kind: 'drop' });
    assert.equal(drops.matching, 0);
    assert.equal(drops.accident, null);
    assert.equal(drops.target, null);
  });

  test('STATEMENT format: the UPDATE without WHERE is the accident; DROP TABLE IF EXISTS a, b of the table is found by --kind drop', async () => {
    const r = await find({ from: truth.statementStart });
    assert.deepEqual(
      r.listed.map((t) => t.gtid),
      [truth.statementUpdate, truth.statementEveryRow, truth.statementDrop],
    );
    assert.equal(
      r.listed[0]!.flag,
      undefined,
      'an UPDATE with a WHERE is not flagged (its rows are not in the binlog)',
    );
    assert.equal(r.accident?.gtid, truth.statementEveryRow);
    assert.match(r.accident!.flag!, /without WHERE or LIMIT/);
    assert.deepEqual(
      r.accident!.changes.map((c) => [c.kind, c.rows, c.how]),
      [['update', null, 'statement']],
    );
    assert.match(r.accident!.statement, /oops.*update `shop`\.orders set status = 'lost'/);
    const drop = await find({ from: truth.statementStart, kind: 'drop' });
    assert.equal(drop.accident?.gtid, truth.statementDrop);
    assert.deepEqual(drop.target, { type: 'gtid', gtid: truth.statementDrop, exclusive: true });
    assert.deepEqual(drop.positionTarget, { type: 'position', ...(await gtidEventAt(truth.statementDrop)) });
  });

  test('a busy table: the listing keeps the flagged DELETE and the latest 200 transactions, and says how many matched', async () => {
    const r = await find({ table: 'shop.ledger' });
    assert.equal(r.matching, 253, 'CREATE TABLE, the 1,500-row INSERT, the DELETE, 250 INSERTs');
    assert.equal(r.accident?.gtid, truth.ledgerDelete);
    assert.equal(r.listed.length, 201);
    assert.equal(r.listed[0]!.gtid, truth.ledgerDelete);
    assert.equal(r.listed.at(-1)!.gtid, truth.ledgerLast);
    assert.deepEqual(r.accident?.changes, [{ kind: 'delete', rows: 1200, how: 'exact' }]);
  });

  test('a table whose name needs backquotes is matched exactly', async () => {
    const r = await find({ table: '`my-db`.`order items`' });
    assert.equal(r.accident?.gtid, truth.quotedDrop);
    assert.equal(r.table, '`my-db`.`order items`');
    const other = await find({ table: 'archive2.orders' });
    assert.equal(other.accident?.gtid, truth.otherSchemaDrop);
  });

  test('bad input is refused by name, before a file is read', async () => {
    const refused = async (q: Parameters<typeof find>[0], type: string, message: RegExp) => {
      const err = (await find(q).then(
        () => assert.fail('not refused'),
        (e: unknown) => e,
      )) as ApplicationFailure;
      assert.equal(err.type, type, err.message);
      assert.match(err.message, message);
    };
    await refused({ table: 'orders' }, 'InvalidInput', /is not schema\.table/);
    await refused({ table: 'shop.orders; DROP' }, 'InvalidInput', /is not schema\.table/);
    await refused(
      { from: '2026-12-07T10:00:00Z', to: '2026-12-07T09:00:00Z' },
      'InvalidInput',
      /is after --to/,
    );
    await refused({ from: 'yesterday' }, 'InvalidInput', /from/);
    await refused({ kind: 'oops' as never }, 'InvalidInput', /kind/);
    await refused(
      { from: '2001-01-01T00:00:00Z', to: '2001-01-02T00:00:00Z' },
      'PlanRefused',
      /no archived binlog covers the window/,
    );
    await refused({ from: '2099-01-01T00:00:00Z' }, 'PlanRefused', /no archived binlog covers the window/);
  });

  test('a file the index does not hold yet is not read, and the result says so', async () => {
    const copy = join(base, 'unindexed');
    await mkdir(copy);
    for (const f of await readdir(archiveDir)) await copyFile(join(archiveDir, f), join(copy, f));
    await copyFile(join(archiveDir, 'mysql-bin.000001'), join(copy, 'mysql-bin.000099'));
    const r = await find({}, copy);
    assert.ok(!r.window.files.includes('mysql-bin.000099'));
    assert.match(
      r.warnings.join('\n'),
      /1 archived file\(s\) are not in the archive's index yet and were not read \(mysql-bin\.000099\)/,
    );
  });

  test('a damaged archive file is refused as damaged, naming the file and offset, never skipped', async () => {
    const copy = join(base, 'damaged');
    await mkdir(copy);
    for (const f of await readdir(archiveDir)) await copyFile(join(archiveDir, f), join(copy, f));
    const at = await gtidEventAt(truth.accident);
    const offset = await flipBitInEventBody(join(copy, at.file));
    const err = (await find({}, copy).then(
      () => assert.fail('not refused'),
      (e: unknown) => e,
    )) as ApplicationFailure;
    assert.equal(err.type, 'ArchiveDamaged');
    assert.match(err.message, new RegExp(`${at.file.replace('.', '\\.')} is damaged at offset ${offset}`));
  });

  test('the CLI: the listing with the likely accident, --emit-target alone as JSON, an unknown cluster refused', async () => {
    const cluster = `find-${process.pid}`;
    await writeCatalogEntry(cluster, {
      runbooks: {
        perconaPointInTimeRecovery: {
          input: {
            cluster: { adapter: 'process', name: 'shop', pidFile: join(base, 'x.pid'), start: ['/bin/true'] },
            backup: { catalog: { kind: 'fs', dir: join(base, 'backups') } },
            restore: { datadir: join(base, 'restore', 'data') },
            archive: { kind: 'fs', dir: archiveDir },
          },
        },
      },
      approval: { required: false },
    });
    const cli = (...args: string[]) =>
      execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'scripts/runbook.ts'), ...args], {
        cwd: projectRoot,
        reject: false,
      });
    const to = new Date(Date.parse(truth.statementStart) - 1000).toISOString();
    const listing = await cli('find', cluster, '--table', 'shop.orders', '--to', to);
    assert.equal(listing.exitCode, 0, listing.stderr);
    assert.match(listing.stdout, new RegExp(`likely accident: ${truth.accident} at `));
    assert.match(
      listing.stdout,
      new RegExp(`\\n! +${truth.accident} .* delete +1900 +7 +DELETE FROM shop\\.orders`),
    );
    const emitted = await cli('find', cluster, '--table', 'shop.orders', '--to', to, '--emit-target');
    assert.equal(emitted.exitCode, 0, emitted.stderr);
    assert.deepEqual(JSON.parse(emitted.stdout), { type: 'gtid', gtid: truth.accident, exclusive: true });
    assert.ok(RecoveryTarget.safeParse(JSON.parse(emitted.stdout)).success, 'a request target as it is');
    const none = await cli('find', cluster, '--table', 'shop.customers', '--kind', 'drop', '--emit-target');
    assert.equal(none.exitCode, 1);
    assert.match(none.stderr, /no likely accident to shop\.customers/);
    const unknown = await cli('find', 'no-such-cluster', '--table', 'shop.orders');
    assert.equal(unknown.exitCode, 2);
    assert.match(unknown.stderr, /no-such-cluster: no usable fleet catalog entry/);
    const bad = await cli('find', cluster, '--table', 'orders');
    assert.equal(bad.exitCode, 2);
    assert.match(bad.stderr, /is not schema\.table/);
  });
});
