// Every example input of README.md and docs/*.md, run: each JSON block parses and validates as what
// its page says it is (a runbook's whole input, a catalog entry, a fragment of the Percona input, a
// webhook body, an archiver configuration); each request file resolves against the catalog entry its
// page describes and is planned by the real worker, where a plan naming a host with no agent says so
// within seconds; and each approval example approves every gate of its runbook. A doc that drifts
// from the code fails here.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ed25519 } from '@noble/curves/ed25519.js';
import { WorkflowFailedError } from '@temporalio/client';
import { ArchiverConfig } from '../../scripts/archiver';
import { projectRoot } from '../../scripts/lib/tools';
import { entryIssues, resolveRequest } from '../../activities/trust/fleet-catalog';
import { requestShapeIssues } from '../../workflows/requests';
import { runbookOf } from '../../workflows/runbooks';
import { catalogRequest, writeCatalogEntry } from '../support/fleet';
import { approvalFlows, jsonExamples, requestExamples, type JsonExample } from '../support/doc-examples';
import {
  startWorker,
  temporalAddress,
  testClient,
  uniqueQueue,
  type RunningWorker,
} from '../support/temporal';

/** The page each runbook's whole-input example is on. */
const PAGES: Record<string, string> = {
  'docs/ndb-channel-failover.md': 'ndbChannelFailover',
  'docs/ndb-pitr.md': 'ndbPointInTimeRecovery',
  'docs/tungsten-external-restore.md': 'tungstenExternalRestore',
  'docs/vitess-snapshot-restore.md': 'vitessSnapshotRestore',
};
const json = jsonExamples();
const requests = requestExamples().filter((r) => r.name.endsWith('.json') && r.kind);
const at = (e: { file: string; line: number }) => `${e.file}:${e.line}`;
const gatesOf = (kind: string) =>
  runbookOf(kind)!
    .steps.filter((s) => s.destructive)
    .map((s) => s.name);

/** The fleet catalog's example entry, its elided approver keys ("AAAA…") replaced by real ones. */
function perconaEntry(): { runbooks: Record<string, { input: Record<string, unknown> }>; approval: object } {
  const e = json.find((x) => x.file === 'docs/fleet-catalog.md' && has(x, 'runbooks'))!.value as ReturnType<
    typeof perconaEntry
  >;
  const approval = e.approval as { approvers: { name: string; publicKey: string }[] };
  const approvers = approval.approvers.map((a) => ({
    name: a.name,
    publicKey: Buffer.from(ed25519.getPublicKey(ed25519.utils.randomSecretKey())).toString('base64'),
  }));
  return { ...e, approval: { ...approval, approvers } };
}
const has = (e: JsonExample, key: string) =>
  !!e.value && typeof e.value === 'object' && key in (e.value as object);

test('every JSON example in the docs parses', () => {
  assert.ok(json.length >= 10, `found ${json.length} JSON examples`);
  for (const e of json) assert.equal(e.error, undefined, `${at(e)}: ${e.error}`);
  for (const r of requestExamples()) assert.equal(r.error, undefined, `${at(r)} (${r.name}): ${r.error}`);
});

test("each runbook page's whole input is valid for its runbook", () => {
  for (const [file, kind] of Object.entries(PAGES)) {
    const all = json.filter((e) => e.file === file && !e.fragment && !has(e, 'spoolDir'));
    assert.ok(all.length >= 1, `${file} has a whole-input example`);
    for (const e of all) {
      const r = runbookOf(kind)!.schema.safeParse(e.value);
      assert.ok(r.success, `${at(e)} is not a valid ${kind} input: ${r.error?.message}`);
    }
  }
});

test('the catalog entry, the Percona fragments, the webhook body and the archiver configuration are valid', () => {
  const entryExample = json.find((e) => e.file === 'docs/fleet-catalog.md' && has(e, 'runbooks'))!;
  // The page elides the approvers' keys ("AAAA…"): those are the only issues.
  for (const issue of entryIssues('shop', entryExample.value))
    assert.match(issue, /approvers\.\d+\.publicKey/, `${at(entryExample)}: ${issue}`);
  assert.deepEqual(entryIssues('shop', perconaEntry()), []);

  const base = perconaEntry().runbooks.perconaPointInTimeRecovery!.input;
  const request = { target: { type: 'time', time: '2026-11-22T03:12:00Z' } };
  const schema = runbookOf('perconaPointInTimeRecovery')!.schema;
  for (const e of json.filter((x) => x.fragment)) {
    const merged = { ...base, ...(e.value as object), ...request };
    const r = schema.safeParse(merged);
    assert.ok(r.success, `${at(e)}: the Percona input with this fragment is invalid: ${r.error?.message}`);
  }
  const body = json.find((e) => e.file === 'docs/webhook.md' && has(e, 'request'))!;
  assert.deepEqual(
    requestShapeIssues('perconaPointInTimeRecovery', (body.value as { request: unknown }).request),
    [],
  );
  const archiver = json.find((e) => has(e, 'spoolDir'))!;
  const a = ArchiverConfig.safeParse(archiver.value);
  assert.ok(a.success, `${at(archiver)}: ${a.error?.message}`);
});

