// The torture workload (test/support/torture.ts) on a real MariaDB source: the shapes recovery tools
// get wrong are really in the archived binlogs — read back with mariadb-binlog, not taken from the
// generator's word — and its checkpoints are distinct truths whose GTID, position and time boundaries
// hold in those binlogs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { startSource, takeBackup, type Source } from '../../scripts/lib/scenario';
import { TORTURE_SOURCE_ARGS, runTorture, type TortureRun } from '../support/torture';

const MiB = 1024 * 1024;

interface BinlogEvent {
  file: string;
  start: number;
  size: number;
  when: string; // ISO, whole seconds
  type: string; // the header after the CRC: "Query\tthread_id=…", "Write_rows: table id 31 …", "GTID 0-1-7 ddl"
  body: string; // statement text, Annotate_rows text (#Q>), XA statements
}

interface Group {
  gtid: string;
  seq: number;
  flags: string[];
  file: string;
  start: number;
  events: BinlogEvent[];
  text: string;
}

interface Archive {
  files: { name: string; size: number }[];
  events: BinlogEvent[];
  groups: Group[];
  /** table id → `schema`.`table`, from Table_map events. */
  tables: Map<string, string>;
}

const HEADER =
  /^#(\d\d)(\d\d)(\d\d) +(\d+):(\d\d):(\d\d) server id \d+ +end_log_pos (\d+) CRC32 0x[0-9a-f]+\s+(.*)$/;

/** Every archived binlog file through mariadb-binlog (times printed in UTC), as events and GTID groups. */
async function readArchive(dir: string): Promise<Archive> {
  const names = (await readdir(dir)).filter((n) => /^mysql-bin\.\d{6}$/.test(n)).sort();
  const files = await Promise.all(
    names.map(async (name) => ({ name, size: (await stat(join(dir, name))).size })),
  );
  const { stdout } = await execa(
    'mariadb-binlog',
    ['--no-defaults', '--base64-output=decode-rows', ...names.map((n) => join(dir, n))],
    { env: { TZ: 'UTC' }, maxBuffer: 512 * MiB },
  );
  const events: BinlogEvent[] = [];
  let fileIndex = -1;
  let prevEnd = 4;
  for (const line of stdout.split('\n')) {
    const m = HEADER.exec(line);
    if (m) {
      const [, yy, mo, dd, hh, mi, ss, end, type] = m;
      if (type!.startsWith('Start: binlog')) [fileIndex, prevEnd] = [fileIndex + 1, 4];
      events.push({
        file: names[fileIndex]!,
        start: prevEnd,
        size: Number(end) - prevEnd,
        when: `20${yy}-${mo}-${dd}T${hh!.padStart(2, '0')}:${mi}:${ss}Z`,
        type: type!,
        body: '',
      });
      prevEnd = Number(end);
    } else if (events.length && !line.startsWith('# at ') && !/^\/\*M?!/.test(line)) {
      events.at(-1)!.body += `${line.replace(/^#Q> /, '')}\n`;
    }
  }
  const groups: Group[] = [];
  const tables = new Map<string, string>();
  for (const e of events) {
    const gtid = /^GTID (\d+-\d+-(\d+))\s*(.*)$/.exec(e.type);
    const map = /^Table_map: (`[^`]+`\.`[^`]+`) mapped to number (\d+)/.exec(e.type);
    if (map) tables.set(map[2]!, map[1]!);
    if (gtid) {
      groups.push({
        gtid: gtid[1]!,
        seq: Number(gtid[2]),
        flags: gtid[3]!.split(/\s+/).filter(Boolean),
        file: e.file,
        start: e.start,
        events: [],
        text: e.body, // BEGIN, or XA START
      });
    } else if (groups.length && !/^(Rotate|Start|Gtid list|Binlog checkpoint)/.test(e.type)) {
      groups.at(-1)!.events.push(e);
    }
  }
  for (const g of groups) g.text += g.events.map((e) => `${e.type}\n${e.body}`).join('');
  return { files, events, groups, tables };
}

