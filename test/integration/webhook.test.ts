// The incident webhook (scripts/webhook.ts) against the run's real Temporal dev server. No worker:
// a started run just waits on its task queue (one of each test's own), which is all these tests need
// to see; every run started here is terminated at the end.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import http from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { execa } from 'execa';
import { ClusterKey, RecoveryTargetKey, RunbookKindKey, RunbookStepKey } from '../../workflows/kit';
import { createWebhookServer, type WebhookLogger } from '../../scripts/webhook';
import { signBody } from '../../scripts/lib/signature';
import { deriveWorkflowId } from '../../scripts/lib/webhook-request';
import { freePort } from '../../activities/ports';
import { projectRoot } from '../../scripts/lib/tools';
import { temporalAddress, testClient, uniqueQueue } from '../support/temporal';

const KIND = 'perconaPointInTimeRecovery';
const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');
const OLD_KEY = randomBytes(32).toString('hex');
const UI = 'http://ui.test:8233';
const SECRET = `hunter2-${randomUUID()}`;

let client: Client;
let closeClient: () => Promise<void>;
const startedIds = new Set<string>();
const logLines: string[] = [];
const log: WebhookLogger = (level, msg, fields) => logLines.push(JSON.stringify({ level, msg, ...fields }));

before(async () => {
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  for (const id of startedIds)
    await client.workflow
      .getHandle(id)
      .terminate('webhook test done')
      .catch(() => {});
  await closeClient?.();
});

/** A webhook server of the test's own, on a task queue of its own. */
async function webhook(keys: string[] = [KEY_A, KEY_B], c: Client = client, extra = {}) {
  const taskQueue = uniqueQueue('webhook');
  const srv = createWebhookServer({ client: c, keys, taskQueue, uiUrl: UI, log, ...extra });
  const base = await srv.listen();
  return { taskQueue, base, close: () => srv.close() };
}

function perconaInput(cluster: string, extra: Record<string, unknown> = {}) {
  return {
    cluster: { adapter: 'kubernetes', name: cluster, namespace: 'db', resource: 'cluster1' },
    backup: { dir: '/backups/2026-11-22T00-00' },
    restore: { datadir: '/var/lib/mysql' },
    archive: { kind: 'fs', dir: '/var/lib/binlog-archive' },
    target: { type: 'gtid', gtid: '0-1-4004' },
    requireApproval: true,
    ...extra,
  };
}

const uniq = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;

interface Sent {
  status: number;
  json: Record<string, unknown>;
  text: string;
  ms: number;
}

type Signing = 'pagerduty' | 'generic' | 'none' | { header: string; value: string };