test('approval examples approve every gate of their runbook, in order', () => {
  const flows = approvalFlows().filter((f) => f.kind);
  assert.ok(flows.length >= 5, `found ${flows.length} approval examples`);
  for (const f of flows)
    assert.deepEqual(f.steps, gatesOf(f.kind!), `${f.file}: ${f.workflowId} approves ${f.steps.join(', ')}`);
});

/** Each request's catalog entry, as its page describes it: the whole input but the request's fields. */
async function writeEntries(): Promise<void> {
  await writeCatalogEntry('shop', perconaEntry());
  for (const [file, kind] of Object.entries(PAGES)) {
    const whole = json.find((e) => e.file === file && !e.fragment && !has(e, 'spoolDir'))!.value;
    const request = requests.find((r) => r.file === file)!.value as { cluster: string };
    await catalogRequest(kind, whole, { name: request.cluster });
  }
}

test('each request example resolves against its catalog entry', async () => {
  await writeEntries();
  assert.ok(requests.length >= 6, `found ${requests.length} request examples`);
  for (const r of requests) {
    // As the plan resolves it (an unsigned run of the example entry is refused: docs/percona-pitr.md says so).
    const resolved = await resolveRequest(r.kind!, { ...(r.value as object), mode: 'plan' }).catch(
      (err: Error) => err,
    );
    assert.ok(!(resolved instanceof Error), `${at(r)} (${r.name}): ${(resolved as Error).message}`);
  }
});

let worker: RunningWorker;
before(async () => {
  worker = await startWorker(uniqueQueue('docs-examples'));
});
after(async () => {
  await worker?.stop();
});

test('each request example plans on the worker: none is refused as input; a host with no agent is named within seconds', async () => {
  await writeEntries();
  const { client, close } = await testClient();
  try {
    for (const r of requests) {
      const started = Date.now();
      const handle = await client.workflow.start(r.kind!, {
        taskQueue: worker.taskQueue,
        workflowId: `docs-${r.file.replace(/\W+/g, '-')}-${r.line}-${Date.now()}`,
        args: [{ ...(r.value as object), mode: 'plan' }],
      });
      const outcome = await handle.result().then(
        () => 'planned',
        (err: unknown) => (err instanceof WorkflowFailedError ? messages(err) : String(err)),
      );
      const seconds = (Date.now() - started) / 1000;
      console.log(`${at(r)} ${r.kind} plan (${seconds.toFixed(1)} s): ${outcome}`);
      assert.doesNotMatch(outcome, /invalid (input|request)|fleet catalog/, `${at(r)}: refused as input`);
      if (/has no agent polling/.test(outcome))
        assert.ok(seconds < 25, `${at(r)}: the missing agent was named after ${seconds} s`);
    }
  } finally {
    await close();
  }
});

function messages(err: unknown): string {
  const out: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e)
    if (e.message) out.push(e.message);
  return out.join(' ← ');
}

test("runbook plan on the Tungsten page's request says, in its own output, that host db2 has no agent — within seconds", async () => {
  await writeEntries();
  const request = requests.find((r) => r.kind === 'tungstenExternalRestore')!;
  const file = join(tmpdir(), `docs-${process.pid}-restore-db2.json`);
  await writeFile(file, JSON.stringify(request.value));
  const started = Date.now();
  const r = await execa(
    process.execPath,
    [
      '--import',
      'tsx',
      join(projectRoot, 'scripts/runbook.ts'),
      'plan',
      'tungstenExternalRestore',
      '--input',
      file,
    ],
    {
      cwd: projectRoot,
      reject: false,
      env: { TEMPORAL_ADDRESS: temporalAddress(), RUNBOOK_TASK_QUEUE: worker.taskQueue },
    },
  );
  const seconds = (Date.now() - started) / 1000;
  assert.equal(r.exitCode, 1, r.stdout);
  assert.match(
    r.stderr,
    new RegExp(
      `host db2 has no agent polling task queue ${worker.taskQueue}\\.host\\.db2.*RUNBOOK_HOST=db2 npm run agent`,
    ),
  );
  assert.match(r.stderr, /next: Start the host agent of the named host, then plan again/);
  assert.ok(seconds < 20, `answered after ${seconds.toFixed(1)} s`);
});
