// The incident webhook (scripts/webhook.ts) against the run's real Temporal dev server. No worker:
// a started run just waits on its task queue (one of each test's own), which is all these tests need
// to see; every run started here is terminated at the end. Each test's clusters are entries of this
// test process's fleet catalog (test/support/fleet.ts), as an operator would describe them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import http from 'node:http';
import net from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { execa } from 'execa';
import { ed25519 } from '@noble/curves/ed25519.js';
import { ClusterKey, RecoveryTargetKey, RunbookKindKey, RunbookStepKey } from '../../workflows/kit';
import { createWebhookServer, type WebhookLogger } from '../../scripts/webhook';
import { DeliveryStore } from '../../scripts/lib/delivery-store';
import { signBody } from '../../scripts/lib/signature';
import type { WebhookKey } from '../../scripts/lib/webhook-keys';
import { freePort } from '../../activities/mysql/ports';
import { projectRoot } from '../../scripts/lib/tools';
import { temporalAddress, testClient, uniqueQueue } from '../support/temporal';
import { testCatalogDir, writeCatalogEntry } from '../support/fleet';

const KIND = 'perconaPointInTimeRecovery';
const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');
const OLD_KEY = randomBytes(32).toString('hex');
const UI = 'http://ui.test:8233';
const SECRET = `hunter2-${randomUUID()}`;
const keyA: WebhookKey = { id: 'pagerduty-a', secret: KEY_A, kinds: [KIND], clusters: ['*'] };
const keyB: WebhookKey = { id: 'pagerduty-b', secret: KEY_B, kinds: [KIND], clusters: ['*'] };

let client: Client;
let closeClient: () => Promise<void>;
let storeDir: string;
const startedIds = new Set<string>();
const logLines: string[] = [];
const log: WebhookLogger = (level, msg, fields) => logLines.push(JSON.stringify({ level, msg, ...fields }));

before(async () => {
  ({ client, close: closeClient } = await testClient());
  storeDir = await mkdtemp(join(tmpdir(), 'webhook-deliveries-'));
});

after(async () => {
  for (const id of startedIds)
    await client.workflow
      .getHandle(id)
      .terminate('webhook test done')
      .catch(() => {});
  await closeClient?.();
  await rm(storeDir, { recursive: true, force: true });
});

/** A webhook server of the test's own, on a task queue of its own, with a delivery store of its own. */
async function webhook(keys: WebhookKey[] = [keyA, keyB], c: Client = client, extra = {}) {
  const taskQueue = uniqueQueue('webhook');
  const deliveries = await DeliveryStore.open(join(storeDir, `${randomUUID()}.jsonl`), 600_000);
  const srv = createWebhookServer({ client: c, keys, deliveries, taskQueue, uiUrl: UI, log, ...extra });
  const base = await srv.listen();
  return { taskQueue, base, close: () => srv.close() };
}

/**
 * Approvers of the catalog's clusters (the webhook never approves; these tests only start runs). Two:
 * a webhook start is unsigned, so it needs one approval more than the quorum of 1.
 */
const approver = (name: string) => ({
  name,
  publicKey: Buffer.from(ed25519.getPublicKey(ed25519.utils.randomSecretKey())).toString('base64'),
});
const APPROVERS = [approver('ana'), approver('bob')];

/** A cluster of the fleet catalog (what the webhook's request names); approval required. */
async function catalogCluster(name: string): Promise<string> {
  await writeCatalogEntry(name, {
    runbooks: {
      [KIND]: {
        input: {
          cluster: { adapter: 'kubernetes', name, namespace: 'db', resource: 'cluster1' },
          backup: { dir: '/backups/2026-11-22T00-00' },
          restore: { datadir: '/var/lib/mysql', password: { env: 'SHOP_PW' } },
          archive: { kind: 'fs', dir: '/var/lib/binlog-archive' },
        },
      },
    },
    approval: { approvers: APPROVERS },
  });
  return name;
}

const uniq = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;
const newCluster = (p = 'shop') => catalogCluster(uniq(p));

/** A delivery body: the incident, the time it is signed, a request for a catalog cluster. */
function delivery(
  cluster: string,
  incident = uniq('INC'),
  request: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  return {
    incident: { id: incident, title: 'orders table dropped' },
    sentAt: new Date().toISOString(),
    request: { cluster, target: { type: 'gtid', gtid: '0-1-4004' }, ...request },
    ...extra,
  };
}

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

/** The input a run was started with, from its history. */
async function startInput(workflowId: string): Promise<Record<string, unknown>> {
  const started = await client.workflow.getHandle(workflowId).fetchHistory();
  const payload = started.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  assert.ok(payload);
  return JSON.parse(Buffer.from(payload).toString()) as Record<string, unknown>;
}