const rowEventsOn = (a: Archive, g: Group, table: string, kind: string) =>
  g.events.some((e) => {
    const m = new RegExp(`^${kind}: table id (\\d+)`).exec(e.type);
    return m && a.tables.get(m[1]!) === table;
  });
/**
 * Whether `p` is where `next` starts, give or take the Binlog checkpoint events the server writes on
 * its own after a rotation (they move SHOW MASTER STATUS without any transaction).
 */
function sameBoundary(p: { file: string; position: number }, next: Group): boolean {
  if (p.file !== next.file || p.position > next.start) return false;
  const inFile = archive.events.filter((e) => e.file === p.file);
  if (!inFile.some((e) => e.start + e.size === p.position)) return false; // not an event boundary
  const between = inFile.filter((e) => e.start >= p.position && e.start < next.start);
  return between.every((e) => e.type.startsWith('Binlog checkpoint'));
}
const queries = (a: Archive) => a.events.filter((e) => e.type.startsWith('Query'));
const seqOf = (gtid: string) => Number(gtid.split('-')[2]);

let base: string;
let source: Source;
let run: TortureRun;
let archive: Archive;
let backupCalls = 0;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'torture-'));
  source = await startSource(base, { extraArgs: TORTURE_SOURCE_ARGS });
  run = await runTorture(source, {
    seed: 7,
    onBackupPoint: async () => {
      backupCalls++;
      await takeBackup(source.server, join(base, 'backup'));
    },
  });
  await source.archiver.stop();
  archive = await readArchive(source.archiveDir);
});

after(async () => {
  await source?.archiver.stop();
  await source?.sql.closeAll();
  await source?.server.stop().catch(() => {});
  if (base) await removeTestDir(base);
});

test('the archive has many rotations, one file past max_binlog_size by a single transaction, and stays small', () => {
  assert.ok(archive.files.length >= 5, `${archive.files.length} binlog files`);
  const total = archive.files.reduce((n, f) => n + f.size, 0);
  assert.ok(total < 60 * MiB, `${total} bytes of binlog`);
  const sizeOf = (g: Group) => g.events.reduce((n, e) => n + e.size, 0);
  const bigTrx = archive.groups.find((g) => sizeOf(g) > MiB && g.events.every((e) => e.size < MiB));
  assert.ok(bigTrx, 'a transaction of more than 1 MiB made of ordinary events');
  assert.ok(archive.files.find((f) => f.name === bigTrx.file)!.size > MiB, `${bigTrx.file} is past 1 MiB`);
  assert.ok(
    archive.groups.length >= 1000 && archive.groups.length <= 3000,
    `${archive.groups.length} transactions`,
  );
  assert.equal(archive.groups.length, run.transactions);
});

test('one row event is larger than 16 MiB', () => {
  const huge = archive.events.filter((e) => e.size > 16 * MiB);
  assert.equal(huge.length, 1);
  assert.match(huge[0]!.type, /^Write_rows/);
});

test('CREATE TABLE … SELECT is one GTID group flagged ddl that carries its row events', () => {
  const ctas = archive.groups.filter(
    (g) =>
      g.flags.includes('ddl') &&
      /CREATE TABLE/.test(g.text) &&
      g.events.some((e) => /^Write_rows/.test(e.type)),
  );
  assert.equal(ctas.length, 1);
  assert.ok(rowEventsOn(archive, ctas[0]!, '`torture`.`accounts_snapshot`', 'Write_rows'));
});

test('temporary tables are binlogged as statements under STATEMENT and MIXED, one across a rotation', () => {
  const q = queries(archive);
  for (const t of ['tmp_stage', 'tmp_mix']) {
    const created = q.find((e) => new RegExp(`CREATE TEMPORARY TABLE torture\\.${t}\\b`).test(e.body));
    const used = q.find((e) =>
      new RegExp(`INSERT INTO torture\\.\\w+ SELECT .*FROM torture\\.${t}\\b`, 's').test(e.body),
    );
    const dropped = q.find((e) => new RegExp(`DROP TEMPORARY TABLE .*${t}`).test(e.body));
    assert.ok(created && used && dropped, `${t}: create, insert … select into a real table, drop`);
    if (t === 'tmp_stage')
      assert.ok(used.file > created.file, 'tmp_stage is used in a later file than it was created in');
  }
});

