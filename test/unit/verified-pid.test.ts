// A pid file is believed only when the process it names is the one it should be: a pid file that
// names another program (a recycled pid, or one planted by someone) or the right program in another
// directory is refused, and the process is not signalled.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, mysqldOn, verifiedPid } from '../../activities/runtime/processes';

let dir = '';
let bystander: ChildProcess;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'verified-pid-'));
  await mkdir(join(dir, 'datadir'));
  await mkdir(join(dir, 'elsewhere'));
  // A process that is not a mysqld, running in the datadir (where a mysqld would run).
  bystander = spawn('sleep', ['600'], { cwd: join(dir, 'datadir'), stdio: 'ignore' });
  await new Promise((r) => bystander.once('spawn', r));
});
after(async () => {
  bystander.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

async function pidFile(pid: number): Promise<string> {
  const f = join(dir, `pid-${pid}-${Math.random()}`);
  await writeFile(f, `${pid}\n`);
  return f;
}

test('a pid file naming a process that is not a mysqld is refused, and the process lives on', async () => {
  const f = await pidFile(bystander.pid!);
  await assert.rejects(verifiedPid(f, mysqldOn(join(dir, 'datadir'), 'the temporary mysqld')), (err: Error) =>
    /names pid \d+, which is sleep, not the temporary mysqld on .*datadir: refusing to signal it/.test(
      err.message,
    ),
  );
  assert.ok(isAlive(bystander.pid!));
});

test('the right program in another directory is refused too (compared by device and inode)', async () => {
  const f = await pidFile(bystander.pid!);
  await assert.rejects(
    verifiedPid(f, { programs: ['sleep'], datadir: join(dir, 'elsewhere'), what: 'the expected server' }),
    (err: Error) => /which is sleep in .*datadir, not the expected server on .*elsewhere/.test(err.message),
  );
});

test('the expected program in its directory is believed; a path with ./ and // resolves to the same', async () => {
  const f = await pidFile(bystander.pid!);
  const odd = `${dir}//./datadir`;
  assert.equal(await verifiedPid(f, { programs: ['sleep'], datadir: odd, what: 'x' }), bystander.pid);
});

test('a pid file naming no live process is no process', async () => {
  assert.equal(await verifiedPid(await pidFile(2 ** 22 + 12345), mysqldOn(dir, 'x')), null);
});
