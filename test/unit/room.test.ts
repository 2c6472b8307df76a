// Room on disk is measured on the real filesystem a path will be written to (its nearest existing
// parent), needs on one filesystem add up, and a restore that does not fit is refused before it starts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRoom, dirBytes } from '../../activities/percona/room';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'room-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('dirBytes adds up every file below a directory', async () => {
  await mkdir(join(dir, 'b', 'c'), { recursive: true });
  await writeFile(join(dir, 'b', 'x'), Buffer.alloc(1000));
  await writeFile(join(dir, 'b', 'c', 'y'), Buffer.alloc(2345));
  assert.equal(await dirBytes(join(dir, 'b')), 3345);
  assert.equal(await dirBytes(join(dir, 'missing')), 0);
});

test('a need that fits: evidence names the filesystem, the parts and what is free', async () => {
  const r = await checkRoom([
    { path: join(dir, 'not', 'yet', 'data'), parts: [{ what: 'the backup', bytes: 1000 }] },
  ]);
  assert.equal(r.refusal, null);
  assert.match(
    r.evidence[0]!,
    /^room: .* needed on the filesystem of .*not\/yet\/data \(the backup 1 KiB, and a 10% margin\), .* free$/,
  );
});

test('needs on the same filesystem add up: two halves of the free space do not fit together', async () => {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  const half = Math.ceil(free / 2);
  const one = await checkRoom([
    { path: join(dir, 'a'), parts: [{ what: 'half', bytes: Math.floor(half / 2) }] },
  ]);
  assert.equal(one.refusal, null);
  const both = await checkRoom([
    { path: join(dir, 'a'), parts: [{ what: 'the backup', bytes: half }] },
    { path: join(dir, 'b'), parts: [{ what: 'staging', bytes: half }] },
  ]);
  assert.match(
    both.refusal ?? '',
    /^not enough room: .* needed on the filesystem of .*\/a and .*\/b .*nothing was touched$/,
  );
});
