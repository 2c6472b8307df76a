// The kubernetes adapter of the Percona runbook against the kubectl stand-in (test/fixtures/bin/kubectl,
// which follows the Percona Operator for MySQL): a cluster of more than one member, and one the
// operator reports in error, are refused at once, non-retryable, with nothing changed.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { checkCluster, pauseCluster, unpauseCluster } from '../../activities/percona/cluster';
import type { SqlPools } from '../../activities/mysql/sql';
import type { Cluster } from '../../workflows/schemas';
import { addStandInCluster, standInCluster, useStandIns } from '../support/percona-scenario';

useStandIns();
process.env.RUNBOOK_CHILD_ENV = 'KUBECTL_STANDIN_STATE'; // the stand-in's world reaches the child
const sql = {} as SqlPools; // no connection configured: the adapter never asks
let dir = '';
let file = '';
const cluster = (resource: string): Cluster => ({
  adapter: 'kubernetes',
  name: resource,
  namespace: 'db',
  resource,
});
const patches = async () =>
  (await readFile(`${file}.log`, 'utf8').catch(() => '')).split('\n').filter((l) => l.includes('"patch"'));

/** Runs `work`, expecting a non-retryable failure of `type` within `seconds`, and the world untouched. */
async function refused(type: string, work: () => Promise<unknown>, seconds = 10): Promise<string> {
  const world = await readFile(file, 'utf8');
  const patched = (await patches()).length;
  const t0 = Date.now();
  const err = await work().then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, String(err));
  assert.equal(err.type, type, err.message);
  assert.equal(err.nonRetryable, true);
  assert.ok(Date.now() - t0 < seconds * 1000, `took ${Date.now() - t0} ms`);
  assert.equal(await readFile(file, 'utf8'), world, 'the cluster changed');
  assert.equal((await patches()).length, patched, 'kubectl patch was called');
  return err.message;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'percona-cluster-'));
  file = await standInCluster(dir, 'one');
  await addStandInCluster(file, 'three', 'ready', { size: 3 });
  await addStandInCluster(file, 'broken', 'ready', { reconcileError: 'failed to get orchestrator: boom' });
});
after(() => rm(dir, { recursive: true, force: true }));

