// The recovery report of real Percona runs on real MariaDB servers: saved beside the ledger as a run
// ends (workflows/report-at-end.ts), written by `runbook report` for completed, failed, cancelled and
// running runs, and looked at in headless Chromium (test-output/report.png).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { launchChromium } from '../support/chromium';
import { approveUpdate, progressQuery } from '../../workflows/kit';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { buildReport } from '../../workflows/report-model';
import { renderHtml } from '../../workflows/report-html';
import { ledgerDirBeside } from '../../activities/runtime/ledger';
import { stateRoot } from '../../activities/runtime/state-dir';
import { projectRoot } from '../../scripts/lib/tools';
import { recordAccident, standInCluster, useStandIns, type Accident } from '../support/percona-scenario';
import {
  startWorker,
  temporalAddress,
  testClient,
  uniqueQueue,
  type RunningWorker,
} from '../support/temporal';
import { catalogRequest } from '../support/fleet';
import { saveHistory } from '../../scripts/lib/history';
import { historiesDir } from '../support/histories';

useStandIns();

const TYPE = 'perconaPointInTimeRecovery';
const outDir = join(projectRoot, 'test-output');
let acc: Accident;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
let reportsDir: string;
let n = 0;

function input(extra: Record<string, unknown> = {}) {
  n++;
  return {
    cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'shop' },
    backup: { dir: acc.backupDir },
    restore: { datadir: join(acc.base, `restore-report-${n}`, 'data') },
    archive: { kind: 'fs', dir: acc.source.archiveDir },
    verify: { schemas: ['shop'], expected: acc.truth },
    heartbeatTimeout: '10s',
    target: { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
    requireApproval: true,
    ...extra,
  };
}

function runbook(...args: string[]) {
  return execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'scripts/runbook.ts'), ...args], {
    cwd: projectRoot,
    reject: false,
    env: { TEMPORAL_ADDRESS: temporalAddress(), RUNBOOK_TASK_QUEUE: worker.taskQueue },
  });
}

async function start(workflowId: string, i: object): Promise<WorkflowHandle> {
  return client.workflow.start(TYPE, {
    taskQueue: worker.taskQueue,
    workflowId,
    args: [await catalogRequest(TYPE, i)],
  });
}

