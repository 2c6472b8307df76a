// scripts/bootstrap-node-modules.sh decides when to run `npm ci`. Each case runs the real script in a
// scratch checkout with a stand-in `npm` first on PATH that only records that it was called (and
// installs an empty tree, as `npm ci` would after emptying node_modules).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../scripts/lib/tools';

const SCRIPT = join(projectRoot, 'scripts', 'bootstrap-node-modules.sh');
const LOCK = '{"lockfileVersion":3}\n';

async function checkout(): Promise<{ dir: string; bin: string; npmCalled: () => boolean }> {
  const root = await mkdtemp(join(tmpdir(), 'bootstrap-nm-'));
  const dir = join(root, 'checkout');
  const bin = join(root, 'bin');
  await mkdir(dir);
  await mkdir(bin);
  await writeFile(join(dir, 'package-lock.json'), LOCK);
  await writeFile(
    join(bin, 'npm'),
    `#!/bin/sh\ntouch "${root}/npm-called"\nrm -rf node_modules && mkdir node_modules && echo '{}' > node_modules/.package-lock.json\n`,
  );
  await chmod(join(bin, 'npm'), 0o755);
  return { dir, bin, npmCalled: () => existsSync(join(root, 'npm-called')) };
}

function run(dir: string, bin: string) {
  return execa('bash', [SCRIPT, dir], { reject: false, env: { PATH: `${bin}:${process.env.PATH}` } });
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

test('a symlinked node_modules with packages is used as it is: npm ci never runs through it', async (t) => {
  const { dir, bin, npmCalled } = await checkout();
  const other = join(dir, '..', 'other-node_modules');
  await mkdir(join(other, 'some-package'), { recursive: true });
  await writeFile(join(other, '.package-lock.json'), '{}');
  await symlink(other, join(dir, 'node_modules'));
  // A fresh worktree: its package-lock.json is newer than the other checkout's install.
  const future = new Date(Date.now() + 60_000);
  await utimes(join(dir, 'package-lock.json'), future, future);
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));

  const r = await run(dir, bin);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(npmCalled(), false);
  assert.ok(existsSync(join(other, 'some-package')), "the other checkout's packages are still there");
  assert.match(r.stdout, /symlink/);
});

test('a symlinked node_modules without packages is refused, and npm ci is not run', async (t) => {
  const { dir, bin, npmCalled } = await checkout();
  const other = join(dir, '..', 'empty');
  await mkdir(other);
  await symlink(other, join(dir, 'node_modules'));
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));

  const r = await run(dir, bin);
  assert.notEqual(r.exitCode, 0);
  assert.match(r.stderr, /symlink .* no packages/);
  assert.equal(npmCalled(), false);
});

test('an install from the same lock is kept even when the lock file is newer (a fresh clone)', async (t) => {
  const { dir, bin, npmCalled } = await checkout();
  await mkdir(join(dir, 'node_modules'));
  await writeFile(join(dir, 'node_modules', '.package-lock.json'), '{}');
  await writeFile(join(dir, 'node_modules', '.bootstrap-lock-sha256'), `${sha(LOCK)}\n`);
  const future = new Date(Date.now() + 60_000);
  await utimes(join(dir, 'package-lock.json'), future, future);
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));

  const r = await run(dir, bin);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(npmCalled(), false);
});

test('npm ci runs when node_modules is missing or was installed from another lock, and records the lock', async (t) => {
  for (const installed of [undefined, sha('another lock')]) {
    const { dir, bin, npmCalled } = await checkout();
    t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));
    if (installed) {
      await mkdir(join(dir, 'node_modules'));
      await writeFile(join(dir, 'node_modules', '.package-lock.json'), '{}');
      await writeFile(join(dir, 'node_modules', '.bootstrap-lock-sha256'), `${installed}\n`);
    }
    const r = await run(dir, bin);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(npmCalled(), true, `npm ci with ${installed ? 'another lock' : 'no node_modules'}`);
    assert.equal(
      (await readFile(join(dir, 'node_modules', '.bootstrap-lock-sha256'), 'utf8')).trim(),
      sha(LOCK),
    );
  }
});
