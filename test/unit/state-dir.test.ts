// The worker's state directory is trusted only when it is its own: created 0700, and a directory
// another user planted (or opened to others, or a symlink to somewhere else) is refused by name.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureStaging, ensureStateDir, statePath, UnsafeStateDir } from '../../activities/runtime/state-dir';

let base = '';
const saved = process.env.RUNBOOK_STATE_DIR;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'state-dir-test-'));
});
afterEach(() => {
  process.env.RUNBOOK_STATE_DIR = saved;
});
after(() => rm(base, { recursive: true, force: true }));

const refused = (pattern: RegExp) => (err: unknown) =>
  err instanceof UnsafeStateDir && pattern.test(err.message);

test('the state directory and every directory below it are created 0700 and reused when ours', async () => {
  process.env.RUNBOOK_STATE_DIR = join(base, 'fresh', 'state');
  const dir = await ensureStateDir('run', 'abc');
  assert.equal(dir, statePath('run', 'abc'));
  for (const d of [statePath(), statePath('run'), dir]) assert.equal((await lstat(d)).mode & 0o777, 0o700, d);
  assert.equal(await ensureStateDir('run', 'abc'), dir);
});

test('a state directory open to other users is refused', async () => {
  process.env.RUNBOOK_STATE_DIR = join(base, 'open');
  await mkdir(process.env.RUNBOOK_STATE_DIR, { mode: 0o777 });
  await chmod(process.env.RUNBOOK_STATE_DIR, 0o777);
  await assert.rejects(ensureStateDir('run'), refused(/is open to other users \(mode 777\)/));
});

test(
  'a directory planted by another user in place of the run directory is refused',
  { skip: process.getuid?.() !== 0 && 'needs root to plant as another user' },
  async () => {
    process.env.RUNBOOK_STATE_DIR = join(base, 'planted');
    await ensureStateDir();
    await mkdir(statePath('run'), { mode: 0o700 });
    await chown(statePath('run'), 65534, 65534); // nobody
    await assert.rejects(ensureStateDir('run', 'x'), refused(/belongs to uid 65534, not to this worker/));
  },
);

test('a symbolic link in place of a directory is refused (a socket path cannot be redirected)', async () => {
  process.env.RUNBOOK_STATE_DIR = join(base, 'linked');
  await ensureStateDir();
  await symlink('/etc', statePath('staging'));
  await assert.rejects(ensureStaging(statePath('staging', 'r1')), refused(/is a symbolic link/));
});

test('a name that would leave the state directory is refused', async () => {
  process.env.RUNBOOK_STATE_DIR = join(base, 'names');
  await assert.rejects(ensureStateDir('..', 'etc'), refused(/not a plain directory name/));
  await assert.rejects(ensureStateDir('a/b'), refused(/not a plain directory name/));
});

test('a relative RUNBOOK_STATE_DIR is refused', () => {
  process.env.RUNBOOK_STATE_DIR = 'state';
  assert.throws(() => statePath(), refused(/must be absolute/));
});
