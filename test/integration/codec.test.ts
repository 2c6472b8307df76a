// The payload codec end to end: the production worker (workers/worker.ts, as its own process) and a
// client share RUNBOOK_CODEC_KEY; a real perconaPointInTimeRecovery plan runs on a real MariaDB source
// and archive. The history as the Temporal server stores it holds ciphertext only; the client, the
// `runbook` CLI and the codec endpoint (what the Web UI calls) read the plaintext back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { execa } from 'execa';
import { AesGcmCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, parseKey } from '../../workers/codec';
import {
  createCodecServer,
  payloadFromJson,
  type CodecServer,
  type JsonPayload,
} from '../../scripts/codec-server';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { createShop, runWorkload, startSource, takeBackup, type Source } from '../../scripts/lib/scenario';
import { projectRoot, temporalCli } from '../../scripts/lib/tools';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { temporalAddress, uniqueQueue } from '../support/temporal';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';
import { catalogRequest } from '../support/fleet';

const TYPE = 'perconaPointInTimeRecovery';
const keyText = `it-${Date.now()}:${randomBytes(32).toString('base64')}`;
const codec = new AesGcmCodec({ key: parseKey(keyText) });

let base = '';
let source: Source;
let backupDir = '';
let worker: WorkerProcess;
let taskQueue = '';
let connection: Connection;
let client: Client; // with the codec
let plainClient: Client; // without it: sees what the server stores
let codecServer: CodecServer;
let codecUrl = '';
let workflowId = '';
let result: PerconaResult;

/** Every payload (an object with metadata.encoding) in a history as proto JSON, with where it is. */
function payloadsIn(node: unknown, path = '', out: { path: string; payload: JsonPayload }[] = []) {
  if (Array.isArray(node)) node.forEach((v, i) => payloadsIn(v, `${path}[${i}]`, out));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    const md = o.metadata as Record<string, unknown> | undefined;
    if (md && typeof md === 'object' && typeof md.encoding === 'string') out.push({ path, payload: o });
    else for (const [k, v] of Object.entries(o)) payloadsIn(v, `${path}.${k}`, out);
  }
  return out;
}
const b64text = (s: string | undefined | null) => Buffer.from(s ?? '', 'base64').toString('utf8');

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'codec-it-'));
  source = await startSource(base);
  await createShop(source.server);
  await runWorkload(source.server, 1, 200);
  await source.server.query('FLUSH BINARY LOGS');
  backupDir = join(base, 'backup-for-codec-marker');
  await takeBackup(source.server, backupDir);
  await runWorkload(source.server, 2, 200);
  await source.server.query('FLUSH BINARY LOGS');
  await source.archiver.waitCaughtUp();
  await source.archiver.sync();
  await source.archiver.stop();

  taskQueue = uniqueQueue('codec');
  worker = await spawnWorker(taskQueue, { RUNBOOK_CODEC_KEY: keyText });
  connection = await Connection.connect({ address: temporalAddress() });
  client = new Client({ connection, dataConverter: { payloadCodecs: [codec] } });
  plainClient = new Client({ connection });
  codecServer = createCodecServer({ codec, authToken: 'codec-it-token', log: () => {} });
  codecUrl = await codecServer.listen();

  workflowId = `codec-plan-${Date.now()}`;
  const handle = await client.workflow.start(TYPE, {
    taskQueue,
    workflowId,
    args: [
      await catalogRequest(TYPE, {
        mode: 'plan',
        cluster: {
          adapter: 'process',
          name: 'shop',
          pidFile: source.server.pidFile,
          start: source.server.argv,
        },
        backup: { dir: backupDir },
        restore: { datadir: join(base, 'restore', 'data') },
        archive: { kind: 'fs', dir: source.archiveDir },
        target: { type: 'latest' },
      }),
    ],
  });
  result = (await handle.result()) as PerconaResult;
});

after(async () => {
  await worker?.stop();
  await codecServer?.close();
  await connection?.close();
  await source?.sql.closeAll();
  await source?.server.stop().catch(() => {});
  if (base) await removeTestDir(base);
});