async function waitingAt(handle: WorkflowHandle, step: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const p = await handle.query(progressQuery).catch(() => undefined);
    if (p?.steps.find((s) => s.name === step)?.status === 'waiting-approval') return;
    if (Date.now() > deadline) throw new Error(`never waited at ${step}: ${JSON.stringify(p)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Writes the report of a run with `runbook report` and returns its Markdown and HTML. */
async function reportOf(id: string): Promise<{ md: string; html: string; htmlPath: string }> {
  const r = await runbook('report', id, '--out', reportsDir);
  assert.equal(r.exitCode, 0, r.stderr);
  const [mdPath, htmlPath] = r.stdout.trim().split('\n');
  assert.equal(mdPath, join(reportsDir, `${id}.report.md`));
  assert.equal(htmlPath, join(reportsDir, `${id}.report.html`));
  return {
    md: await readFile(mdPath!, 'utf8'),
    html: await readFile(htmlPath!, 'utf8'),
    htmlPath: htmlPath!,
  };
}

before(async () => {
  acc = await recordAccident();
  await standInCluster(join(acc.base, 'k8s'), 'shop');
  worker = await startWorker(uniqueQueue('report'));
  ({ client, close: closeClient } = await testClient());
  reportsDir = await mkdtemp(join(tmpdir(), 'runbook-reports-'));
});

after(async () => {
  await worker?.stop();
  await closeClient?.();
  await acc?.cleanup();
  if (reportsDir) await rm(reportsDir, { recursive: true, force: true });
});

describe('recovery report', () => {
  let doneId = '';
  let datadir = '';

  test('a recovery saves its report beside its ledger as it ends: steps with durations, who approved, the proof, the figures', async () => {
    const i = input();
    datadir = i.restore.datadir;
    doneId = `report-done-${Date.now()}`;
    const handle = await start(doneId, i);
    await waitingAt(handle, 'pause-cluster');
    await handle.executeUpdate(approveUpdate, {
      args: [{ step: 'pause-cluster', approver: 'ana', reason: 'INC-42 pause' }],
    });
    await waitingAt(handle, 'restore-backup');
    await handle.executeUpdate(approveUpdate, {
      args: [{ step: 'restore-backup', approver: 'bob', reason: 'INC-42 restore' }],
    });
    const r = (await handle.result()) as PerconaResult;
    assert.deepEqual(r.tables, acc.truth);
    // With RECORD_HISTORIES=1: a history that took the run-report patch's path, for the replay suite.
    if (process.env.RECORD_HISTORIES === '1')
      await saveHistory(temporalAddress(), doneId, join(historiesDir, 'percona-pitr-report.json'));

    const saved = join(ledgerDirBeside(datadir), `${doneId}.report.md`);
    const md = await readFile(saved, 'utf8');
    assert.ok((await stat(join(ledgerDirBeside(datadir), `${doneId}.report.html`))).size > 2000);
    assert.match(md, new RegExp(`^# Recovery report: ${TYPE} ${doneId}$`, 'm'));
    assert.match(md, /^\| Status \| COMPLETED \|$/m);
    // Every step of the run in order, with its status and (for those that ran) a duration.
    const rows = md.split('\n').filter((l) => /^\| \d+ \| /.test(l));
    assert.deepEqual(
      rows.map((l) => l.split(' | ')[1]!.replace(' ⚠', '')),
      r.steps.map((s) => s.name.replace(/-/g, '-')),
    );
    assert.match(md, /\| restore-backup ⚠ \| ✔ done \| \S+Z \| \S+Z \| \d+(ms|s) \|/);
    // Who approved what, and when (the workflow's clock as it accepted the Update).
    assert.match(md, /\| pause-cluster \| ana \| 20\d\d-\S+Z \| no \| {2}\| INC-42 pause \|/);
    assert.match(md, /\| restore-backup \| bob \| 20\d\d-\S+Z \| no \| {2}\| INC-42 restore \|/);
    // The proof and the figures: every table expected and observed, equal.
    assert.match(md, /## Proof\n\n- proof: /);
    for (const [table, f] of Object.entries(acc.truth))
      assert.match(
        md,
        new RegExp(
          `\\| ${table.replace('.', '\\.')} \\| ${f.rows} rows, checksum ${f.checksum} \\| ${f.rows} rows, checksum ${f.checksum} \\| yes \\|`,
        ),
      );
    assert.match(md, new RegExp(`GTID state after the replay: ${r.replay!.stateAfter}`));
  });

  test('runbook report writes the same report from Temporal, and the page reads well in Chromium', async () => {
    const { md, htmlPath } = await reportOf(doneId);
    assert.match(md, /^\| Status \| COMPLETED \|$/m);
    assert.match(md, /^\| Cluster \| shop \|$/m);
    assert.match(md, /\| restore-backup \| bob \| 20\d\d-\S+Z \| no \| {2}\| INC-42 restore \|/);
    for (const [table, f] of Object.entries(acc.truth))
      assert.match(
        md,
        new RegExp(
          `\\| ${table.replace('.', '\\.')} \\| ${f.rows} rows, checksum ${f.checksum} \\| ${f.rows} rows.* \\| yes \\|`,
        ),
      );

    const browser = await launchChromium({ width: 1300, height: 900 });
    try {
      const page = browser.page;
      const requests: string[] = [];
      page.on('request', (req) => requests.push(req.url()));
      await page.goto(`file://${htmlPath}`);
      await page.getByRole('heading', { name: /Recovery report/ }).waitFor();
      await page.getByText('INC-42 restore', { exact: true }).waitFor();
      await mkdir(outDir, { recursive: true });
      await page.screenshot({ path: join(outDir, 'report.png'), fullPage: true });
      assert.ok((await stat(join(outDir, 'report.png'))).size > 20_000);
      assert.deepEqual(requests, [`file://${htmlPath}`], 'the page loads nothing but itself');

      // Hostile evidence is shown as text and runs nothing.
      const p = (await client.workflow.getHandle(doneId).query(progressQuery)) ?? undefined;
      const hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
      const steps = p.steps.map((s, i) => (i === 0 ? { ...s, evidence: [hostile, ...s.evidence] } : s));
      const evil = join(reportsDir, 'hostile.report.html');
      await writeFile(
        evil,
        renderHtml(
          buildReport({ workflowId: 'x', kind: TYPE, status: 'COMPLETED', progress: { ...p, steps } }, 'now'),
        ),
      );
      await page.goto(`file://${evil}`);
      await page.getByText(hostile).first().waitFor();
      assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);
    } finally {
      await browser.close();
    }
  });

  test('runbook report of a running, a cancelled and a failed run; a bad --out or id is refused', async () => {
    const id = `report-cancel-${Date.now()}`;
    const handle = await start(id, input());
    await waitingAt(handle, 'pause-cluster');
    const running = await reportOf(id);
    assert.match(running.md, /^\| Status \| RUNNING \|$/m);
    assert.match(running.md, /\| pause-cluster ⚠ \| ⏸ waiting-approval \|/);
    assert.match(running.md, /\| 1 \| locate-binlogs \| ✔ done \|/);
    await handle.cancel();
    await assert.rejects(handle.result());
    const cancelled = await reportOf(id);
    // (The Percona runbook reports a cancellation as a failure whose message says the run was cancelled.)
    assert.match(cancelled.md, /^\| Status \| (CANCELLED|FAILED) \|$/m);
    assert.match(cancelled.md, /^\| Outcome \| .*cancelled/im);
    assert.match(cancelled.md, /\| 1 \| locate-binlogs \| ✔ done \|/);
    // Nothing was restored, so no ledger: the run saved its report in the worker's state directory.
    assert.match(
      await readFile(join(stateRoot(), 'reports', `${id}.report.md`), 'utf8'),
      /\| Status \| (CANCELLED|FAILED) \|/,
    );
    assert.equal(
      await stat(ledgerDirBeside(join(acc.base, `restore-report-${n}`, 'data'))).catch(() => null),
      null,
    );

    // A report that cannot be written (its path is taken by a directory) leaves the run's own failure as it was.
    const failedId = `report-failed-${Date.now()}`;
    const blocked = join(stateRoot(), 'reports', `${failedId}.report.md`);
    await mkdir(blocked, { recursive: true, mode: 0o700 });
    await start(failedId, input({ approvalTimeout: '1s' }))
      .then((h) => h.result())
      .catch(() => undefined);
    const failed = await reportOf(failedId);
    assert.match(failed.md, /^\| Status \| FAILED \|$/m);
    assert.match(failed.md, /^\| Outcome \| pause-cluster: not approved within 1s/m);
    assert.match(failed.md, /\| pause-cluster ⚠ \| ✖ failed \| .* \*\*error:\*\* not approved within 1s \|/);
    assert.ok((await stat(blocked)).isDirectory(), 'the blocked report was not written');
    await rm(blocked, { recursive: true });

    const noDir = await runbook('report', doneId, '--out', join(reportsDir, 'missing'));
    assert.equal(noDir.exitCode, 2);
    assert.match(noDir.stderr, /--out .*missing is not a directory: nothing written/);
    const unknown = await runbook('report', 'no-such-run', '--out', reportsDir);
    assert.equal(unknown.exitCode, 2);
    assert.match(unknown.stderr, /no run with workflow id no-such-run/);
  });
});