test('unsafe statements are statements under STATEMENT and rows under MIXED', () => {
  assert.ok(queries(archive).some((e) => /UPDATE torture\.accounts .*ORDER BY id LIMIT 5/.test(e.body)));
  const mixedLimit = archive.groups.find((g) =>
    /Annotate_rows[\s\S]*FROM torture\.tmp_mix LIMIT 2/.test(g.text),
  );
  assert.ok(mixedLimit && rowEventsOn(archive, mixedLimit, '`torture`.`nopk`', 'Write_rows'));
  const types = new Set(archive.events.map((e) => e.type.split(/[\s:]/)[0]));
  for (const t of ['Intvar', 'Rand', 'User_var']) assert.ok(types.has(t), `a ${t} event`);
});

test('every DDL kind is in the binlog', () => {
  const text = queries(archive)
    .map((e) => e.body)
    .join('\n');
  for (const ddl of [
    /CREATE TABLE torture\.events_staging/,
    /ALTER TABLE torture\.accounts ADD COLUMN/,
    /ALTER TABLE torture\.accounts DROP COLUMN/,
    /ALTER TABLE torture\.ledger ADD INDEX/,
    /RENAME TABLE torture\.events_staging TO torture\.events/,
    /RENAME TABLE torture\.accounts_snapshot TO torture_aux\./,
    /CREATE INDEX ix_owner/,
    /DROP INDEX ix_dec/,
    /TRUNCATE TABLE torture\.events/,
    /DROP TABLE `torture`\.`bulk`/,
    /CREATE DATABASE torture_scratch/,
    /DROP DATABASE torture_scratch/,
    /VIEW `torture`\.`v_rich`/,
    /TRIGGER torture\.ledger_ai/,
    /PROCEDURE `torture`\.`pay`/,
    /NAME_CONST\('p_id'/, // the procedure called under STATEMENT: its statements, parameters inlined
  ])
    assert.match(text, ddl);
});

test('XA PREPARE and XA COMMIT or ROLLBACK are separate GTID groups', () => {
  const prepares = archive.groups.filter((g) => /^XID = /m.test(g.text) && /XA START/.test(g.text));
  const ends = archive.groups.filter((g) => /^XA (COMMIT|ROLLBACK) /m.test(g.text));
  assert.equal(prepares.length, 3);
  assert.deepEqual(ends.map((g) => /^XA (\w+)/m.exec(g.text)![1]).sort(), ['COMMIT', 'COMMIT', 'ROLLBACK']);
  for (const end of ends) {
    const xid = /^XA \w+ (X'[0-9a-f]+')/im.exec(end.text)![1]!;
    const prepare = prepares.find((g) => g.text.includes(`XA START ${xid}`));
    assert.ok(prepare && prepare.seq < end.seq, `XA ${xid} prepared before it ended`);
  }
});

test('savepoints and a rollback that kept a non-transactional write are in the binlog', () => {
  assert.ok(archive.groups.some((g) => /^ROLLBACK$/m.test(g.text) && /torture\.counters/.test(g.text)));
  assert.ok(queries(archive).some((e) => /^ROLLBACK TO `s1`/m.test(e.body)));
  assert.ok(queries(archive).some((e) => /^SAVEPOINT `sp1`/m.test(e.body)));
});

test('a table without a primary key gets row updates and deletes', () => {
  const onNopk = (kind: string) =>
    archive.groups.some((g) => rowEventsOn(archive, g, '`torture`.`nopk`', kind));
  assert.ok(onNopk('Update_rows') && onNopk('Delete_rows'));
});

test('concurrent sessions interleave their commits', () => {
  const tagged = archive.groups
    .map((g) => /torture session (\d+) round (\d+)/.exec(g.text))
    .filter((m): m is RegExpExecArray => m !== null);
  const sessions = new Set(tagged.map((m) => m[1]));
  const rounds = new Set(tagged.map((m) => m[2]));
  const switches = tagged.filter((m, i) => i > 0 && m[1] !== tagged[i - 1]![1]).length;
  assert.equal(sessions.size, 4);
  // Run one after another, 4 sessions × rounds would switch at most 4 × rounds times.
  assert.ok(switches > 10 * 4 * rounds.size, `${switches} switches between sessions`);
});

test('every column type family, 4-byte characters and NULLs are in the data', async () => {
  const columns = await source.server.query<{ t: string }[]>(
    `SELECT DATA_TYPE AS t FROM information_schema.columns WHERE table_schema = 'torture' AND table_name = 'all_types'`,
  );
  const types = new Set(columns.map((c) => c.t));
  for (const t of 'tinyint smallint mediumint int bigint decimal float double bit date time datetime timestamp year char varchar binary varbinary blob text enum set longtext point geometry'.split(
    ' ',
  ))
    assert.ok(types.has(t), t);
  const [row] = await source.server.query<{ emoji: number; nulls: number }[]>(
    `SELECT SUM(HEX(c_varchar) LIKE '%F09F%') AS emoji, SUM(c_json IS NULL) AS nulls FROM torture.all_types`,
  );
  assert.ok(Number(row!.emoji) > 0 && Number(row!.nulls) > 0);
});

test('checkpoints are distinct truths, and the accident changes the final state', () => {
  const [backup, ...rest] = run.checkpoints;
  assert.ok(run.checkpoints.length >= 4);
  const truths = [...run.checkpoints.map((c) => c.truth), run.finalTruth].map((t) => JSON.stringify(t));
  assert.equal(new Set(truths).size, truths.length);
  assert.ok(!('torture.big_blob' in backup!.truth) && 'torture.big_blob' in rest[1]!.truth);
  assert.ok('torture_scratch.notes' in rest[1]!.truth && !('torture_scratch.notes' in rest[2]!.truth));
  assert.ok('torture.accounts' in run.checkpoints.at(-1)!.truth && !('torture.accounts' in run.finalTruth));
});

test('each checkpoint is a GTID, position and time boundary in the archived binlogs', () => {
  for (const cp of run.checkpoints) {
    const i = archive.groups.findIndex((g) => g.gtid === cp.nextGtid);
    assert.ok(i > 0, `${cp.label}: next GTID ${cp.nextGtid} is archived`);
    assert.equal(archive.groups[i - 1]!.gtid, cp.gtid, `${cp.label}: the transaction before the next one`);
    const next = archive.groups[i]!;
    assert.ok(sameBoundary(cp.position, next), `${cp.label}: ${cp.position.file}:${cp.position.position}`);
    const stamps = (gs: Group[]) => gs.flatMap((g) => g.events.map((e) => e.when));
    const before = stamps(archive.groups.slice(0, i)).filter((w) => w >= cp.time);
    const afterwards = stamps(archive.groups.slice(i)).filter((w) => w < cp.time);
    assert.deepEqual(
      [before, afterwards],
      [[], []],
      `${cp.label}: nothing before ${cp.time} stamped after it`,
    );
  }
  const last = run.checkpoints.at(-1)!;
  assert.equal(run.accidentGtid, last.nextGtid);
  const drop = archive.groups.find((g) => g.gtid === run.accidentGtid)!;
  assert.match(drop.text, /DROP TABLE `torture`\.`accounts`/);
  const del = archive.groups.find((g) => g.gtid === run.accident.deleteGtid)!;
  assert.ok(
    seqOf(del.gtid) > seqOf(drop.gtid) && rowEventsOn(archive, del, '`torture`.`ledger`', 'Delete_rows'),
  );
});

test('the base backup taken at the backup point is at that checkpoint', async () => {
  assert.equal(backupCalls, 1);
  const [file, pos, gtid] = (await readFile(join(base, 'backup', 'xtrabackup_binlog_info'), 'utf8'))
    .trim()
    .split(/\s+/);
  const cp = run.checkpoints[0]!;
  assert.equal(gtid, cp.gtid);
  const next = archive.groups.find((g) => g.gtid === cp.nextGtid)!;
  assert.ok(sameBoundary({ file: file!, position: Number(pos) }, next), `backup at ${file}:${pos}`);
});