describe('starting a runbook', () => {
  test('a good PagerDuty signature: 202 within a second, the run under the derived id, approval forced', async () => {
    const wh = await webhook();
    try {
      const cluster = await newCluster();
      const incident = uniq('INC');
      // The sender asks for no approval: the webhook starts every run with approval required.
      const r = await post(wh.base, KIND, delivery(cluster, incident, { requireApproval: false }));
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
        webhookKey: 'pagerduty-a',
        incidentId: incident,
        incidentTitle: 'orders table dropped',
      });
      // The Web UI's summary and details of the run, set at start (scripts/lib/run-summary.ts).
      assert.equal(await d.staticSummary(), `${KIND} · cluster ${cluster} · to GTID 0-1-4004 · ${incident}`);
      assert.match(
        String(await d.staticDetails()),
        new RegExp(`\\*\\*Incident\\*\\* ${incident} — orders table dropped`),
      );
      assert.match(
        String(await d.staticDetails()),
        /\*\*Started by\*\* incident webhook \(key pagerduty-a\)/,
      );
      // The workflow gets the request (the catalog's part is merged on the workers), approval on.
      assert.deepEqual(await startInput(workflowId), {
        cluster,
        target: { type: 'gtid', gtid: '0-1-4004' },
        requireApproval: true,
      });
    } finally {
      await wh.close();
    }
  });

  test('the generic X-Signature header: 202', async () => {
    const wh = await webhook();
    try {
      const r = await post(wh.base, KIND, delivery(await newCluster('db')), 'generic');
      assert.equal(r.status, 202, r.text);
      assert.ok(await runExists(String(r.json.workflowId)));
    } finally {
      await wh.close();
    }
  });

  test('key rotation: two keys configured, a header with two signatures of which one is valid: 202', async () => {
    const wh = await webhook();
    try {
      const raw = JSON.stringify(delivery(await newCluster('db')));
      const value = `v1=${signBody(OLD_KEY, raw)},v1=${signBody(KEY_B, raw)}`;
      const r = await post(wh.base, KIND, raw, { header: 'x-pagerduty-signature', value });
      assert.equal(r.status, 202, r.text);
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
      const body = delivery(await newCluster());
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
      const body = delivery(await newCluster());
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

  test('a captured delivery sent again under a new X-Webhook-Id starts nothing new (the header names nothing)', async () => {
    const wh = await webhook();
    try {
      const raw = JSON.stringify(delivery(await newCluster()));
      const first = await post(wh.base, KIND, raw);
      assert.equal(first.status, 202, first.text);
      const replayed = await post(wh.base, KIND, raw, 'pagerduty', KEY_A, { 'x-webhook-id': uniq('pd') });
      assert.equal(replayed.status, 202, replayed.text);
      assert.equal(replayed.json.workflowId, first.json.workflowId);
      assert.equal(replayed.json.runId, first.json.runId);
      assert.ok(
        logLines.some((l) => l.includes(String(first.json.workflowId)) && l.includes('"existing":true')),
      );
    } finally {
      await wh.close();
    }
  });

  test('a captured delivery replayed after its maximum age is refused, and starts nothing', async () => {
    const wh = await webhook(undefined, undefined, { maxAgeMs: 60_000 });
    try {
      const incident = uniq('INC');
      const old = delivery(
        await newCluster(),
        incident,
        {},
        { sentAt: new Date(Date.now() - 120_000).toISOString() },
      );
      const r = await post(wh.base, KIND, old);
      assert.equal(r.status, 400, r.text);
      assert.match(String(r.json.issues), /sentAt: older than 60 s/);
      assert.equal(await runExists(`${KIND}-${incident}`), false);
    } finally {
      await wh.close();
    }
  });
});

describe('refused', () => {
  test('a bad signature: 401, no detail, and no run started; an unknown kind unsigned is 401 too, never a kind list', async () => {
    const wh = await webhook();
    try {
      const incident = uniq('INC');
      const body = delivery(await newCluster('db'), incident);
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
        await post(wh.base, 'mongoRestore', body, 'none'),
        await post(wh.base, 'mongoRestore', body, 'pagerduty', OLD_KEY),
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
      const r = await post(wh.base, KIND, '{"incident": {"id": "INC-1"}, "request": {');
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.json, { error: 'body is not valid JSON' });
    } finally {
      await wh.close();
    }
  });

  test('a signed body that sets argv, a datadir, an endpoint or a secret: 400 naming each field, nothing echoed, no run', async () => {
    const wh = await webhook();
    try {
      const incident = uniq('INC');
      const hostile = delivery(await newCluster('db'), incident, {
        start: ['/bin/sh', '-c', `echo ${SECRET} > /tmp/owned`],
        restore: { datadir: '/etc', password: SECRET },
        archive: { kind: 's3', bucket: 'b', prefix: 'p', endpoint: 'http://attacker.example' },
        cluster: { adapter: 'process', name: 'shop', pidFile: '/run/x.pid', start: ['/bin/sh'] },
      });
      const r = await post(wh.base, KIND, hostile);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error, 'invalid request');
      const issues = (r.json.issues as string[]).join('\n');
      assert.match(issues, /^request\.cluster: the name of a cluster in the fleet catalog/m);
      for (const field of ['start', 'restore', 'archive'])
        assert.match(issues, new RegExp(`^request\\.${field}: set by the fleet catalog on the workers`, 'm'));
      assert.ok(!r.text.includes(SECRET) && !r.text.includes('attacker'), r.text);
      assert.equal(await runExists(`${KIND}-${incident}`), false);
      assert.ok(!logLines.join('\n').includes(SECRET), 'the secret is in the logs');
    } finally {
      await wh.close();
    }
  });

  test('a request the catalog refuses: a bad GTID, an unknown cluster — 400 with the reason, no run', async () => {
    const wh = await webhook();
    try {
      const incident = uniq('INC');
      const gtid = await post(
        wh.base,
        KIND,
        delivery(await newCluster('db'), incident, { target: { type: 'gtid', gtid: '0-1' } }),
      );
      assert.equal(gtid.status, 400, gtid.text);
      assert.match(String(gtid.json.issues), /invalid input: target\.gtid: not a MariaDB GTID/);
      const unknown = await post(wh.base, KIND, delivery(uniq('nowhere'), incident));
      assert.equal(unknown.status, 400, unknown.text);
      assert.match(String(unknown.json.issues), /is not in the fleet catalog/);
      const noIncident = await post(wh.base, KIND, { sentAt: new Date().toISOString(), request: {} });
      assert.equal(noIncident.status, 400, noIncident.text);
      assert.match(String(noIncident.json.issues), /incident/);
      assert.equal(await runExists(`${KIND}-${incident}`), false);
    } finally {
      await wh.close();
    }
  });

  test('a key used outside its scope: 403 for another cluster or another kind, no run', async () => {
    const shopOnly: WebhookKey = { id: 'shop-only', secret: KEY_A, kinds: [KIND], clusters: ['shop-scoped'] };
    const wh = await webhook([shopOnly]);
    try {
      await catalogCluster('shop-scoped');
      const other = await newCluster('billing');
      const incident = uniq('INC');
      const r = await post(wh.base, KIND, delivery(other, incident));
      assert.equal(r.status, 403, r.text);
      assert.match(String(r.json.error), new RegExp(`may not start ${KIND} for cluster ${other}`));
      const rollback = await post(wh.base, 'perconaRollback', {
        ...delivery('shop-scoped', incident, { recoveryId: 'x' }),
        request: { cluster: 'shop-scoped', recoveryId: 'x' },
      });
      assert.equal(rollback.status, 403, rollback.text);
      assert.equal(await runExists(`${KIND}-${incident}`), false);
      assert.equal(await runExists(`perconaRollback-${incident}`), false);
      const allowed = await post(wh.base, KIND, delivery('shop-scoped'));
      assert.equal(allowed.status, 202, allowed.text);
    } finally {
      await wh.close();
    }
  });

  test('unknown kind, signed: 404 without a list of kinds (child workflows cannot be started from outside either)', async () => {
    const wh = await webhook();
    try {
      for (const kind of ['mongoRestore', 'vitessShardRestore', '__proto__', '%E0%A4%A']) {
        const r = await post(wh.base, kind, delivery('x'));
        assert.equal(r.status, 404, `${kind}: ${r.text}`);
        assert.deepEqual(r.json, { error: 'unknown runbook kind' });
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
      const big = JSON.stringify({ ...delivery('x'), pad: 'x'.repeat(100 * 1024) });
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
      const r = await post(wh.base, KIND, delivery('x', uniq('INC'), { recoveryId: 'x'.repeat(256 * 1024) }));
      assert.equal(r.status, 413, r.text);
    } finally {
      await wh.close();
    }
  });

  test(
    'a client that never finishes its headers is cut off within seconds',
    { timeout: 20_000 },
    async () => {
      const wh = await webhook();
      try {
        const { port } = new URL(wh.base);
        const t0 = Date.now();
        const answer = await new Promise<string>((resolve) => {
          const socket = net.connect(Number(port), '127.0.0.1', () =>
            socket.write(`POST /v1/runbooks/${KIND} HTTP/1.1\r\nHost: x\r\nX-Slow: `),
          );
          let got = '';
          socket.on('data', (b) => (got += b.toString()));
          socket.on('close', () => resolve(got));
          socket.on('error', () => resolve(got));
        });
        const seconds = (Date.now() - t0) / 1000;
        assert.ok(seconds < 10, `the connection stayed open ${seconds.toFixed(1)} s`);
        assert.match(answer || 'closed', /408|closed/);
      } finally {
        await wh.close();
      }
    },
  );
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
      const cluster = await newCluster();
      const first = await post(a.base, KIND, delivery(cluster));
      assert.equal(first.status, 202, first.text);
      await visible(cluster, String(first.json.workflowId));

      const incident = uniq('INC');
      const second = await post(b.base, KIND, delivery(cluster, incident));
      assert.equal(second.status, 409, second.text);
      assert.ok(second.ms < 1000, `answered in ${second.ms.toFixed(0)} ms`);
      assert.deepEqual(second.json.running, {
        workflowId: first.json.workflowId,
        runId: first.json.runId,
        type: KIND,
      });
      assert.equal(await runExists(`${KIND}-${incident}`), false);

      // A new delivery of the first incident is still fine (it is that run).
      const again = await post(
        b.base,
        KIND,
        delivery(cluster, String(first.json.workflowId).slice(KIND.length + 1)),
      );
      assert.equal(again.status, 202, again.text);
      assert.equal(again.json.runId, first.json.runId);

      // Once the first run has ended, the cluster is free again.
      await client.workflow.getHandle(String(first.json.workflowId)).terminate('done');
      const deadline = Date.now() + 20_000;
      let third: Sent;
      do {
        third = await post(b.base, KIND, delivery(cluster, incident));
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
      const cluster = await newCluster();
      const [one, two] = await Promise.all([
        post(wh.base, KIND, delivery(cluster)),
        post(wh.base, KIND, delivery(cluster)),
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
    const r = await post(wh.base, KIND, delivery(await newCluster('db')));
    assert.equal(r.status, 503, r.text);
    assert.deepEqual(r.json, { error: 'Temporal is unavailable, retry later' });
    assert.ok(r.ms < 5000, `answered in ${r.ms.toFixed(0)} ms`);
  } finally {
    await wh.close();
    // The lazy connection never connected; it is left to its retry timer, which ends by itself (closing
    // it while the gRPC retry interceptor still has a retry scheduled throws from that timer).
  }
});

test('`npm run webhook`: scoped keys from its file, JSON logs without secrets, stops on SIGTERM; unscoped keys refused', async () => {
  const port = await freePort();
  const taskQueue = uniqueQueue('webhook-main');
  const keysFile = join(storeDir, 'keys.json');
  await writeFile(keysFile, JSON.stringify([keyA, keyB]), { mode: 0o600 });
  const env = {
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_NAMESPACE: 'default',
    RUNBOOK_WEBHOOK_KEYS_FILE: keysFile,
    RUNBOOK_WEBHOOK_DELIVERIES: join(storeDir, 'main-deliveries.jsonl'),
    RUNBOOK_CATALOG: testCatalogDir(),
    RUNBOOK_WEBHOOK_PORT: String(port),
    RUNBOOK_TASK_QUEUE: taskQueue,
    RUNBOOK_UI_URL: `${UI}/`,
  };
  const unscoped = await execa(process.execPath, ['--import', 'tsx', 'scripts/webhook.ts'], {
    cwd: projectRoot,
    env: { ...env, RUNBOOK_WEBHOOK_KEYS: KEY_A },
    reject: false,
    all: true,
  });
  assert.equal(unscoped.exitCode, 1);
  assert.match(unscoped.all ?? '', /RUNBOOK_WEBHOOK_KEYS is no longer read: keys are scoped/);
  assert.ok(!(unscoped.all ?? '').includes(KEY_A));

  const proc = execa(process.execPath, ['--import', 'tsx', 'scripts/webhook.ts'], {
    cwd: projectRoot,
    env,
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
    const r = await post(`http://127.0.0.1:${port}`, KIND, delivery(await newCluster('db'), incident));
    assert.equal(r.status, 202, r.text);
    assert.ok(String(r.json.url).startsWith(`${UI}/namespaces/default/workflows/${KIND}-${incident}/`));
    assert.equal((await client.workflow.getHandle(`${KIND}-${incident}`).describe()).taskQueue, taskQueue);
    const bad = await post(`http://127.0.0.1:${port}`, KIND, delivery('x'), 'pagerduty', OLD_KEY);
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
