// tableRestoreAside on real MariaDB: an accident on one table (a DELETE of some of shop.orders) while
// other tables keep changing; the table is restored into a scratch server, replayed alone up to just
// before the accident, proved on the filtered set, compared with production and copied back under a
// new name. Expected counts come from the rows captured on the source before and after the accident.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { TableRestoreAsideResult } from '../../workflows/table-restore-aside';
import {
  createShop,
  gtidPos,
  runWorkload,
  startSource,
  takeBackup,
  type Source,
} from '../../scripts/lib/scenario';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { useStandIns } from '../support/percona-scenario';
import {
  startWorker,
  temporalAddress,
  testClient,
  uniqueQueue,
  type RunningWorker,
} from '../support/temporal';
import { saveHistory } from '../../scripts/lib/history';
import { historiesDir } from '../support/histories';
import { progressQuery } from '../../workflows/kit';
import { runWorkflow, runWorkflowExpectingFailure } from '../support/workflows';

useStandIns();
const TYPE = 'tableRestoreAside';
let base: string;
let src: Source;
let backupDir: string;
let accidentGtid: string;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
type Rows = Map<number, string>;
let beforeAccident: Rows;
let afterAccident: Rows;

const ordersOf = async (table = 'orders'): Promise<Rows> => {
  const rows = await src.server.query<{ id: number; customer_id: number; amount: string; status: string }[]>(
    `SELECT id, customer_id, amount, status FROM shop.${table} ORDER BY id`,
  );
  return new Map(rows.map((r) => [r.id, `${r.customer_id}|${r.amount}|${r.status}`]));
};
const checksums = async () =>
  JSON.stringify(await src.server.query('CHECKSUM TABLE shop.orders, shop.customers, shop.audit EXTENDED'));
const sourcePid = async () => Number((await readFile(src.server.pidFile, 'utf8')).trim());

function input(extra: Record<string, unknown> = {}, n = 1) {
  const s = src.server;
  return {
    cluster: {
      adapter: 'process',
      name: 'shop',
      pidFile: s.pidFile,
      start: s.argv,
      connection: { socket: s.socket, user: 'root' },
    },
    backup: { dir: backupDir },
    restore: { datadir: s.datadir },
    archive: { kind: 'fs', dir: src.archiveDir },
    heartbeatTimeout: '10s',
    target: { type: 'gtid', gtid: accidentGtid, exclusive: true },
    newServers: { scratch: { datadir: join(base, `scratch-${n}`, 'data'), serverId: 7, approvalFree: true } },
    restoreTo: 'scratch',
    tables: ['shop.orders'],
    copy: 'table',
    ...extra,
  };
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aside-wf-'));
  src = await startSource(base);
  const s = src.server;
  await createShop(s);
  await runWorkload(s, 1, 600);
  backupDir = join(base, 'backup');
  await takeBackup(s, backupDir);
  await runWorkload(s, 2, 800);
  // Writes of another table only, in the window: the filter leaves them out.
  await s.query('CREATE TABLE shop.audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40))');
  for (let i = 0; i < 50; i++) await s.query('INSERT INTO shop.audit (what) VALUES (?)', [`a${i}`]);
  beforeAccident = await ordersOf();
  await s.query('DELETE FROM shop.orders WHERE customer_id % 7 = 0');
  accidentGtid = await gtidPos(s);
  // The application goes on: new orders, some updated, other tables changing.
  await runWorkload(s, 3, 200);
  await s.query("UPDATE shop.orders SET status = 'lost' WHERE id % 50 = 1");
  await s.query("INSERT INTO shop.audit (what) VALUES ('after')");
  afterAccident = await ordersOf();
  await src.archiver.waitCaughtUp();
  await src.archiver.sync();
  await src.archiver.stop();
  worker = await startWorker(uniqueQueue('aside'));
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  await worker?.stop();
  await closeClient?.();
  await src?.sql.closeAll();
  await src?.server.stop().catch(() => {});
  if (base) await removeTestDir(base);
});

