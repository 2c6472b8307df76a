// A child process never sees the worker's secrets: every way product code starts a program (a
// command, a pipe, a detached server) is checked with the real `env` program printing what it got.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { childEnv } from '../../activities/runtime/child-env';
import { runCommand, runPipe } from '../../activities/runtime/command';
import { spawnDetached, waitUntil } from '../../activities/runtime/processes';

const SECRETS = {
  RUNBOOK_CODEC_KEY: 'codec-key-never-in-a-child',
  TEMPORAL_API_KEY: 'api-key-never-in-a-child',
  S3_SECRET_FOR_TEST: 's3-secret-never-in-a-child',
};

function variables(envOutput: string): Map<string, string> {
  return new Map(
    envOutput
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('the environment of child processes', { concurrency: false }, () => {
  const saved = { ...process.env };
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'child-env-'));
    Object.assign(process.env, SECRETS);
    delete process.env.RUNBOOK_CHILD_ENV;
  });
  after(async () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await rm(dir, { recursive: true, force: true });
  });

  const assertNoSecret = (vars: Map<string, string>, output: string) => {
    for (const [name, value] of Object.entries(SECRETS)) {
      assert.ok(!vars.has(name), `${name} reached the child`);
      assert.ok(!output.includes(value), `the value of ${name} reached the child`);
    }
  };

  it('a command gets PATH and HOME, none of the worker secrets, and what its caller passes', async () => {
    const { stdout } = await runCommand(['env'], { env: { MYSQL_PWD_FOR_THIS: 'passed' } });
    const vars = variables(stdout);
    assertNoSecret(vars, stdout);
    assert.equal(vars.get('PATH'), process.env.PATH);
    assert.equal(vars.get('HOME'), process.env.HOME);
    assert.equal(vars.get('MYSQL_PWD_FOR_THIS'), 'passed');
  });

  it('both ends of a pipe get the same minimal environment', async () => {
    const r = await runPipe(['env'], ['cat']);
    assertNoSecret(variables(r.consumer.stdout), r.consumer.stdout);
    assert.ok(variables(r.consumer.stdout).has('PATH'));
  });

  it('a detached server (the temporary mysqld, a cluster start) gets it too', async () => {
    const log = join(dir, 'detached.log');
    await spawnDetached(['env'], log);
    await waitUntil('env to print', async () => (await readFile(log, 'utf8')).includes('PATH='), 5_000);
    const output = await readFile(log, 'utf8');
    assertNoSecret(variables(output), output);
  });

  it('RUNBOOK_CHILD_ENV adds the names an operator allows; malformed names are ignored', async () => {
    process.env.KUBECONFIG = '/etc/kube/config';
    process.env.RUNBOOK_CHILD_ENV = 'KUBECONFIG, not-a-name ,;rm';
    try {
      const env = childEnv();
      assert.equal(env.KUBECONFIG, '/etc/kube/config');
      assert.ok(!('not-a-name' in env) && !(';rm' in env));
      assert.ok(!('RUNBOOK_CODEC_KEY' in env));
    } finally {
      delete process.env.RUNBOOK_CHILD_ENV;
      delete process.env.KUBECONFIG;
    }
  });

  it("the caller's explicit value wins over the worker's", () => {
    process.env.TZ = 'Europe/Paris';
    try {
      assert.equal(childEnv({ TZ: 'UTC' }).TZ, 'UTC');
    } finally {
      if (saved.TZ === undefined) delete process.env.TZ;
      else process.env.TZ = saved.TZ;
    }
  });
});
