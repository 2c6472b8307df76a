// A stale copy checkpoint recognises "its" datadir by identity. ext4 gives a removed directory's inode
// to the next mkdir at once, so device+inode alone took production (put back at the same path) for the
// partial copy and deleted it. The identity includes the birth time, which a new directory never shares.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directoryIdentity } from '../../activities/mysql/backup';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dir-identity-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('a directory made again at the same path is another directory, even on a reused inode', async () => {
  const path = join(dir, 'data');
  let reused = false;
  // Repeat until the file system hands back the same inode (ext4 does at once): the case that mattered.
  for (let i = 0; i < 20 && !reused; i++) {
    await mkdir(path);
    const first = await directoryIdentity(path);
    const firstIno = (await stat(path)).ino;
    await rmdir(path);
    await mkdir(path);
    const second = await directoryIdentity(path);
    reused = (await stat(path)).ino === firstIno;
    if (first !== null) assert.notEqual(second, first, `attempt ${i}: same identity for two directories`);
    await rmdir(path);
  }
});

test('the same directory keeps its identity; a missing one has none', async () => {
  const path = join(dir, 'kept');
  await mkdir(path);
  const identity = await directoryIdentity(path);
  assert.equal(await directoryIdentity(path), identity);
  assert.equal(await directoryIdentity(join(dir, 'absent')), null);
});