describe('payloads encrypted in history (RUNBOOK_CODEC_KEY)', () => {
  test('the worker process runs with the codec, and the client reads the result', () => {
    assert.match(worker.output(), /runbook worker polling .*payloads encrypted/);
    assert.equal(result.mode, 'plan');
    assert.equal(result.plan.backup.dir, backupDir);
    assert.ok(result.plan.replay.files.length >= 1);
  });

  test('the raw history (no codec) holds no plaintext: every payload is binary/encrypted', async () => {
    const history = await plainClient.workflow.getHandle(workflowId).fetchHistory();
    const json = historyToJSON(history);
    const raw = JSON.parse(json) as unknown;
    const found = payloadsIn(raw);
    // Search attributes are indexed by the server, so Temporal never passes them through codecs; a
    // patch marker holds only the patch's id, which the SDK writes as plain JSON (checked below).
    const isPatch = (path: string) => /markerRecordedEventAttributes\.details\.patch-data/.test(path);
    for (const p of found.filter((f) => isPatch(f.path)))
      assert.match(b64text(p.payload.data), /^\{"id":"[a-z-]+","deprecated":(true|false)\}$/);
    const data = found.filter((p) => !/searchAttributes/i.test(p.path) && !isPatch(p.path));
    assert.ok(data.length >= 4, `only ${data.length} payloads in the history`);
    const notEncrypted = data.filter((p) => b64text(p.payload.metadata!.encoding) !== ENCRYPTED_ENCODING);
    assert.deepEqual(
      notEncrypted.map((p) => `${p.path}: ${b64text(p.payload.metadata!.encoding)}`),
      [],
    );
    for (const p of data) assert.equal(b64text(p.payload.metadata![KEY_ID_METADATA]), codec.keyId);
    // Neither the history text nor any payload's bytes contain the input's backup path.
    assert.ok(!json.includes('backup-for-codec-marker'));
    for (const p of found) assert.ok(!b64text(p.payload.data).includes('backup-for-codec-marker'), p.path);
    // A client without the key cannot read the result.
    await assert.rejects(
      plainClient.workflow.getHandle(workflowId).result(),
      /binary\/encrypted|[Uu]nknown encoding/,
    );
  });

  test('the codec endpoint decodes the request, the catalog input and the result from that history', async () => {
    const raw = JSON.parse(
      historyToJSON(await plainClient.workflow.getHandle(workflowId).fetchHistory()),
    ) as {
      events: Record<string, { input?: { payloads: JsonPayload[] }; result?: { payloads: JsonPayload[] } }>[];
    };
    const started = raw.events.find((e) => e.workflowExecutionStartedEventAttributes);
    const resolved = raw.events.find((e) => e.activityTaskCompletedEventAttributes);
    const completed = raw.events.find((e) => e.workflowExecutionCompletedEventAttributes);
    const input = started!.workflowExecutionStartedEventAttributes!.input!.payloads;
    const catalogInput = resolved!.activityTaskCompletedEventAttributes!.result!.payloads;
    const output = completed!.workflowExecutionCompletedEventAttributes!.result!.payloads;
    const decode = (payloads: JsonPayload[], token = 'codec-it-token') =>
      fetch(`${codecUrl}/decode`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Namespace': 'default',
          Authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ payloads }),
      });
    const r = await decode([...input, ...catalogInput, ...output]);
    assert.equal(r.status, 200);
    const body = (await r.json()) as { payloads: JsonPayload[] };
    const [inputValue, catalogValue, resultValue] = body.payloads.map((p, i) =>
      defaultPayloadConverter.fromPayload<Record<string, unknown>>(payloadFromJson(p, i) as Payload),
    );
    assert.deepEqual((inputValue as { target: unknown }).target, { type: 'latest' });
    assert.deepEqual((catalogValue as { input: { backup: unknown } }).input.backup, { dir: backupDir });
    assert.equal((resultValue as unknown as PerconaResult).plan.backup.dir, backupDir);
    assert.equal((await decode(input, 'wrong')).status, 401);
  });

  test('the real `temporal` CLI shows the plaintext through the codec endpoint, and only through it', async () => {
    const show = (codecArgs: string[]) =>
      execa(temporalCli(), [
        'workflow',
        'show',
        `--address=${temporalAddress()}`,
        `--workflow-id=${workflowId}`,
        '--output=json',
        ...codecArgs,
      ]);
    const decoded = await show([`--codec-endpoint=${codecUrl}`, '--codec-auth=Bearer codec-it-token']);
    const shown = payloadsIn(JSON.parse(decoded.stdout)).filter((p) => !/searchAttributes/i.test(p.path));
    assert.ok(shown.length >= 4);
    for (const p of shown) assert.equal(b64text(p.payload.metadata!.encoding), 'json/plain', p.path);
    assert.ok(shown.some((p) => b64text(p.payload.data).includes('backup-for-codec-marker')));
    const raw = await show([]);
    assert.ok(!raw.stdout.includes('backup-for-codec-marker'));
    assert.ok(raw.stdout.includes(Buffer.from(ENCRYPTED_ENCODING).toString('base64')));
  });

  test('the runbook CLI reads the run with the key, and says its payloads are encrypted without it', async () => {
    const cli = (env: Record<string, string>) =>
      execa(process.execPath, ['--import', 'tsx', 'scripts/runbook.ts', 'status', workflowId], {
        cwd: projectRoot,
        env: { TEMPORAL_ADDRESS: temporalAddress(), ...env },
        reject: false,
        all: true,
      });
    const [withKey, withoutKey] = await Promise.all([cli({ RUNBOOK_CODEC_KEY: keyText }), cli({})]);
    assert.equal(withKey.exitCode, 0, withKey.all);
    assert.match(withKey.all, /locate-binlogs/);
    assert.match(withKey.all, /status: COMPLETED/);
    // Without the key the CLI still shows the run's status, and says why it cannot show its steps.
    assert.match(withoutKey.all, /status: COMPLETED — Unknown encoding: binary\/encrypted/);
    assert.doesNotMatch(withoutKey.all, /locate-binlogs/);
  });

  test('failure messages are encrypted too: readable with the key, absent from the stored history', async () => {
    const marker = 'no-such-backup-failure-marker';
    const id = `codec-failure-${Date.now()}`;
    const failing = await client.workflow.start(TYPE, {
      taskQueue,
      workflowId: id,
      args: [
        await catalogRequest(TYPE, {
          mode: 'plan',
          cluster: {
            adapter: 'process',
            name: 'shop',
            pidFile: source.server.pidFile,
            start: source.server.argv,
          },
          backup: { dir: join(base, marker) },
          restore: { datadir: join(base, 'restore', 'data') },
          archive: { kind: 'fs', dir: source.archiveDir },
          target: { type: 'latest' },
        }),
      ],
    });
    const chain = (e: unknown): string[] =>
      e instanceof Error ? [e.message, ...chain((e as { cause?: unknown }).cause)] : [];
    const err = await failing.result().then(
      () => assert.fail('the run should have failed'),
      (e: unknown) => e,
    );
    assert.ok(
      chain(err).some((m) => m.includes(marker)),
      `the client with the key should read the cause: ${chain(err).join(' <- ')}`,
    );
    const json = historyToJSON(await plainClient.workflow.getHandle(id).fetchHistory());
    assert.ok(!json.includes(marker), 'the failure message is plaintext in history');
    assert.match(json, /Encoded failure/);
  });

  test('a malformed key stops the worker before it polls, with an error that does not echo the key', async () => {
    const bad = 'not-a-real-key-value-0123';
    await assert.rejects(spawnWorker(uniqueQueue('codec-bad'), { RUNBOOK_CODEC_KEY: bad }), (e: Error) => {
      assert.match(e.message, /worker: RUNBOOK_CODEC_KEY: not a 32-byte key/);
      assert.ok(!e.message.includes(bad), e.message);
      return true;
    });
  });
});