describe('table restore aside', () => {
  test('restores shop.orders as it was before the accident beside production, proves the filtered replay, counts the diff, never pauses production', async () => {
    const pidBefore = await sourcePid();
    const sumsBefore = await checksums();
    const id = `aside-${Date.now()}`;
    const r = await runWorkflow<TableRestoreAsideResult>(client, TYPE, worker.taskQueue, input(), id);

    // The proof covers the filtered set: the 800 transactions of the window touching shop.orders
    // (each touches shop.customers too), and leaves out the 51 of shop.audit only.
    assert.equal(r.proof?.holds, true);
    assert.equal(r.proof?.expected, 800);
    assert.equal(r.proof?.applied, 800);
    assert.equal(r.proof?.filter?.leftOut, 51);
    assert.equal(r.proof?.filter?.partly, 800);

    // The diff, against counts computed from the rows captured on the source.
    let onlyInRestored = 0;
    let changed = 0;
    for (const [k, v] of beforeAccident)
      if (!afterAccident.has(k)) onlyInRestored++;
      else if (afterAccident.get(k) !== v) changed++;
    const onlyInProduction = [...afterAccident.keys()].filter((k) => !beforeAccident.has(k)).length;
    assert.ok(onlyInRestored > 50 && changed > 10 && onlyInProduction === 200);
    const d = r.diffs![0]!;
    assert.deepEqual(
      { onlyInRestored: d.onlyInRestored, onlyInProduction: d.onlyInProduction, changed: d.changed },
      { onlyInRestored, onlyInProduction, changed },
    );
    assert.equal(d.restoredRows, beforeAccident.size);

    // The copy: a new table equal to the rows just before the accident; nothing else changed.
    const newName = `orders__restored_${id.replace(/-/g, '_')}`;
    assert.deepEqual(r.copies, [
      { table: 'shop.orders', rows: beforeAccident.size, into: `shop.${newName}` },
    ]);
    assert.deepEqual(await ordersOf(newName), beforeAccident);
    assert.equal(await checksums(), sumsBefore);
    assert.deepEqual(await ordersOf(), afterAccident);
    assert.equal(await sourcePid(), pidBefore);
    const verify = r.steps.find((s) => s.name === 'verify')!;
    assert.match(
      verify.evidence.join('\n'),
      /800 of 800 transactions of the window touching shop\.orders applied once/,
    );
    assert.match(verify.evidence.join('\n'), /51 transaction\(s\) of other tables left out by the filter/);
    // With RECORD_HISTORIES=1 the run's history joins the replay suite (test/histories).
    if (process.env.RECORD_HISTORIES === '1')
      await saveHistory(temporalAddress(), id, join(historiesDir, 'table-restore-aside.json'));
  });

  test('a plan names the copy-back as destructive and touches nothing', async () => {
    const r = await runWorkflow<TableRestoreAsideResult>(
      client,
      TYPE,
      worker.taskQueue,
      input({ mode: 'plan' }, 2),
    );
    assert.deepEqual(r.destructiveSteps, ['copy-back']);
    assert.equal(await readdir(join(base, 'scratch-2')).catch(() => null), null);
  });

  test('the copy-back waits for approval: not approved, nothing is written to production', async () => {
    const sums = await checksums();
    const f = await runWorkflowExpectingFailure(
      client,
      TYPE,
      worker.taskQueue,
      input({ requireApproval: true, approvalTimeout: '3s', recoveryId: 'aside-unapproved' }, 8),
    );
    assert.equal(f.type, 'ApprovalTimeout');
    assert.match(
      f.message,
      /Production was not paused and its original tables were not written\. Changed by this run: backup restored into the scratch server scratch/,
    );
    const progress = await client.workflow.getHandle(f.workflowId).query(progressQuery);
    const status = (name: string) => progress.steps.find((s) => s.name === name)!.status;
    assert.equal(status('diff-against-production'), 'done');
    assert.equal(status('copy-back'), 'failed');
    assert.deepEqual(
      await src.server.query("SHOW TABLES FROM shop LIKE 'orders\\_\\_restored\\_aside\\_unapproved'"),
      [],
    );
    assert.equal(await checksums(), sums);
  });

  test('bad input is refused before anything is touched', async () => {
    const sums = await checksums();
    const refuse = async (extra: Record<string, unknown>, n: number, expect: RegExp) => {
      const f = await runWorkflowExpectingFailure(client, TYPE, worker.taskQueue, input(extra, n));
      assert.match(f.message, expect);
      assert.equal(await readdir(join(base, `scratch-${n}`)).catch(() => null), null);
    };
    // shop.audit was created after the backup.
    await refuse({ tables: ['shop.audit'] }, 3, /shop\.audit is not in the backup/);
    await refuse({ tables: ['shop.orders; DROP TABLE x'] }, 4, /tables\.0: .*table name must be/);
    await refuse({ target: { type: 'gtid', gtid: '0-1-999999' } }, 5, /0-1-999999/);
    const prod = input({}, 6);
    await refuse(
      { newServers: { scratch: { datadir: src.server.datadir, serverId: 7, approvalFree: true } } },
      6,
      /the scratch server cannot be production/,
    );
    void prod;
    await refuse({ restoreTo: 'in-place' }, 7, /no scratch server named in-place/);
    await refuse({ tables: ['mysql.user'] }, 9, /mysql is a system schema/);
    await refuse({ copy: 'overwrite' }, 10, /copy: copy must be "table"/);
    await refuse(
      { recoveryId: `r${'x'.repeat(60)}` },
      11,
      /more than 64\): use a shorter recoveryId\. Nothing was touched/,
    );
    assert.equal(await checksums(), sums);
  });
});
