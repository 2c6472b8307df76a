import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../activities/runtime/ledger';

let root = '';
let k = 0;
/** A fresh `<tmp>/caseN/data` datadir path (the datadir itself need not exist). */
const datadir = () => join(root, `case${++k}`, 'data');

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ledger-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('Ledger', () => {
  test('the ledger of /x/data lives in /x/data.runbook-ledger', async () => {
    const d = datadir();
    await Ledger.besideDatadir(d).write('rec-1', 'restore', { ok: true });
    const json = JSON.parse(await readFile(`${d}.runbook-ledger/rec-1.json`, 'utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(json), ['restore']);
  });

  test('a trailing slash on the datadir does not move the ledger inside it', async () => {
    const d = datadir();
    await Ledger.besideDatadir(`${d}/`).write('rec-1', 'restore', {});
    assert.ok((await stat(`${d}.runbook-ledger/rec-1.json`)).isFile());
  });

  test('reading a ledger that was never written gives an empty record set', async () => {
    const l = Ledger.besideDatadir(datadir());
    assert.deepEqual(await l.readAll('nothing-here'), {});
    assert.equal(await l.read('nothing-here', 'restore'), undefined);
  });

  test('a written checkpoint is read back with its fields and a timestamp', async () => {
    const l = Ledger.besideDatadir(datadir());
    const before = Date.now();
    const written = await l.write('rec-2', 'copy-back', { files: 3, gtid: '0-1-5' });
    const got = await l.read('rec-2', 'copy-back');
    assert.ok(got);
    assert.equal(got.files, 3);
    assert.equal(got.gtid, '0-1-5');
    assert.match(got.at, ISO);
    assert.ok(Date.parse(got.at) >= before - 1000 && Date.parse(got.at) <= Date.now() + 1000);
    assert.deepEqual(written, got);
  });

  test('checkpoints of several steps accumulate and a rewrite replaces only its step', async () => {
    const l = Ledger.besideDatadir(datadir());
    await l.write('rec-3', 'a', { n: 1 });
    await l.write('rec-3', 'b', { n: 2 });
    await l.write('rec-3', 'a', { n: 3 });
    const all = await l.readAll('rec-3');
    assert.deepEqual(Object.keys(all).sort(), ['a', 'b']);
    assert.equal(all.a?.n, 3);
    assert.equal(all.b?.n, 2);
  });

  test('recoveries do not see each other’s checkpoints', async () => {
    const l = Ledger.besideDatadir(datadir());
    await l.write('rec-a', 'step', { who: 'a' });
    await l.write('rec-b', 'step', { who: 'b' });
    assert.equal((await l.read('rec-a', 'step'))?.who, 'a');
    assert.equal((await l.read('rec-b', 'step'))?.who, 'b');
  });

  test('writes and removals leave no temporary file behind', async () => {
    const d = datadir();
    const l = Ledger.besideDatadir(d);
    await l.write('rec-4', 'a', { n: 1 });
    await l.write('rec-4', 'b', { n: 2 });
    await l.remove('rec-4', 'a');
    assert.deepEqual(await readdir(`${d}.runbook-ledger`), ['rec-4.json']);
  });

  test('remove deletes one step and keeps the others', async () => {
    const l = Ledger.besideDatadir(datadir());
    await l.write('rec-5', 'a', { n: 1 });
    await l.write('rec-5', 'b', { n: 2 });
    await l.remove('rec-5', 'a');
    assert.equal(await l.read('rec-5', 'a'), undefined);
    assert.equal((await l.read('rec-5', 'b'))?.n, 2);
  });

  test('removing a step that is not there is a no-op, even without a ledger', async () => {
    const l = Ledger.besideDatadir(datadir());
    await l.remove('rec-6', 'never');
    assert.deepEqual(await l.readAll('rec-6'), {});
  });

  test('a corrupt ledger file is an error, not an empty ledger', async () => {
    const d = datadir();
    const l = Ledger.besideDatadir(d);
    await l.write('rec-7', 'a', {});
    await writeFile(`${d}.runbook-ledger/rec-7.json`, '{"a": {"at"');
    await assert.rejects(l.readAll('rec-7'), SyntaxError);
  });

  test('journal lines are appended in order, each stamped with a time', async () => {
    const l = Ledger.besideDatadir(datadir());
    await l.journal('rec-8', 'copy-back started');
    await l.journal('rec-8', 'copy-back finished');
    const lines = await l.readJournal('rec-8');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^\d{4}-\d{2}-\d{2}T\S+Z copy-back started$/);
    assert.match(lines[1]!, /^\d{4}-\d{2}-\d{2}T\S+Z copy-back finished$/);
  });

  test('a journal that was never written reads as no lines', async () => {
    assert.deepEqual(await Ledger.besideDatadir(datadir()).readJournal('rec-9'), []);
  });
});
