// The pure parts of restore drills: the catalog's drill section and its refusal of production, the
// drill's recovery id and fingerprint comparison, and the history as a table and a chart.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DrillSpec, drillIssues, productionOverlap, type DrillRecord } from '../../workflows/schemas-drill';
import { drillRecoveryId, fingerprintDiffs } from '../../workflows/restore-drill';
import { drillsChart, renderDrillsHtml, renderDrillsText } from '../../workflows/report-drills';
import { SLUG_PATTERN } from '../../workflows/schemas';
import { entryIssues } from '../../activities/trust/fleet-catalog';
import { jsonExamples } from '../support/doc-examples';

const drill = DrillSpec.parse({
  schedule: { cron: '0 3 * * *' },
  scratch: 'scratch',
  schemas: ['shop'],
  alert: { url: 'https://alerts.example/drills', secret: { env: 'ALERT_SECRET' } },
});
const cluster = {
  start: ['/usr/sbin/mariadbd', '--datadir=/var/lib/mysql', '--port=3306', '--socket=/run/mysqld.sock'],
};
const pitr = (ns: Record<string, unknown>, allow?: string[]) => ({
  input: {
    cluster,
    restore: { datadir: '/var/lib/mysql' },
    newServers: { scratch: { approvalFree: true, ...ns } },
  },
  allow,
});

describe('the catalog’s drill section', () => {
  test('a scratch server apart from the cluster passes', () => {
    assert.deepEqual(drillIssues(drill, pitr({ datadir: '/srv/drill/data', port: 3407 }) as never), []);
  });

  test('a scratch server sharing the cluster’s datadir, port or socket is production', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ datadir: '/var/lib/mysql/' }, /datadir \/var\/lib\/mysql\/ is the cluster's datadir/],
      [{ datadir: '/var/lib/mysql/drill' }, /overlaps it/],
      [{ datadir: '/var/lib' }, /overlaps it/],
      [{ datadir: '/srv/d', port: 3306 }, /its port 3306 is the cluster's/],
      [{ datadir: '/srv/d', socket: '/run/mysqld.sock' }, /its socket \/run\/mysqld\.sock is the cluster's/],
    ];
    for (const [ns, re] of cases) assert.match(drillIssues(drill, pitr(ns) as never).join('\n'), re);
  });

  test('the cluster’s datadir named only in its start argv still counts', () => {
    const w = productionOverlap(
      's',
      { datadir: '/data/m' },
      { datadir: '/x', start: ['mariadbd', '--datadir', '/data/m'] },
    );
    assert.match(w.join(), /is production/);
  });

  test('an unknown scratch name, one needing approval, and an allow list that bars the drill are refused', () => {
    assert.match(
      drillIssues({ ...drill, scratch: 'nope' }, pitr({ datadir: '/srv/d' }) as never)[0]!,
      /no new server named nope .*it offers: scratch/,
    );
    assert.match(
      drillIssues(drill, pitr({ datadir: '/srv/d', approvalFree: false }) as never).join(),
      /not a scratch server/,
    );
    assert.match(
      drillIssues(drill, pitr({ datadir: '/srv/d' }, ['target']) as never).join(),
      /must allow restoreTo, verify, recoveryId/,
    );
    assert.match(drillIssues(drill, undefined).join(), /does not serve perconaPointInTimeRecovery/);
  });

  test('the catalog entry of docs/restore-drills.md is valid', () => {
    const [example] = jsonExamples().filter((e) => e.file === 'docs/restore-drills.md' && !e.fragment);
    assert.ok(example);
    assert.deepEqual(entryIssues('shop', example.value), []);
  });

  test('a schedule, a URL and a secret by reference are required', () => {
    assert.ok(!DrillSpec.safeParse({ ...drill, schedule: { cron: '* *' } }).success);
    assert.ok(
      !DrillSpec.safeParse({ ...drill, alert: { url: 'file:///etc/passwd', secret: { env: 'X' } } }).success,
    );
    assert.ok(
      !DrillSpec.safeParse({ ...drill, alert: { url: 'https://a.example', secret: 'inline' } }).success,
    );
    assert.ok(DrillSpec.safeParse({ ...drill, schedule: { every: '6h' } }).success);
  });
});

