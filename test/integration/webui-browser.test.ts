// The Temporal Web UI in a real browser: headless Chromium (Debian's, installed by scripts/bootstrap.sh;
// playwright-core drives it and never downloads one) finds a finished run by its search attributes,
// the way an operator would, and opens it at the URL the incident webhook answers with.
// Screenshots: test-output/webui.png (the filtered list) and test-output/webui-run.png (the run).
// A run waiting at its approval gate shows what Temporal's user metadata carries: its static summary
// and details (set by the starter, scripts/lib/run-summary.ts), its Current details (the step table
// and how to approve, set by the kit), and activity summaries named after the steps. Screenshots:
// test-output/webui-run-details.png and test-output/webui-run-timeline.png.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow';
import { ed25519 } from '@noble/curves/ed25519.js';
import type { Page } from 'playwright-core';
import { launchChromium, type HeadlessChromium } from '../support/chromium';
import { ClusterKey, progressQuery, RunbookKindKey, RunbookStepKey } from '../../workflows/kit';
import { projectRoot } from '../../scripts/lib/tools';
import { runMetadata } from '../../scripts/lib/run-summary';
import { startWorker, testClient, uniqueQueue, type RunningWorker } from '../support/temporal';
import { catalogRequest } from '../support/fleet';
import { recordAccident, standInCluster, useStandIns, type Accident } from '../support/percona-scenario';

useStandIns();

const TYPE = 'perconaPointInTimeRecovery';
const outDir = join(projectRoot, 'test-output');

let client: Client;
let closeClient: () => Promise<void>;
let worker: RunningWorker;
let browser: HeadlessChromium | undefined;
let acc: Accident | undefined;

function uiUrl(): string {
  const u = process.env.TEMPORAL_UI_URL;
  if (!u) throw new Error('TEMPORAL_UI_URL is not set: run the tests with scripts/run-tests.ts');
  return u.replace(/\/+$/, '');
}

before(async () => {
  ({ client, close: closeClient } = await testClient());
  worker = await startWorker(uniqueQueue('webui'));
});

after(async () => {
  await browser?.close();
  await worker?.stop();
  await closeClient?.();
  await acc?.cleanup();
});

/** Headless Chromium (one for the file), its first page. */
async function openBrowser(): Promise<Page> {
  browser ??= await launchChromium({ width: 1400, height: 800 });
  return browser.page;
}

