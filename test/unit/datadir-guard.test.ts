// A datadir the request names is refused when it is a system directory or overlaps what the recovery
// reads or keeps, however it is spelled (`..`, `/./`, `//`, a symlink).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDatadir } from '../../activities/trust/datadir-guard';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'datadir-guard-'));
  await mkdir(join(dir, 'backup'));
  await symlink('/etc', join(dir, 'innocent'));
  await symlink(join(dir, 'backup'), join(dir, 'backup-link'));
});
after(() => rm(dir, { recursive: true, force: true }));

const refused = (pattern: RegExp) => (err: Error) => pattern.test(err.message);

for (const d of [
  '/',
  '/etc',
  '/etc/mysql',
  '/usr/lib/mysql',
  '/var/lib',
  '/tmp',
  '/var/lib/../../etc',
  '/./etc//ssh',
])
  test(`${d} is refused as a system directory`, async () => {
    await assert.rejects(checkDatadir(d, []), refused(/it is a system directory/));
  });

test('a symlink to /etc is refused, naming where it really points', async () => {
  await assert.rejects(
    checkDatadir(join(dir, 'innocent', 'data'), []),
    refused(/really \/etc\/data\) as a datadir: it is a system directory/),
  );
});

test('a datadir inside the backup, or containing it, or the backup through a symlink, is refused', async () => {
  const others = [{ what: 'the backup directory', path: join(dir, 'backup') }];
  await assert.rejects(
    checkDatadir(join(dir, 'backup', 'data'), others),
    refused(/overlaps the backup directory/),
  );
  await assert.rejects(checkDatadir(dir, others), refused(/overlaps the backup directory/));
  await assert.rejects(
    checkDatadir(join(dir, 'backup-link'), others),
    refused(/overlaps the backup directory/),
  );
});

test('a datadir of its own is accepted, with its real path', async () => {
  const real = await checkDatadir(join(dir, 'srv', '..', 'mysql', 'data'), [
    { what: 'the backup directory', path: join(dir, 'backup') },
  ]);
  assert.equal(real, join(dir, 'mysql', 'data'));
});