async function post(
  base: string,
  kind: string,
  body: unknown,
  sign: Signing = 'pagerduty',
  key = KEY_A,
  headers: Record<string, string> = {},
): Promise<Sent> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const h: Record<string, string> = { 'content-type': 'application/json', ...headers };
  if (sign === 'pagerduty') h['x-pagerduty-signature'] = `v1=${signBody(key, raw)}`;
  else if (sign === 'generic') h['x-signature'] = `sha256=${signBody(key, raw)}`;
  else if (sign !== 'none') h[sign.header] = sign.value;
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/runbooks/${kind}`, { method: 'POST', headers: h, body: raw });
  const text = await res.text();
  const ms = performance.now() - t0;
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* asserted by the caller */
  }
  if (res.status === 202) startedIds.add(String(json.workflowId));
  return { status: res.status, json, text, ms };
}

async function runExists(workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

describe('starting a runbook', () => {
  test('a good PagerDuty signature: 202 within a second, and the run exists under the derived id', async () => {
    const wh = await webhook();
    try {
      const cluster = uniq('shop');
      const incident = uniq('INC');
      const r = await post(wh.base, KIND, {
        incident: { id: incident, title: 'orders table dropped' },
        input: perconaInput(cluster),
      });
      assert.equal(r.status, 202, r.text);
      assert.ok(r.ms < 1000, `answered in ${r.ms.toFixed(0)} ms`);
      const workflowId = `${KIND}-${incident}`;
      assert.equal(r.json.workflowId, workflowId);
      assert.equal(
        r.json.url,
        `${UI}/namespaces/default/workflows/${workflowId}/${String(r.json.runId)}/history`,
      );

      const d = await client.workflow.getHandle(workflowId).describe();
      assert.equal(d.runId, r.json.runId);
      assert.equal(d.type, KIND);
      assert.equal(d.taskQueue, wh.taskQueue);
      assert.equal(d.status.name, 'RUNNING');
      // Findable before any worker has touched it: the search attributes were set at start.
      assert.equal(d.typedSearchAttributes.get(RunbookKindKey), KIND);
      assert.equal(d.typedSearchAttributes.get(ClusterKey), cluster);
      assert.equal(d.typedSearchAttributes.get(RecoveryTargetKey), 'gtid:0-1-4004');
      assert.equal(d.typedSearchAttributes.get(RunbookStepKey), 'queued');
      assert.deepEqual(d.memo, {
        trigger: 'webhook',
        incidentId: incident,
        incidentTitle: 'orders table dropped',
      });
      // The workflow gets the input as it was sent (it validates it again itself).
      const started = await client.workflow.getHandle(workflowId).fetchHistory();
      const attrs = started.events?.[0]?.workflowExecutionStartedEventAttributes;
      const payload = attrs?.input?.payloads?.[0]?.data;
      assert.ok(payload);
      assert.deepEqual(JSON.parse(Buffer.from(payload).toString()), perconaInput(cluster));
    } finally {
      await wh.close();
    }
  });

  test('the generic X-Signature header: 202', async () => {
    const wh = await webhook();
    try {
      const r = await post(
        wh.base,
        KIND,
        { incident: { id: uniq('INC') }, input: perconaInput(uniq('db')) },
        'generic',
      );
      assert.equal(r.status, 202, r.text);
      assert.ok(await runExists(String(r.json.workflowId)));
    } finally {
      await wh.close();
    }
  });

  test('key rotation: two keys configured, a header with two signatures of which one is valid: 202', async () => {
    const wh = await webhook([KEY_A, KEY_B]);
    try {
      const raw = JSON.stringify({ incident: { id: uniq('INC') }, input: perconaInput(uniq('db')) });
      const value = `v1=${signBody(OLD_KEY, raw)},v1=${signBody(KEY_B, raw)}`;
      const r = await post(wh.base, KIND, raw, { header: 'x-pagerduty-signature', value });
      assert.equal(r.status, 202, r.text);
      assert.ok(await runExists(String(r.json.workflowId)));
    } finally {
      await wh.close();
    }
  });

  test('no incident in the body: the X-Webhook-Id header names the run', async () => {
    const wh = await webhook();
    try {
      const delivery = `pd/${randomUUID()}`;
      const r = await post(wh.base, KIND, { input: perconaInput(uniq('db')) }, 'pagerduty', KEY_A, {
        'x-webhook-id': delivery,
      });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.json.workflowId, deriveWorkflowId(KIND, delivery));
      assert.ok(await runExists(String(r.json.workflowId)));
    } finally {
      await wh.close();
    }
  });
});

describe('a delivery repeated starts one run', () => {
  test('the same delivery twice, and five at once: one run, the same id and run id', async () => {
    const wh = await webhook();
    try {
      const body = { incident: { id: uniq('INC') }, input: perconaInput(uniq('shop')) };
      const first = await post(wh.base, KIND, body);
      const second = await post(wh.base, KIND, body);
      assert.equal(first.status, 202, first.text);
      assert.equal(second.status, 202, second.text);
      assert.equal(second.json.workflowId, first.json.workflowId);
      assert.equal(second.json.runId, first.json.runId);
      const burst = await Promise.all(Array.from({ length: 5 }, () => post(wh.base, KIND, body)));
      for (const r of burst) {
        assert.equal(r.status, 202, r.text);
        assert.equal(r.json.runId, first.json.runId);
      }
      // Still the first run, never replaced or reset.
      const d = await client.workflow.getHandle(String(first.json.workflowId)).describe();
      assert.equal(d.runId, first.json.runId);
      assert.equal(d.status.name, 'RUNNING');
    } finally {
      await wh.close();
    }
  });

  test('a delivery after the run ended returns that run and starts none', async () => {
    const wh = await webhook();
    try {
      const body = { incident: { id: uniq('INC') }, input: perconaInput(uniq('shop')) };
      const first = await post(wh.base, KIND, body);
      assert.equal(first.status, 202, first.text);
      await client.workflow.getHandle(String(first.json.workflowId)).terminate('ended by the test');
      const again = await post(wh.base, KIND, body);
      assert.equal(again.status, 202, again.text);
      assert.equal(again.json.runId, first.json.runId);
      assert.equal(again.json.status, 'TERMINATED');
    } finally {
      await wh.close();
    }
  });
});

describe('refused', () => {
  test('a bad signature: 401, no detail, and no run started', async () => {
    const wh = await webhook();
    try {
      const incident = uniq('INC');
      const body = { incident: { id: incident }, input: perconaInput(uniq('db')) };
      const raw = JSON.stringify(body);
      const cases: Sent[] = [
        await post(wh.base, KIND, body, 'pagerduty', OLD_KEY), // a key that is not configured
        await post(wh.base, KIND, body, 'none'), // no signature at all
        await post(wh.base, KIND, body, 'generic', OLD_KEY),
        // signed, then changed: the signature covers the raw bytes
        await post(wh.base, KIND, raw.replace('0-1-4004', '0-1-4005'), {
          header: 'x-pagerduty-signature',
          value: `v1=${signBody(KEY_A, raw)}`,
        }),
        await post(wh.base, KIND, body, { header: 'x-pagerduty-signature', value: `v1=${'0'.repeat(63)}` }),
      ];
      for (const r of cases) {
        assert.equal(r.status, 401, r.text);
        assert.deepEqual(r.json, { error: 'invalid or missing signature' });
      }
      assert.equal(await runExists(`${KIND}-${incident}`), false);
    } finally {
      await wh.close();
    }
  });

  test('bad JSON: 400', async () => {
    const wh = await webhook();
    try {
      const r = await post(wh.base, KIND, '{"incident": {"id": "INC-1"}, "input": {');
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.json, { error: 'body is not valid JSON' });
    } finally {
      await wh.close();
    }
  });

  test('invalid input: 400 naming the field, the inline secret not echoed, no run started', async () => {
    const wh = await webhook();
    try {
      const incident = uniq('INC');
      const inline = perconaInput(uniq('db'), {
        restore: { datadir: '/var/lib/mysql', password: SECRET },
      });
      const r = await post(wh.base, KIND, { incident: { id: incident }, input: inline });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error, 'invalid request');
      assert.ok(
        (r.json.issues as string[]).some((i) =>
          i.startsWith('input.restore.password: secrets are given by reference'),
        ),
        r.text,
      );
      assert.ok(!r.text.includes(SECRET), 'the secret is echoed');

      const gtid = await post(wh.base, KIND, {
        incident: { id: incident },
        input: perconaInput(uniq('db'), { target: { type: 'gtid', gtid: '0-1' } }),
      });
      assert.equal(gtid.status, 400, gtid.text);
      assert.ok(
        (gtid.json.issues as string[]).some((i) => i.startsWith('input.target.gtid: not a MariaDB GTID')),
      );

      const noIncident = await post(wh.base, KIND, { input: perconaInput(uniq('db')) });
      assert.equal(noIncident.status, 400, noIncident.text);
      assert.match(String(noIncident.json.issues), /incident\.id: required/);

      assert.equal(await runExists(`${KIND}-${incident}`), false);
      assert.ok(!logLines.join('\n').includes(SECRET), 'the secret is in the logs');
    } finally {
      await wh.close();
    }
  });

  test('unknown kind: 404 (child workflows cannot be started from outside either)', async () => {
    const wh = await webhook();
    try {
      for (const kind of ['mongoRestore', 'vitessShardRestore', '__proto__', '%E0%A4%A']) {
        const r = await post(wh.base, kind, { incident: { id: uniq('INC') }, input: {} });
        assert.equal(r.status, 404, `${kind}: ${r.text}`);
      }
      const r = await fetch(`${wh.base}/v1/runbooks/${KIND}`);
      assert.equal(r.status, 405);
      assert.equal(r.headers.get('allow'), 'POST');
    } finally {
      await wh.close();
    }
  });

  test('an oversized body: 413, with or without Content-Length', async () => {
    const wh = await webhook(undefined, undefined, { maxBodyBytes: 64 * 1024 });
    try {
      const big = JSON.stringify({ incident: { id: uniq('INC') }, input: { pad: 'x'.repeat(100 * 1024) } });
      const r = await post(wh.base, KIND, big);
      assert.equal(r.status, 413, r.text);
      // Chunked, no Content-Length: cut off while reading.
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${wh.base}/v1/runbooks/${KIND}`, { method: 'POST' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        for (let i = 0; i < 4; i++) req.write('x'.repeat(32 * 1024));
        req.end();
      });
      assert.equal(status, 413);
    } finally {
      await wh.close();
    }
  });

  test('the default limit is 256 KiB', async () => {
    const wh = await webhook();
    try {
      const input = perconaInput(uniq('db'), { recoveryId: 'x'.repeat(256 * 1024) });
      const r = await post(wh.base, KIND, { incident: { id: uniq('INC') }, input });
      assert.equal(r.status, 413, r.text);
    } finally {
      await wh.close();
    }
  });
});