/** Polls until visibility lists the run under the query (it is eventually consistent). */
async function listed(query: string, workflowId: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    for await (const wf of client.workflow.list({ query })) if (wf.workflowId === workflowId) return;
    if (Date.now() > deadline) throw new Error(`visibility never listed ${workflowId} for ${query}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('the Web UI finds a finished runbook run by its search attributes and shows it', async () => {
  // A real run on a real worker, finished: the runbook refuses the input at validation (a malformed
  // GTID) and fails at once, touching nothing. Its search attributes are set at start, as
  // the incident webhook does, since the kit upserts them only after the input is valid.
  const cluster = `webui-${randomUUID().slice(0, 8)}`;
  const workflowId = `${TYPE}-webui-${randomUUID().slice(0, 8)}`;
  const handle = await client.workflow.start(TYPE, {
    taskQueue: worker.taskQueue,
    workflowId,
    args: [
      await catalogRequest(TYPE, {
        cluster: { adapter: 'kubernetes', name: cluster, namespace: 'db', resource: 'cluster1' },
        backup: { dir: '/backups/full' },
        restore: { datadir: '/var/lib/mysql' },
        archive: { kind: 'fs', dir: '/var/lib/binlog-archive' },
        target: { type: 'gtid', gtid: '0-1' },
      }),
    ],
    typedSearchAttributes: [
      { key: RunbookKindKey, value: TYPE },
      { key: ClusterKey, value: cluster },
      { key: RunbookStepKey, value: 'queued' },
    ],
  });
  await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError);
  const query = `WorkflowType = "${TYPE}" AND RunbookKind = "${TYPE}" AND Cluster = "${cluster}"`;
  await listed(`${query} AND ExecutionStatus = "Failed"`, workflowId);

  const t0 = performance.now();
  const page = await openBrowser();

  // The operator's view: the workflow list filtered by the runbook's search attributes.
  await page.goto(`${uiUrl()}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
  const link = page.getByRole('link', { name: workflowId, exact: true });
  await link.waitFor({ state: 'visible', timeout: 30_000 });
  const row = page.getByRole('row').filter({ has: link });
  await row.getByText(/^failed$/i).waitFor({ state: 'visible', timeout: 10_000 });
  assert.equal(await page.getByRole('link', { name: /^perconaPointInTimeRecovery-/ }).count(), 1);
  await mkdir(outDir, { recursive: true });
  await page.screenshot({ path: join(outDir, 'webui.png') });
  assert.ok((await stat(join(outDir, 'webui.png'))).size > 10_000);

  // The run itself, at the URL the incident webhook answers with, showing why it failed.
  const { runId } = await handle.describe();
  await page.goto(
    `${uiUrl()}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/history`,
  );
  await page.getByText(workflowId).first().waitFor({ state: 'visible', timeout: 30_000 });
  await page
    .getByText(/not a MariaDB GTID/)
    .first()
    .waitFor({ state: 'visible', timeout: 30_000 });
  await page.screenshot({ path: join(outDir, 'webui-run.png') });
  // Its Current details say why, though the runbook never opened (workflows/run-metadata.ts).
  await page.goto(
    `${uiUrl()}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/user-metadata`,
  );
  await page
    .frameLocator('#user-metadata-current-details')
    .getByText(/not a MariaDB GTID/)
    .first()
    .waitFor({ state: 'visible', timeout: 30_000 });
  await page
    .frameLocator('#user-metadata-current-details')
    .getByText('✖ Failed')
    .waitFor({ state: 'visible', timeout: 10_000 });
  console.log(`# browser: launched, list and run page checked in ${(performance.now() - t0).toFixed(0)} ms`);
});

const approver = (name: string) => ({
  name,
  publicKey: Buffer.from(ed25519.getPublicKey(ed25519.utils.randomSecretKey())).toString('base64'),
});