describe('a cluster of more than one member is refused before anything is touched', () => {
  test('by the plan: names the members, the reason and the manual way', { timeout: 20_000 }, async () => {
    const msg = await refused('MultiMemberCluster', () => checkCluster(sql, cluster('three')));
    assert.match(msg, /3 MySQL members \(spec\.mysql\.size 3/);
    assert.match(msg, /datadir-three-mysql-0, datadir-three-mysql-1, datadir-three-mysql-2/);
    assert.match(msg, /diverged from the restored one/);
    assert.match(msg, /operator's own restore deletes datadir-three-mysql-1, datadir-three-mysql-2/);
    assert.match(msg, /Nothing was changed/);
    assert.match(msg, /PerconaServerMySQLRestore/);
    assert.match(msg, /spec\.mysql\.size: 1, unsafeFlags\.mysqlSize: true/);
  });

  test('by the pause, should it have grown since the plan', { timeout: 20_000 }, async () => {
    const msg = await refused('MultiMemberCluster', () => pauseCluster(sql, cluster('three')));
    assert.match(msg, /spec\.pause is still false/);
  });

  test('a one-member cluster with another member’s datadir left from a scale-down', async () => {
    await addStandInCluster(file, 'shrunk', 'ready', { size: 2 });
    const w = JSON.parse(await readFile(file, 'utf8'));
    w.perconaservermysqls['db/shrunk'].spec.mysql.size = 1;
    w.perconaservermysqls['db/shrunk'].status.mysql.size = 1;
    await writeFile(file, JSON.stringify(w));
    const msg = await refused('MultiMemberCluster', () => checkCluster(sql, cluster('shrunk')));
    assert.match(
      msg,
      /other members left from a scale-down \(claims: datadir-shrunk-mysql-0, datadir-shrunk-mysql-1\)/,
    );
  });

  test('a resource without spec.mysql.size (its members cannot be counted)', async () => {
    await addStandInCluster(file, 'sizeless');
    const w = JSON.parse(await readFile(file, 'utf8'));
    delete w.perconaservermysqls['db/sizeless'].spec.mysql;
    await writeFile(file, JSON.stringify(w));
    const msg = await refused('MultiMemberCluster', () => checkCluster(sql, cluster('sizeless')));
    assert.match(msg, /has no spec\.mysql\.size/);
  });
});

describe('a cluster the operator reports in error fails at once', () => {
  test('the plan refuses it, with the operator’s Error condition', { timeout: 20_000 }, async () => {
    const msg = await refused('ClusterError', () => checkCluster(sql, cluster('broken')));
    assert.match(msg, /is in state error: failed to get orchestrator: boom \(reason ErrorReconcile\)/);
  });

  test('the pause refuses it within seconds, spec.pause untouched', { timeout: 20_000 }, async () => {
    const msg = await refused('ClusterError', () => pauseCluster(sql, cluster('broken')));
    assert.match(msg, /failed to get orchestrator: boom.*spec\.pause is still false/);
  });

  test('an error while the pause is under way ends the wait at once', { timeout: 20_000 }, async () => {
    await addStandInCluster(file, 'breaks', 'ready', {
      reconcileError: 'scale statefulset: forbidden',
      whilePause: true,
    });
    const t0 = Date.now();
    const err = await pauseCluster(sql, cluster('breaks')).then(
      () => assert.fail('expected ClusterError'),
      (e: unknown) => e,
    );
    assert.ok(
      err instanceof ApplicationFailure && err.type === 'ClusterError' && err.nonRetryable,
      String(err),
    );
    assert.ok(Date.now() - t0 < 10_000);
    assert.match(
      err.message,
      /scale statefulset: forbidden.*spec\.pause is true \(this run set it to true\); the cluster is not paused/,
    );
  });

  test('an error while the unpause is under way ends the wait at once', { timeout: 20_000 }, async () => {
    await addStandInCluster(file, 'wakes-broken', 'paused', {
      reconcileError: 'bootstrap: no primary',
      whilePause: false,
    });
    const err = await unpauseCluster(sql, cluster('wakes-broken')).then(
      () => assert.fail('expected ClusterError'),
      (e: unknown) => e,
    );
    assert.ok(
      err instanceof ApplicationFailure && err.type === 'ClusterError' && err.nonRetryable,
      String(err),
    );
    assert.match(err.message, /bootstrap: no primary.*this run set it to false/);
  });

  test('a state the operator does not write is not waited on', async () => {
    await addStandInCluster(file, 'odd');
    const w = JSON.parse(await readFile(file, 'utf8'));
    w.perconaservermysqls['db/odd'].status.state = 'sleeping';
    await writeFile(file, JSON.stringify(w));
    const msg = await refused('BadToolOutput', () => pauseCluster(sql, cluster('odd')));
    assert.match(msg, /status\.state "sleeping"/);
  });
});

describe('a sound one-member cluster', () => {
  test('is planned, paused and unpaused as before', { timeout: 30_000 }, async () => {
    assert.equal(
      await checkCluster(sql, cluster('one')),
      'perconaservermysql/one: ready, 1 MySQL member (datadir-one-mysql-0)',
    );
    const before = (await patches()).length;
    const p = await pauseCluster(sql, cluster('one'));
    assert.match(p.evidence!.join('\n'), /spec\.pause=true, status paused/);
    const u = await unpauseCluster(sql, cluster('one'));
    assert.match(u.evidence!.join('\n'), /spec\.pause=false, status ready/);
    const calls = (await patches()).slice(before);
    assert.deepEqual(
      calls.map((l) => /pause\\":(true|false)/.exec(l)?.[1]),
      ['true', 'false'],
    );
  });
});
