// Durable writes (activities/runtime/durable-file.ts): a checkpoint is replaced whole or not at all, leaves
// no temporary file behind, and a failed write keeps the previous content. (That the bytes reach the
// disk before the rename — fsync — cannot be observed without cutting a machine's power; the order is
// in the code, this checks what can fail in a test.)
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  appendDurably,
  copyFileDurably,
  renameDurably,
  writeFileDurably,
} from '../../activities/runtime/durable-file';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'durable-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('a file is replaced whole, 0600, with nothing left beside it', async () => {
  const target = join(dir, 'ledger.json');
  await writeFileDurably(target, '{"a":1}');
  await writeFileDurably(target, '{"a":2}');
  assert.equal(await readFile(target, 'utf8'), '{"a":2}');
  assert.equal((await stat(target)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(dir), ['ledger.json']);
});

test('a write that cannot complete keeps the previous content and leaves no temporary file', async () => {
  const sub = await mkdtemp(join(dir, 'fail-'));
  const target = join(sub, 'ledger.json');
  await writeFileDurably(target, 'before');
  // The write itself fails half-way (here: data the file handle cannot write; on a host, ENOSPC).
  await assert.rejects(writeFileDurably(target, 42 as unknown as string));
  assert.equal(await readFile(target, 'utf8'), 'before');
  assert.deepEqual(await readdir(sub), ['ledger.json']);
});

test('copies, appends and renames land whole', async () => {
  const src = join(dir, 'src.bin');
  await writeFile(src, Buffer.alloc(70_000, 7));
  await copyFileDurably(src, join(dir, 'copy.bin'));
  assert.deepEqual(await readFile(join(dir, 'copy.bin')), await readFile(src));
  await appendDurably(join(dir, 'j'), 'one\n');
  await appendDurably(join(dir, 'j'), 'two\n');
  assert.equal(await readFile(join(dir, 'j'), 'utf8'), 'one\ntwo\n');
  await renameDurably(join(dir, 'copy.bin'), join(dir, 'moved.bin'));
  assert.ok((await readdir(dir)).includes('moved.bin'));
  assert.ok(!(await readdir(dir)).includes('copy.bin'));
});
