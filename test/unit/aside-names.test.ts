// The names a table-level restore aside accepts and the names its copy-back creates.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AsideTables,
  restoredNameProblem,
  restoredTableName,
  tableNameProblem,
} from '../../workflows/schemas-aside';

test('a table is schema.table in plain identifier characters, never a system schema', () => {
  assert.equal(tableNameProblem('shop.orders'), null);
  assert.equal(tableNameProblem('shop_2.order$lines'), null);
  assert.match(tableNameProblem('orders')!, /not schema\.table/);
  assert.match(tableNameProblem('a.b.c')!, /not schema\.table/);
  assert.match(tableNameProblem('shop.`orders`')!, /table name must be/);
  assert.match(tableNameProblem('shop.orders; DROP TABLE x')!, /table name must be/);
  assert.match(tableNameProblem('.orders')!, /schema name must be/);
  assert.match(tableNameProblem('MySQL.user')!, /system schema/);
  assert.match(tableNameProblem(`shop.${'x'.repeat(65)}`)!, /1 to 64/);
});

test('the list names at least one table and none twice', () => {
  assert.equal(AsideTables.safeParse(['shop.orders', 'shop.lines']).success, true);
  assert.equal(AsideTables.safeParse([]).success, false);
  assert.equal(AsideTables.safeParse(['shop.orders', 'SHOP.orders']).success, false);
  assert.equal(AsideTables.safeParse(['shop']).success, false);
});

test('the restored copy is named beside the original and must fit 64 characters', () => {
  assert.equal(restoredTableName('orders', 'aside-1.x'), 'orders__restored_aside_1_x');
  assert.equal(restoredNameProblem('orders', 'aside-1'), null);
  assert.match(restoredNameProblem('orders', 'r'.repeat(60))!, /more than 64.*shorter recoveryId/);
});
