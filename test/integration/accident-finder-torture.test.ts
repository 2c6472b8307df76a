// The accident finder on the torture workload (test/support/torture.ts): every DDL kind, CREATE …
// SELECT, temporary tables under STATEMENT and MIXED, a transaction larger than max_binlog_size, a
// 17 MiB row, XA, concurrent sessions in ROW/STATEMENT/MIXED, many rotations — read end to end
// without a refusal, and the workload's known accidents (its DROP TABLE and its DELETE, GTIDs
// recorded live on the source) named with the exclusive targets the workload's own last checkpoint
// says stop just before them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsArchive } from '../../activities/archive/archive-fs';
import { refreshIndex } from '../../activities/archive/archive-index';
import { findAccidentIn } from '../../activities/archive/accident-activity';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { startSource, type Source } from '../../scripts/lib/scenario';
import { runTorture, TORTURE_SOURCE_ARGS, type TortureRun } from '../support/torture';

let base = '';
let source: Source;
let run: TortureRun;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'finder-torture-'));
  source = await startSource(base, { extraArgs: TORTURE_SOURCE_ARGS });
  run = await runTorture(source);
  await source.archiver.waitCaughtUp();
  await source.archiver.stop();
  await source.sql.closeAll();
  await source.server.stop();
  await refreshIndex(new FsArchive(source.archiveDir), join(base, 'staging'));
});

after(async () => {
  await source?.server.stop().catch(() => {});
  if (base) await removeTestDir(base);
});

const find = (table: string, kind?: 'drop' | 'delete') =>
  findAccidentIn({ kind: 'fs', dir: source.archiveDir }, { table, ...(kind ? { kind } : {}) });

test('the whole torture archive is read; its DROP TABLE is the accident of torture.accounts, with the target before it', async () => {
  const r = await find('torture.accounts');
  assert.ok(r.window.files.length > 5, `${r.window.files.length} files`);
  assert.ok(r.matching > 10, `${r.matching} transactions touch torture.accounts`);
  assert.equal(r.accident?.gtid, run.accident.dropGtid);
  assert.deepEqual(r.target, { type: 'gtid', gtid: run.accident.dropGtid, exclusive: true });
  // The workload's last checkpoint is just before the accident: its next GTID is the DROP.
  assert.equal(run.checkpoints.at(-1)!.nextGtid, run.accident.dropGtid);
  assert.match(r.accident!.flag!, /DROP TABLE of torture\.accounts/);
});

test('its DELETE is the accident of torture.ledger (--kind delete): rows counted exactly, no other DELETE of the workload flagged', async () => {
  const r = await find('torture.ledger', 'delete');
  const del = r.listed.find((t) => t.gtid === run.accident.deleteGtid);
  assert.ok(del, 'the DELETE is listed');
  assert.ok((del.changes[0]?.rows ?? 0) > 0, JSON.stringify(del.changes));
  assert.equal(del.changes[0]?.how, 'exact');
  assert.equal(r.accident?.gtid, run.accident.deleteGtid, "the only flagged DELETE is the workload's");
  assert.deepEqual(
    r.listed.filter((t) => t.flag).map((t) => t.gtid),
    [run.accident.deleteGtid],
  );
});