test('a run waiting at its approval gate shows its summary, its step table with the pending approval, and step-named activities', async () => {
  // A real Percona recovery on a real MariaDB source and archive: locate-binlogs and fetch-backup
  // run, then pause-cluster waits for signed approvals (the catalog names approvers; an unsigned
  // start needs one more than the quorum).
  acc = await recordAccident({ afterBackup: 500 });
  await standInCluster(join(acc.base, 'k8s'), 'shop');
  const workflowId = `${TYPE}-webui-gate-${randomUUID().slice(0, 8)}`;
  const request = (await catalogRequest(
    TYPE,
    {
      cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'shop' },
      backup: { dir: acc.backupDir },
      restore: { datadir: join(acc.base, 'restore-webui', 'data') },
      archive: { kind: 'fs', dir: acc.source.archiveDir },
      verify: { schemas: ['shop'] },
      heartbeatTimeout: '10s',
      target: { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
      requireApproval: true,
    },
    { approval: { approvers: [approver('ana'), approver('bob'), approver('carol')], quorum: 1 } },
  )) as Record<string, unknown>;
  const metadata = runMetadata({
    kind: TYPE,
    workflowId,
    request,
    incident: { id: 'INC-42', title: 'orders table dropped' },
    startedBy: 'the Web UI test',
  });
  const summary = `${TYPE} · cluster ${String(request.cluster)} · to GTID ${acc.dropGtid} (exclusive) · INC-42`;
  assert.equal(metadata.staticSummary, summary);
  const handle = await client.workflow.start(TYPE, {
    taskQueue: worker.taskQueue,
    workflowId,
    args: [request],
    ...metadata,
  });
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const p = await handle.query(progressQuery).catch(() => undefined);
      if (p?.steps.find((s) => s.name === 'pause-cluster')?.status === 'waiting-approval') break;
      if (Date.now() > deadline)
        throw new Error(`the run never waited at pause-cluster: ${JSON.stringify(p)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const { runId } = await handle.describe();
    const t0 = performance.now();
    const page = await openBrowser();
    const runPage = `${uiUrl()}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}`;
    await mkdir(outDir, { recursive: true });

    // The User Metadata tab: the static summary and details (from the start) and the Current
    // details the kit set (queried from the worker), each markdown rendered in a frame of its own.
    await page.goto(`${runPage}/user-metadata`);
    const frame = (id: string) => page.frameLocator(`#user-metadata-${id}`);
    const shows = (id: string, text: string | RegExp) =>
      frame(id).getByText(text).first().waitFor({ state: 'visible', timeout: 30_000 });
    await shows('summary', summary);
    await shows('details', 'INC-42 — orders table dropped');
    await shows('current-details', /Waiting for approval: ?pause-cluster/);
    for (const text of [
      '2 more signed approvals',
      'May approve: ana, bob, carol.',
      `runbook approve ${workflowId}`,
      '--step pause-cluster --reason <why> --approver <you> --key <you>.key',
      `temporal workflow update execute --workflow-id ${workflowId} --name approve`,
    ])
      await shows('current-details', text);
    const row = (step: string) => frame('current-details').getByRole('row').filter({ hasText: step }).first();
    await row('locate-binlogs').getByText(/done/).waitFor({ state: 'visible', timeout: 10_000 });
    await row('pause-cluster')
      .getByText(/waiting for approval/)
      .waitFor({ state: 'visible', timeout: 10_000 });
    await row('restore-backup')
      .getByText(/pending/)
      .waitFor({ state: 'visible', timeout: 10_000 });
    // Tall enough for the whole step table and the approval commands in one picture.
    await page.setViewportSize({ width: 1900, height: 1700 });
    await page.screenshot({ path: join(outDir, 'webui-run-details.png'), fullPage: true });

    // Every activity the run scheduled carries a summary naming its step (read from the history)...
    const summaries: string[] = [];
    let scheduled = 0;
    for (const e of (await handle.fetchHistory()).events ?? []) {
      if (!e.activityTaskScheduledEventAttributes) continue;
      scheduled++;
      const p = e.userMetadata?.summary;
      const text = p ? await decodeOptionalSinglePayload(client.options.loadedDataConverter, p) : null;
      if (typeof text === 'string') summaries.push(text);
    }
    assert.ok(scheduled >= 2, `activities scheduled before the gate: ${scheduled}`);
    assert.equal(summaries.length, scheduled, 'every activity has a summary');
    // The fleet catalog is read before the runbook opens; every call after it names its step.
    assert.deepEqual(summaries[0], 'resolve request');
    assert.ok(summaries.length > 1);
    for (const text of summaries.slice(1)) assert.match(text, /^(locate-binlogs|fetch-backup) — [a-z ]+/);
    // ...and the event history and the timeline show them.
    await page.goto(`${runPage}/history`);
    for (const text of new Set(summaries))
      await page.getByText(text, { exact: true }).first().waitFor({ state: 'visible', timeout: 30_000 });
    await page.screenshot({ path: join(outDir, 'webui-run-events.png'), fullPage: true });
    await page.goto(`${runPage}/timeline`);
    await page.getByText(summaries[0]!).first().waitFor({ state: 'visible', timeout: 30_000 });
    await page.screenshot({ path: join(outDir, 'webui-run-timeline.png'), fullPage: true });
    for (const f of ['webui-run-details.png', 'webui-run-events.png', 'webui-run-timeline.png'])
      assert.ok((await stat(join(outDir, f))).size > 10_000, f);
    console.log(`# browser: run details and timeline checked in ${(performance.now() - t0).toFixed(0)} ms`);
  } finally {
    await handle.terminate('Web UI test done').catch(() => {});
  }
});
