// The incident webhook: `POST /v1/runbooks/:kind` starts a runbook from incident tooling.
// The body is signed (HMAC-SHA256 over the raw bytes; scripts/lib/signature.ts) with a key scoped to
// runbook kinds and catalog clusters (scripts/lib/webhook-keys.ts); it carries its incident (which
// names the run), the time it was signed (accepted for a few minutes) and a request for a cluster of
// the fleet catalog. A delivery is remembered on disk (scripts/lib/delivery-store.ts): repeated any
// number of times, it starts one run. Every run it starts waits for approval at each destructive
// step. Answers 202 as soon as the run is started (it does not wait for it). A caller without a valid
// signature learns nothing (not even which kinds exist).
//
//   npm run webhook      (env: RUNBOOK_WEBHOOK_KEYS_FILE, RUNBOOK_WEBHOOK_DELIVERIES, RUNBOOK_WEBHOOK_PORT,
//                         RUNBOOK_WEBHOOK_HOST, RUNBOOK_UI_URL, RUNBOOK_TASK_QUEUE, RUNBOOK_CATALOG and
//                         Temporal's own TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, …)
//
// The server is scripts/webhook/server.ts (requests), the start of a run scripts/webhook/start-run.ts
// (conflicts, repeated deliveries), replies and logging scripts/webhook/reply.ts; this file is the process.
import { readFileSync } from 'node:fs';
import { Client } from '@temporalio/client';
import { connectClient, loadTemporalTarget } from '../workers/temporal-connection';
import { TASK_QUEUE } from '../workflows/routing';
import { dataConverterFromEnv } from '../workers/codec';
import { statePath } from '../activities/runtime/state-dir';
import { DeliveryStore } from './lib/delivery-store';
import { parseKeyFile } from './lib/webhook-keys';
import { DEFAULT_MAX_AGE_MS } from './lib/webhook-request';
import { invokedDirectly, untilStopSignal } from './lib/entry';
import { jsonLogger } from './webhook/reply';
import { createWebhookServer, DEFAULT_UI_URL } from './webhook/server';

export { jsonLogger, type LogFields, type WebhookLogger } from './webhook/reply';
export {
  createWebhookServer,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_UI_URL,
  type WebhookServer,
  type WebhookServerOptions,
} from './webhook/server';

async function main(): Promise<void> {
  if (process.env.RUNBOOK_WEBHOOK_KEYS)
    throw new Error(
      'RUNBOOK_WEBHOOK_KEYS is no longer read: keys are scoped; list them in the JSON file RUNBOOK_WEBHOOK_KEYS_FILE names',
    );
  const keysFile = process.env.RUNBOOK_WEBHOOK_KEYS_FILE;
  if (!keysFile) throw new Error('RUNBOOK_WEBHOOK_KEYS_FILE is not set: the scoped webhook keys (JSON)');
  const loadKeys = () => parseKeyFile(readFileSync(keysFile, 'utf8'));
  let keys = loadKeys();
  const deliveries = await DeliveryStore.open(
    process.env.RUNBOOK_WEBHOOK_DELIVERIES ?? statePath('webhook', 'deliveries.jsonl'),
    // Kept a little longer than a delivery is accepted, so clock skew cannot reopen the window.
    2 * DEFAULT_MAX_AGE_MS,
  );
  // The workers' configuration (workers/temporal-connection.ts): the same checks, no silent localhost.
  const target = loadTemporalTarget();
  const connection = await connectClient(target);
  const namespace = target.namespace;
  const webhook = createWebhookServer({
    // Inputs are encrypted like the workers' when RUNBOOK_CODEC_KEY is set.
    client: new Client({ connection, namespace, dataConverter: dataConverterFromEnv() }),
    keys: () => keys,
    deliveries,
    taskQueue: process.env.RUNBOOK_TASK_QUEUE ?? TASK_QUEUE,
    uiUrl: process.env.RUNBOOK_UI_URL ?? DEFAULT_UI_URL,
  });
  const url = await webhook.listen(
    Number(process.env.RUNBOOK_WEBHOOK_PORT ?? 8787),
    process.env.RUNBOOK_WEBHOOK_HOST ?? '127.0.0.1',
  );
  jsonLogger('info', 'webhook listening', {
    url: `${url}/v1/runbooks/:kind`,
    temporal: target.address,
    namespace,
    keys: keys.length,
  });
  process.on('SIGHUP', () => {
    try {
      keys = loadKeys();
      jsonLogger('info', 'webhook keys reloaded', { keys: keys.length });
    } catch (err) {
      jsonLogger('error', 'webhook keys not reloaded; the old keys stay', { error: (err as Error).message });
    }
  });
  await untilStopSignal();
  await webhook.close();
  await connection.close();
}

if (invokedDirectly(import.meta.url))
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      jsonLogger('error', 'webhook stopped', { error: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    },
  );
