// The Temporal Web UI in a real browser: headless Chromium (Debian's, installed by scripts/bootstrap.sh;
// playwright-core drives it and never downloads one) finds a finished run by its search attributes,
// the way an operator would, and opens it at the URL the incident webhook answers with.
// Screenshots: test-output/webui.png (the filtered list) and test-output/webui-run.png (the run).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { access, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { chromium, type BrowserContext } from 'playwright-core';
import { ClusterKey, RunbookKindKey, RunbookStepKey } from '../../workflows/kit';
import { projectRoot } from '../../scripts/lib/tools';
import { startWorker, testClient, uniqueQueue, type RunningWorker } from '../support/temporal';
import { catalogRequest } from '../support/fleet';

const CHROMIUM = '/usr/bin/chromium';
const TYPE = 'perconaPointInTimeRecovery';
const outDir = join(projectRoot, 'test-output');

let client: Client;
let closeClient: () => Promise<void>;
let worker: RunningWorker;
let browser: BrowserContext | undefined;
let profileDir = '';

function uiUrl(): string {
  const u = process.env.TEMPORAL_UI_URL;
  if (!u) throw new Error('TEMPORAL_UI_URL is not set: run the tests with scripts/run-tests.ts');
  return u.replace(/\/+$/, '');
}

before(async () => {
  await access(CHROMIUM).catch(() => {
    throw new Error(`${CHROMIUM} is missing: run scripts/bootstrap.sh (it installs Debian's chromium)`);
  });
  ({ client, close: closeClient } = await testClient());
  worker = await startWorker(uniqueQueue('webui'));
  profileDir = await mkdtemp(join(tmpdir(), 'webui-chromium-'));
});

after(async () => {
  await browser?.close();
  await worker?.stop();
  await closeClient?.();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
});

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
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 800 },
  });
  const page = browser.pages()[0] ?? (await browser.newPage());

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
  console.log(`# browser: launched, list and run page checked in ${(performance.now() - t0).toFixed(0)} ms`);
});