describe('the drill workflow’s pure parts', () => {
  test('the recovery id is the cluster and the start time, a valid slug', () => {
    const at = new Date('2026-12-07T23:00:00.123Z');
    assert.equal(drillRecoveryId('shop', at), 'drill-shop-20261207T230000123Z');
    assert.match(drillRecoveryId('x'.repeat(100), at), SLUG_PATTERN);
  });

  test('fingerprints that differ, are missing or extra are named', () => {
    const src = { 'shop.a': { rows: 1, checksum: 5 }, 'shop.b': { rows: 2, checksum: 6 } };
    assert.deepEqual(fingerprintDiffs(src, src), []);
    const d = fingerprintDiffs(
      { 'shop.a': { rows: 1, checksum: 9 }, 'shop.c': { rows: 0, checksum: 0 } },
      src,
    );
    assert.equal(d.length, 3);
    assert.match(d.join('\n'), /shop\.a: 1 rows, checksum 9 restored; the source had 1 rows, checksum 5/);
    assert.match(d.join('\n'), /shop\.b is missing/);
    assert.match(d.join('\n'), /shop\.c exists only on the scratch server/);
  });
});

describe('the history', () => {
  const records: DrillRecord[] = [
    {
      cluster: 'shop',
      workflowId: 'a',
      at: '2026-12-07T01:00:00.000Z',
      result: 'passed',
      rtoMs: 41_200,
      rpoSeconds: 3,
      gtid: '0-1-700',
      tables: 9,
    },
    {
      cluster: 'shop',
      workflowId: 'b',
      at: '2026-12-08T01:00:00.000Z',
      result: 'failed',
      rpoSeconds: 0,
      gtid: '0-1-900',
      why: 'mysql-bin.000005 <b>damaged</b>',
    },
  ];

  test('as a table, newest first, with time, result, RTO, RPO, GTID and why', () => {
    const t = renderDrillsText('shop', records).split('\n');
    assert.match(t[0]!, /2 recorded, 1 passed, 1 failed/);
    assert.match(t[1]!, /time \(UTC\)\s+result\s+RTO\s+RPO\s+GTID\s+why it failed/);
    assert.match(t[3]!, /2026-12-08T01:00:00.000Z\s+failed\s+-\s+0 s\s+0-1-900\s+mysql-bin.000005/);
    assert.match(t[4]!, /passed\s+41\.2 s\s+3 s\s+0-1-700/);
    assert.equal(renderDrillsText('shop', []), 'no drills recorded for shop');
  });

  test('as an inline SVG chart, with every text escaped and no external asset', () => {
    const svg = drillsChart(records);
    assert.equal((svg.match(/<rect /g) ?? []).length, 2);
    assert.match(svg, /class="drill-failed"/);
    const page = renderDrillsHtml('shop', records);
    assert.ok(!page.includes('<b>damaged'));
    assert.match(page, /&lt;b&gt;damaged/);
    assert.doesNotMatch(page, /<script|src=|href=/);
  });
});

describe('runbook drills: bad input, nothing done', () => {
  test('a name that is not a cluster name, or an entry with no drill section, exits 2 before Temporal is asked', async () => {
    const { main } = await import('../../scripts/runbook');
    const errors: string[] = [];
    const err = console.error;
    console.error = (...a: unknown[]) => errors.push(a.join(' '));
    try {
      // An address nothing listens on: were Temporal asked, the exit would be 3.
      assert.equal(await main(['--address', '127.0.0.1:1', 'drills', '../etc']), 2);
      assert.equal(await main(['--address', '127.0.0.1:1', 'drills', 'nosuch', '--schedule']), 2);
    } finally {
      console.error = err;
    }
    assert.match(errors.join('\n'), /not a cluster name: "\.\.\/etc"/);
    assert.match(errors.join('\n'), /nosuch is not a usable entry of the fleet catalog .*nothing scheduled/);
  });
});
