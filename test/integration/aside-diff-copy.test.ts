// The diff and the copy-back of a table-level restore aside, on two real MariaDB servers: a scratch
// server holding the table as it was just before an accident (the restored copy) and production, where
// the accident happened and other writes went on. The expected counts come from the rows captured on
// production before and after the accident, not from the code under test.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMariadbServer, type MariadbServer } from '../../scripts/lib/mariadb-server';
import { SqlPools } from '../../activities/mysql/sql';
import { diffTable } from '../../activities/aside/row-diff';
import { copyBackTable, dumpRestoredTable } from '../../activities/aside/copy-back';
import { Ledger } from '../../activities/runtime/ledger';

const sql = new SqlPools();
let base: string;
let scratch: MariadbServer;
let prod: MariadbServer;
const orders = { schema: 'shop', table: 'orders' };
type Rows = Map<number, string>;
let beforeAccident: Rows;
let afterAccident: Rows;
let prodPid: number | null;

const ep = (s: MariadbServer) => ({ socket: s.socket, user: 'root' });
const rowsOf = async (s: MariadbServer, table: string): Promise<Rows> => {
  const rows = await s.query<{ id: number; customer: string; total: string; note: string | null }[]>(
    `SELECT id, customer, total, note FROM shop.${table} ORDER BY id`,
  );
  return new Map(rows.map((r) => [r.id, JSON.stringify([r.customer, r.total, r.note])]));
};
const checksums = async (s: MariadbServer) =>
  JSON.stringify(await s.query('CHECKSUM TABLE shop.orders, shop.customers EXTENDED'));

const SCHEMA = `CREATE DATABASE shop;
  CREATE TABLE shop.orders (id INT PRIMARY KEY, customer VARCHAR(40) CHARACTER SET utf8mb4, total DECIMAL(10,2), note TEXT);
  CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(40));
  CREATE TABLE shop.nokey (a INT, b INT);`;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aside-'));
  [scratch, prod] = await Promise.all([
    startMariadbServer({ baseDir: join(base, 'scratch'), serverId: 11 }),
    startMariadbServer({ baseDir: join(base, 'prod'), serverId: 12 }),
  ]);
  for (const s of [scratch, prod]) {
    await s.query(`SET SESSION max_recursive_iterations = 100000; ${SCHEMA}`);
    await s.query(
      `SET SESSION max_recursive_iterations = 100000; INSERT INTO shop.orders WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000)
       SELECT i, CONCAT('c', i % 97, IF(i % 5 = 0, ' ü', '')), i * 1.25, IF(i % 3 = 0, NULL, CONCAT('n', i)) FROM n`,
    );
    await s.query('INSERT INTO shop.customers VALUES (1, "ann"), (2, "bob")');
  }
  beforeAccident = await rowsOf(prod, 'orders');
  // The accident on production, with other writes around it.
  await prod.query('DELETE FROM shop.orders WHERE id BETWEEN 3000 AND 3499 OR id % 1000 = 7');
  await prod.query("UPDATE shop.orders SET note = 'oops' WHERE id BETWEEN 8000 AND 8099");
  await prod.query('UPDATE shop.orders SET note = NULL WHERE id = 10');
  await prod.query("INSERT INTO shop.orders VALUES (20000, 'late', 1.00, NULL), (0, 'first', 2.00, 'x')");
  await prod.query("INSERT INTO shop.customers VALUES (3, 'cy')");
  afterAccident = await rowsOf(prod, 'orders');
  prodPid = await prod.pid();
});

after(async () => {
  await sql.closeAll();
  await Promise.all([scratch?.destroy(), prod?.destroy()]);
  if (base) await rm(base, { recursive: true, force: true });
});

function expectedCounts(restored: Rows, production: Rows) {
  let onlyR = 0;
  let changed = 0;
  for (const [k, v] of restored) {
    if (!production.has(k)) onlyR++;
    else if (production.get(k) !== v) changed++;
  }
  return {
    onlyInRestored: onlyR,
    changed,
    onlyInProduction: [...production.keys()].filter((k) => !restored.has(k)).length,
  };
}

