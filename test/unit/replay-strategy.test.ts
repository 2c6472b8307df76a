// The replay option of the Percona input: bounds, refusals, and the default strategy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerconaPitrInput, describeIssues, replayStrategyOf } from '../../workflows/schemas';

function input(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cluster: { adapter: 'process', name: 'db1', pidFile: '/run/mysqld/mysqld.pid', start: ['mariadbd'] },
    backup: { dir: '/backups/full' },
    restore: { datadir: '/var/lib/mysql' },
    archive: { kind: 'fs', dir: '/srv/binlogs' },
    target: { type: 'latest' },
    ...extra,
  };
}

function issues(raw: Record<string, unknown>): string {
  const r = PerconaPitrInput.safeParse(raw);
  assert.equal(r.success, false, `expected a refusal for ${JSON.stringify(raw)}`);
  return r.success ? '' : describeIssues(r.error);
}

test('without a strategy: the applier on MariaDB, the pipe under force or on MySQL', () => {
  const strategy = (extra: Record<string, unknown>) => replayStrategyOf(PerconaPitrInput.parse(input(extra)));
  assert.equal(strategy({}), 'applier');
  assert.equal(strategy({ force: true }), 'pipe');
  assert.equal(strategy({ dialect: 'mysql' }), 'pipe');
  assert.equal(strategy({ replay: { strategy: 'pipe' } }), 'pipe');
  assert.equal(PerconaPitrInput.parse(input()).replay.parallelThreads, 1);
});

test('parallelThreads must be a whole number from 1 to 64', () => {
  for (const parallelThreads of [0, 65, 2.5, '4'])
    assert.match(
      issues(input({ replay: { strategy: 'applier', parallelThreads } })),
      /^replay\.parallelThreads: /,
    );
  assert.equal(PerconaPitrInput.parse(input({ replay: { parallelThreads: 64 } })).replay.parallelThreads, 64);
});

test('the applier is refused with force and on MySQL, naming the way out', () => {
  assert.match(
    issues(input({ force: true, replay: { strategy: 'applier' } })),
    /replay\.strategy: .*use strategy "pipe" with force/,
  );
  assert.match(
    issues(input({ dialect: 'mysql', replay: { strategy: 'applier' } })),
    /replay\.strategy: .*MariaDB-only/,
  );
  assert.match(issues(input({ replay: { strategy: 'fast' } })), /^replay\.strategy: /);
  assert.match(issues(input({ replay: { threads: 4 } })), /replay/);
});