describe('one recovery per cluster', () => {
  /** Waits until visibility lists the run as Running for its cluster. */
  async function visible(cluster: string, workflowId: string): Promise<void> {
    const query = `Cluster = "${cluster}" AND ExecutionStatus = "Running"`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      for await (const wf of client.workflow.list({ query })) if (wf.workflowId === workflowId) return;
      if (Date.now() > deadline) throw new Error(`visibility never listed ${workflowId}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  test('another incident for a cluster already being recovered: 409 from visibility, and no second run', async () => {
    const a = await webhook();
    const b = await webhook(); // a webhook replica with no memory of what `a` started
    try {
      const cluster = uniq('shop');
      const first = await post(a.base, KIND, { incident: { id: uniq('INC') }, input: perconaInput(cluster) });
      assert.equal(first.status, 202, first.text);
      await visible(cluster, String(first.json.workflowId));

      const incident = uniq('INC');
      const second = await post(b.base, KIND, { incident: { id: incident }, input: perconaInput(cluster) });
      assert.equal(second.status, 409, second.text);
      assert.ok(second.ms < 1000, `answered in ${second.ms.toFixed(0)} ms`);
      assert.deepEqual(second.json.running, {
        workflowId: first.json.workflowId,
        runId: first.json.runId,
        type: KIND,
      });
      assert.equal(await runExists(`${KIND}-${incident}`), false);

      // The repeated delivery of the first incident is still fine (it is that run).
      const again = await post(b.base, KIND, {
        incident: { id: String(first.json.workflowId).slice(KIND.length + 1) },
        input: perconaInput(cluster),
      });
      assert.equal(again.status, 202, again.text);
      assert.equal(again.json.runId, first.json.runId);

      // Once the first run has ended, the cluster is free again.
      await client.workflow.getHandle(String(first.json.workflowId)).terminate('done');
      const deadline = Date.now() + 20_000;
      let third: Sent;
      do {
        third = await post(b.base, KIND, { incident: { id: incident }, input: perconaInput(cluster) });
        if (third.status === 202 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      } while (third.status === 409);
      assert.equal(third.status, 202, third.text);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('two incidents for one cluster back to back on one webhook: the second gets 409 at once', async () => {
    const wh = await webhook();
    try {
      const cluster = uniq('shop');
      const [one, two] = await Promise.all([
        post(wh.base, KIND, { incident: { id: uniq('INC') }, input: perconaInput(cluster) }),
        post(wh.base, KIND, { incident: { id: uniq('INC') }, input: perconaInput(cluster) }),
      ]);
      assert.deepEqual([one.status, two.status].sort(), [202, 409], `${one.text}\n${two.text}`);
    } finally {
      await wh.close();
    }
  });
});

test('Temporal unreachable: 503 within the deadline', { timeout: 20_000 }, async () => {
  const port = await freePort();
  const unreachable = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${port}` }) });
  const wh = await webhook(undefined, unreachable, { temporalTimeoutMs: 1500 });
  try {
    const r = await post(wh.base, KIND, { incident: { id: uniq('INC') }, input: perconaInput(uniq('db')) });
    assert.equal(r.status, 503, r.text);
    assert.deepEqual(r.json, { error: 'Temporal is unavailable, retry later' });
    assert.ok(r.ms < 5000, `answered in ${r.ms.toFixed(0)} ms`);
  } finally {
    await wh.close();
    // The lazy connection never connected; it is left to its retry timer, which ends by itself (closing
    // it while the gRPC retry interceptor still has a retry scheduled throws from that timer).
  }
});