describe('table restore aside: diff and copy-back', () => {
  test('the diff counts rows only in the restored copy, only in production and changed, as the captured rows say', async () => {
    const want = expectedCounts(beforeAccident, afterAccident);
    assert.ok(want.onlyInRestored > 500 && want.changed === 100 && want.onlyInProduction === 2);
    const d = await diffTable(sql, {
      restored: ep(scratch),
      production: ep(prod),
      table: orders,
      chunkRows: 1000,
      sampleSize: 3,
    });
    assert.deepEqual(
      { onlyInRestored: d.onlyInRestored, changed: d.changed, onlyInProduction: d.onlyInProduction },
      want,
    );
    assert.equal(d.restoredRows, beforeAccident.size);
    assert.equal(d.productionRows, afterAccident.size);
    assert.deepEqual(d.sample.onlyInRestored, ['id=7', 'id=1007', 'id=2007']);
    assert.deepEqual(d.sample.onlyInProduction, ['id=0', 'id=20000']);
    assert.equal(d.sample.changed[0], 'id=10');
  });

  test('a table production no longer has is all "only in the restored copy"', async () => {
    await prod.query('CREATE TABLE shop.gone (id INT PRIMARY KEY)');
    await scratch.query('CREATE TABLE shop.gone (id INT PRIMARY KEY); INSERT INTO shop.gone VALUES (1), (2)');
    await prod.query('DROP TABLE shop.gone');
    const d = await diffTable(sql, {
      restored: ep(scratch),
      production: ep(prod),
      table: { schema: 'shop', table: 'gone' },
    });
    assert.equal(d.productionRows, null);
    assert.equal(d.onlyInRestored, 2);
  });

  test('refuses a table not in the backup and a table without a primary key, touching nothing', async () => {
    const before = await checksums(prod);
    await assert.rejects(
      diffTable(sql, {
        restored: ep(scratch),
        production: ep(prod),
        table: { schema: 'shop', table: 'nope' },
      }),
      (e: Error & { type?: string }) =>
        e.type === 'TableNotRestorable' && /not in the backup/.test(e.message),
    );
    await assert.rejects(
      copyBackTable(sql, {
        recoveryId: 'r0',
        restored: ep(scratch),
        datadir: scratch.datadir,
        production: ep(prod),
        table: { schema: 'shop', table: 'nokey' },
      }),
      (e: Error & { type?: string }) => e.type === 'TableNotRestorable' && /no primary key/.test(e.message),
    );
    assert.deepEqual(await prod.query("SHOW TABLES FROM shop LIKE 'nokey__restored%'"), []);
    assert.equal(await checksums(prod), before);
  });

  test('copy-back creates orders__restored_<id> equal to the rows before the accident; the original and other tables are untouched and production keeps running', async () => {
    const before = await checksums(prod);
    const req = {
      recoveryId: 'aside-1',
      restored: ep(scratch),
      datadir: scratch.datadir,
      production: ep(prod),
      table: orders,
      chunkRows: 700,
    };
    const r = await copyBackTable(sql, req);
    assert.equal(r.table, 'shop.orders__restored_aside_1');
    assert.equal(r.rows, beforeAccident.size);
    assert.deepEqual(await rowsOf(prod, 'orders__restored_aside_1'), beforeAccident);
    assert.equal(await checksums(prod), before);
    assert.deepEqual(await rowsOf(prod, 'orders'), afterAccident);
    assert.equal(await prod.pid(), prodPid);
    // Done once: a retry does not copy again.
    const again = await copyBackTable(sql, req);
    assert.equal(again.skipped, true);
    assert.equal(
      (await prod.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM shop.orders__restored_aside_1'))[0]!.n,
      beforeAccident.size,
    );
  });

  test("a retry finds this run's own unfinished copy (the ledger says it began it), drops it and copies again", async () => {
    const req = {
      recoveryId: 'aside-4',
      restored: ep(scratch),
      datadir: scratch.datadir,
      production: ep(prod),
      table: orders,
    };
    // As a worker killed mid-copy leaves it: the copy begun (ledger), the new table half filled.
    await Ledger.besideDatadir(scratch.datadir).write('aside-4', 'copy-back:shop.orders:started', {
      table: 'shop.orders__restored_aside_4',
    });
    await prod.query('CREATE TABLE shop.orders__restored_aside_4 LIKE shop.orders');
    await prod.query('INSERT INTO shop.orders__restored_aside_4 SELECT * FROM shop.orders WHERE id < 100');
    const r = await copyBackTable(sql, req);
    assert.match(r.evidence!.join('\n'), /dropped this run's unfinished shop\.orders__restored_aside_4/);
    assert.deepEqual(await rowsOf(prod, 'orders__restored_aside_4'), beforeAccident);
  });

  test('refuses when production already has the new name and this run did not create it', async () => {
    await prod.query('CREATE TABLE shop.orders__restored_aside_2 (x INT)');
    await assert.rejects(
      copyBackTable(sql, {
        recoveryId: 'aside-2',
        restored: ep(scratch),
        datadir: scratch.datadir,
        production: ep(prod),
        table: orders,
      }),
      (e: Error & { type?: string }) => e.type === 'RestoredTableExists',
    );
    assert.deepEqual(await prod.query('SELECT * FROM shop.orders__restored_aside_2'), []);
    assert.deepEqual(
      (await prod.query<{ Field: string }[]>('SHOW COLUMNS FROM shop.orders__restored_aside_2')).map(
        (c) => c.Field,
      ),
      ['x'],
    );
  });

  test('dump mode writes the restored rows under the new name to a file, without a DROP TABLE', async () => {
    const r = await dumpRestoredTable(sql, {
      recoveryId: 'aside-3',
      restored: ep(scratch),
      datadir: scratch.datadir,
      table: orders,
      dialect: 'mariadb',
    });
    assert.equal(r.rows, beforeAccident.size);
    const text = await readFile(r.file, 'utf8');
    assert.match(text, /CREATE TABLE `orders__restored_aside_3`/);
    assert.doesNotMatch(text, /DROP TABLE/);
    await prod.query(`USE shop; ${text}`);
    assert.deepEqual(await rowsOf(prod, 'orders__restored_aside_3'), beforeAccident);
  });
});