test('`npm run webhook`: configured from the environment, JSON logs without secrets, stops on SIGTERM', async () => {
  const port = await freePort();
  const taskQueue = uniqueQueue('webhook-main');
  const proc = execa(process.execPath, ['--import', 'tsx', 'scripts/webhook.ts'], {
    cwd: projectRoot,
    env: {
      TEMPORAL_ADDRESS: temporalAddress(),
      TEMPORAL_NAMESPACE: 'default',
      RUNBOOK_WEBHOOK_KEYS: `${KEY_A},${KEY_B}`,
      RUNBOOK_WEBHOOK_PORT: String(port),
      RUNBOOK_TASK_QUEUE: taskQueue,
      RUNBOOK_UI_URL: `${UI}/`,
    },
    reject: false,
    buffer: false,
    all: true,
  });
  let out = '';
  proc.all?.on('data', (b: Buffer) => (out += b.toString()));
  try {
    const deadline = Date.now() + 30_000;
    while (!out.includes('webhook listening')) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`webhook did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const incident = uniq('INC');
    const r = await post(`http://127.0.0.1:${port}`, KIND, {
      incident: { id: incident },
      input: perconaInput(uniq('db'), {
        restore: { datadir: '/var/lib/mysql', password: { env: 'SHOP_PW' } },
      }),
    });
    assert.equal(r.status, 202, r.text);
    assert.ok(String(r.json.url).startsWith(`${UI}/namespaces/default/workflows/${KIND}-${incident}/`));
    assert.equal((await client.workflow.getHandle(`${KIND}-${incident}`).describe()).taskQueue, taskQueue);
    const bad = await post(`http://127.0.0.1:${port}`, KIND, { input: {} }, 'pagerduty', OLD_KEY);
    assert.equal(bad.status, 401);
  } finally {
    proc.kill('SIGTERM');
    await proc;
  }
  assert.equal(proc.exitCode, 0, out);
  const lines = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.some((l) => l.msg === 'request' && l.status === 202));
  assert.ok(lines.some((l) => l.msg === 'request' && l.status === 401));
  for (const secret of [KEY_A, KEY_B, OLD_KEY]) assert.ok(!out.includes(secret), 'a key is in the logs');
  assert.ok(!out.includes('v1='), 'a signature is in the logs');
});

test('the logs of every request above name no key, signature or secret', () => {
  assert.ok(logLines.length > 20);
  const text = logLines.join('\n');
  for (const secret of [KEY_A, KEY_B, OLD_KEY, SECRET, 'v1=', 'sha256='])
    assert.ok(!text.includes(secret), secret);
});
