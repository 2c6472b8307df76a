// Secrets never leave the worker that resolves them. Real recoveries run on a real MariaDB source and
// a real S3 store (SeaweedFS) with credentials given only by reference — an environment variable of
// the worker or a file on its host — including runs that fail on a wrong password or a wrong S3 key.
// Then everything an operator or the Temporal server ever sees is scanned for the test secrets:
// every history (fetchHistory, and `temporal workflow show` like the saved replay histories), the
// histories in test/histories/, the production worker's own log (workers/worker.ts as a process),
// the error messages of the failed runs (down to the raw failure and its stack traces), what
// `runbook status` prints, and the argv of every process on the host while the recovery ran.
// Base64 is decoded before searching (payloads are base64 in history JSON); JSON-escaped forms and
// any 12-character piece of a secret count as leaks too. A planted leak proves the scanner finds one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { execa } from 'execa';
import { S3Archive } from '../../activities/archive/archive-s3';
import { refreshIndex } from '../../activities/archive/archive-index';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { saveHistory } from '../../scripts/lib/history';
import {
  createShop,
  fingerprint,
  runWorkload,
  startSource,
  takeBackup,
  type Source,
} from '../../scripts/lib/scenario';
import { projectRoot } from '../../scripts/lib/tools';
import { progressQuery } from '../../workflows/kit';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import type { TableFingerprint } from '../../workflows/schemas';
import { historiesDir } from '../support/histories';
import { startSeaweedS3, type SeaweedS3 } from '../support/seaweedfs';
import { temporalAddress, uniqueQueue } from '../support/temporal';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';
import { catalogRequest } from '../support/fleet';

const TYPE = 'perconaPointInTimeRecovery';
const rnd = (n: number) => randomBytes(n).toString('hex');
// Punctuation that option files, SQL and JSON must all carry through intact.
const DB_PW = `db-pw-${rnd(10)}#$!"q'`;
const WRONG_PW = `wrong-pw-${rnd(10)}`;
const WRONG_S3_SECRET = `wrong-s3-${rnd(15)}`;

// ---------------------------------------------------------------------------------------------
// The scanner

interface Secret {
  label: string;
  value: string;
}
interface Leak {
  where: string;
  secret: string;
  how: string;
  context: string;
}

const MIN_PIECE = 12;
const BASE64_TOKEN = /[A-Za-z0-9+/]{16,}={0,2}/g;

/** The forms a secret can take in text: as is, JSON-escaped, and every 12-character piece of each. */
function forms(value: string): { form: string; how: string }[] {
  const whole = [
    { form: value, how: 'verbatim' },
    { form: JSON.stringify(value).slice(1, -1), how: 'JSON-escaped' },
  ];
  const pieces = whole.flatMap(({ form }) =>
    form.length < MIN_PIECE + 4
      ? []
      : Array.from({ length: form.length - MIN_PIECE + 1 }, (_, i) => ({
          form: form.slice(i, i + MIN_PIECE),
          how: 'a piece of it',
        })),
  );
  const seen = new Set<string>();
  return [...whole, ...pieces].filter((f) => !seen.has(f.form) && seen.add(f.form));
}

/** The text itself, then the text of every base64 token in it (two levels deep). */
function layers(text: string, depth = 2, where = ''): { text: string; layer: string }[] {
  const out = [{ text, layer: where }];
  if (depth === 0) return out;
  for (const m of text.matchAll(BASE64_TOKEN)) {
    const decoded = Buffer.from(m[0], 'base64').toString('utf8');
    out.push(...layers(decoded, depth - 1, `${where} in base64 at offset ${m.index}`).filter((l) => l.text));
  }
  return out;
}

function scanFor(secrets: readonly Secret[], where: string, text: string): Leak[] {
  const leaks: Leak[] = [];
  const all = layers(text);
  for (const s of secrets) {
    const variants = forms(s.value);
    for (const { text: t, layer } of all)
      for (const { form, how } of variants) {
        const at = t.indexOf(form);
        if (at < 0) continue;
        const context = t
          .slice(Math.max(0, at - 60), at + form.length + 60)
          .split(form)
          .join('<SECRET>');
        leaks.push({ where, secret: s.label, how: `${how}${layer}`, context });
        break; // one report per secret and layer is enough
      }
  }
  return leaks;
}

const describeLeaks = (leaks: Leak[]) =>
  leaks.map((l) => `${l.secret} found in ${l.where} (${l.how}): …${l.context}…`).join('\n');

/** Fields that hold a credential must hold a reference ({env} or {file}), never a value. */
const SECRET_FIELD = /password|passwd|secret(?!s$)|accesskey|apikey|token/i;
function inlineSecretFields(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => inlineSecretFields(v, `${path}[${i}]`));
  if (!value || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const p = `${path}.${k}`;
    if (SECRET_FIELD.test(k) && v !== undefined && v !== null) {
      const keys = typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : [];
      const isRef =
        keys.length === 1 &&
        (keys[0] === 'env' || keys[0] === 'file') &&
        typeof Object.values(v)[0] === 'string';
      if (!isRef) out.push(`${p} = ${typeof v === 'string' ? '<a string>' : JSON.stringify(v).slice(0, 60)}`);
    } else out.push(...inlineSecretFields(v, p));
  }
  return out;
}

/**
 * JSON of a proto object with its bytes (payload data and metadata) as text, so they are searched too.
 * The original value is looked at (`this[key]`): a Buffer's toJSON would otherwise hide it as numbers.
 */
function asText(v: unknown): string {
  return JSON.stringify(v, function (this: Record<string, unknown>, key: string, x: unknown) {
    const original = this[key];
    return original instanceof Uint8Array ? Buffer.from(original).toString('utf8') : x;
  });
}

/** Every json/plain payload of a history (proto JSON), decoded. */
function decodedPayloads(node: unknown, out: unknown[] = []): unknown[] {
  if (Array.isArray(node)) node.forEach((n) => decodedPayloads(n, out));
  else if (node && typeof node === 'object') {
    const o = node as { metadata?: { encoding?: unknown }; data?: unknown };
    if (o.metadata && typeof o.metadata.encoding === 'string') {
      const encoding = Buffer.from(o.metadata.encoding, 'base64').toString();
      if (encoding === 'json/plain' && typeof o.data === 'string')
        out.push(JSON.parse(Buffer.from(o.data, 'base64').toString('utf8')));
    } else Object.values(node).forEach((n) => decodedPayloads(n, out));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The scenario: a source with a password-protected user that the backup carries, an S3 archive.

let base = '';
let source: Source;
let s3: SeaweedS3;
let worker: WorkerProcess;
let taskQueue = '';
let connection: Connection;
let client: Client;
let secrets: Secret[] = [];
let backupDir = '';
let pwFile = '';
let s3SecretFile = '';
let truth: Record<string, TableFingerprint>;
const workflowIds: string[] = [];
const errorTexts: { where: string; text: string }[] = [];
const argvSeen = new Map<number, string>();

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'secrets-scan-'));
  const s3Ready = startSeaweedS3({ bucket: 'binlogs' });
  source = await startSource(base);
  const s = source.server;
  await createShop(s);
  // The recovery's own account, not root, and unlogged: the password never reaches a binlog.
  await s.query(
    "SET SESSION sql_log_bin = 0; CREATE USER 'runbook'@'localhost' IDENTIFIED BY ?; GRANT ALL ON *.* TO 'runbook'@'localhost' WITH GRANT OPTION; SET SESSION sql_log_bin = 1",
    [DB_PW],
  );
  await runWorkload(s, 1, 300);
  await s.query('FLUSH BINARY LOGS');
  backupDir = join(base, 'backup');
  await takeBackup(s, backupDir); // the restored server has the 'runbook' user and its password
  await runWorkload(s, 2, 300);
  await s.query('FLUSH BINARY LOGS');
  await runWorkload(s, 3, 100);
  truth = await fingerprint(source.sql, source.endpoint);
  await source.archiver.waitCaughtUp();
  await source.archiver.sync();
  await source.archiver.stop();

  s3 = await s3Ready;
  const archive = new S3Archive({
    bucket: 'binlogs',
    prefix: 'shop',
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: s3,
  });
  for (const f of (await source.archive.readIndex()).files)
    await archive.putFile(f.name, join(source.archiveDir, f.name));
  await refreshIndex(archive, join(base, 's3-upload'));

  secrets = [
    { label: 'the database password', value: DB_PW },
    { label: 'the wrong database password', value: WRONG_PW },
    { label: 'the S3 secret key', value: s3.secretAccessKey },
    { label: 'the wrong S3 secret key', value: WRONG_S3_SECRET },
  ];
  const secretsDir = join(base, 'secrets');
  await mkdir(secretsDir, { mode: 0o700 });
  pwFile = join(secretsDir, 'db-password');
  s3SecretFile = join(secretsDir, 's3-secret');
  await writeFile(pwFile, `${DB_PW}\n`, { mode: 0o600 });
  await writeFile(s3SecretFile, s3.secretAccessKey, { mode: 0o600 });

  taskQueue = uniqueQueue('secrets');
  worker = await spawnWorker(taskQueue, {
    SCAN_DB_PW: DB_PW,
    SCAN_WRONG_PW: WRONG_PW,
    SCAN_S3_KEY_ID: s3.accessKeyId,
    SCAN_S3_WRONG_SECRET: WRONG_S3_SECRET,
  });
  connection = await Connection.connect({ address: temporalAddress() });
  client = new Client({ connection });
});

after(async () => {
  await worker?.stop();
  await connection?.close();
  await s3?.stop();
  await source?.sql.closeAll();
  await source?.server.stop().catch(() => {});
  if (base) await removeTestDir(base);
});

function input(extra: Record<string, unknown> = {}) {
  const s = source.server;
  return {
    cluster: {
      adapter: 'process',
      name: 'shop',
      pidFile: s.pidFile,
      start: s.argv,
      connection: { socket: s.socket, user: 'runbook', password: { env: 'SCAN_DB_PW' } },
    },
    backup: { dir: backupDir },
    restore: {
      datadir: join(base, `restore-${workflowIds.length}`, 'data'),
      user: 'runbook',
      password: { file: pwFile },
    },
    archive: { kind: 'fs', dir: source.archiveDir },
    target: { type: 'latest' },
    verify: { schemas: ['shop'] },
    heartbeatTimeout: '10s',
    ...extra,
  };
}

function s3Archive(secretAccessKey: object) {
  return {
    kind: 's3',
    bucket: 'binlogs',
    prefix: 'shop',
    endpoint: s3.endpoint,
    accessKeyId: { env: 'SCAN_S3_KEY_ID' },
    secretAccessKey,
    stagingDir: join(base, 'staging'),
  };
}

async function run<T>(name: string, args: object): Promise<T> {
  const workflowId = `secrets-${name}-${Date.now()}`;
  workflowIds.push(workflowId);
  const handle = await client.workflow.start(TYPE, {
    taskQueue,
    workflowId,
    args: [await catalogRequest(TYPE, args)],
  });
  return (await handle.result()) as T;
}

/** Runs a recovery that must fail; keeps everything its failure says, down to the raw proto failure. */
async function runFailing(name: string, args: object): Promise<string> {
  const workflowId = `secrets-${name}-${Date.now()}`;
  workflowIds.push(workflowId);
  const handle = await client.workflow.start(TYPE, {
    taskQueue,
    workflowId,
    args: [await catalogRequest(TYPE, args)],
  });
  try {
    await handle.result();
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    let e: unknown = err;
    let innermost = '';
    for (let depth = 0; e instanceof Error; depth++, e = e.cause) {
      const failure = (e as { failure?: unknown }).failure;
      errorTexts.push({
        where: `error of ${name} (cause depth ${depth})`,
        text: [e.message, e.stack ?? '', failure ? asText(failure) : ''].join('\n'),
      });
      if (depth > 0) innermost = e.message;
    }
    const progress = await handle.query(progressQuery);
    errorTexts.push({ where: `progress of ${name}`, text: JSON.stringify(progress) });
    const d = await handle.describe();
    errorTexts.push({ where: `describe of ${name}`, text: asText(d.raw) });
    return [(err.cause as Error | undefined)?.message ?? err.message, innermost].join(' || ');
  }
  throw new Error(`${name} was expected to fail`);
}

/** Samples the argv of every process on the host while `work` runs. */
async function watchingArgv<T>(work: () => Promise<T>): Promise<T> {
  let on = true;
  const sample = async () => {
    while (on) {
      for (const pid of await readdir('/proc').catch(() => [] as string[])) {
        if (!/^\d+$/.test(pid) || argvSeen.has(Number(pid))) continue;
        const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (argv) argvSeen.set(Number(pid), argv.split('\0').join(' '));
      }
      await new Promise((r) => setTimeout(r, 30));
    }
  };
  const sampler = sample();
  try {
    return await work();
  } finally {
    on = false;
    await sampler;
  }
}

// ---------------------------------------------------------------------------------------------

describe('the scanner', () => {
  test('finds a planted secret: verbatim, JSON-escaped, base64 in a payload, or a piece of it', () => {
    const planted: Secret[] = [{ label: 'planted', value: DB_PW }];
    const payload = Buffer.from(JSON.stringify({ restore: { password: DB_PW } })).toString('base64');
    const cases = {
      verbatim: `ERROR: login as runbook with ${DB_PW} failed`,
      json: JSON.stringify({ message: `password ${DB_PW}` }),
      history: JSON.stringify({ events: [{ input: { payloads: [{ metadata: {}, data: payload }] } }] }),
      piece: `…***${DB_PW.slice(5, 5 + MIN_PIECE)}…`,
    };
    for (const [name, text] of Object.entries(cases))
      assert.equal(
        scanFor(planted, name, text).length,
        1,
        `${name}: ${describeLeaks(scanFor(planted, name, text))}`,
      );
    assert.deepEqual(scanFor(planted, 'clean', 'password: { env: "SCAN_DB_PW" }, redacted: ***'), []);
    // Bytes inside proto objects (a Buffer or a Uint8Array) are searched as text.
    const proto = {
      lastFailure: { encodedAttributes: { data: Buffer.from(`x ${DB_PW}`) } },
      d: new Uint8Array(2),
    };
    assert.equal(scanFor(planted, 'proto', asText(proto)).length, 1);
    assert.deepEqual(
      inlineSecretFields({ a: { password: { env: 'X' }, secretAccessKey: { file: '/k' } } }),
      [],
    );
    assert.deepEqual(inlineSecretFields({ restore: { password: 'hunter2' } }), [
      '.restore.password = <a string>',
    ]);
  });
});

describe('credentials by reference, on real servers', () => {
  test('plan with an S3 archive (key id by env, secret by file) and a password by file', async () => {
    const [plan, refused] = await Promise.all([
      run<PerconaResult>('s3-plan', {
        ...input({ mode: 'plan', archive: s3Archive({ file: s3SecretFile }) }),
        cluster: {
          ...input().cluster,
          connection: { socket: source.server.socket, user: 'runbook', password: { file: pwFile } },
        },
      }),
      runFailing('wrong-db-password', {
        ...input(),
        cluster: {
          ...input().cluster,
          connection: { socket: source.server.socket, user: 'runbook', password: { env: 'SCAN_WRONG_PW' } },
        },
      }),
    ]);
    assert.equal(plan.mode, 'plan');
    assert.match(plan.plan.archive, /^s3:\/\/binlogs\/shop/);
    assert.match(plan.plan.cluster, /running/);
    assert.match(
      refused,
      /cluster shop unreachable at runbook@.*Access denied for user 'runbook'@'localhost'/,
    );
  });

  test('a full recovery (password by env for the cluster, by file for the restored server) and a wrong S3 key', async () => {
    const [r, s3Failure] = await watchingArgv(() =>
      Promise.all([
        run<PerconaResult>('restore', input({ verify: { schemas: ['shop'], expected: truth } })),
        runFailing('wrong-s3-secret', {
          ...input({ archive: s3Archive({ env: 'SCAN_S3_WRONG_SECRET' }) }),
          // No connection: this run must not depend on the source the other one pauses.
          cluster: {
            adapter: 'process',
            name: 'shop',
            pidFile: source.server.pidFile,
            start: source.server.argv,
          },
        }),
      ]),
    );
    assert.deepEqual(r.tables, truth);
    assert.deepEqual(
      r.steps.filter((s) => s.name !== 'start-new-server' && s.name !== 'fetch-backup').map((s) => s.status),
      Array(8).fill('done'),
    );
    assert.match(
      s3Failure,
      /S3 archive s3:\/\/binlogs\/shop: cannot .*(SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId)/,
    );
    assert.ok(argvSeen.size > 0);
    assert.ok(
      // The temporary mysqld lives for seconds; the short client commands can slip between samples
      // on a loaded machine (seen on a CI rehearsal at load 15).
      [...argvSeen.values()].some((a) => /(^|\/)mariadb(-binlog|d)? /.test(a) || a.includes('--copy-back')),
      'the sampler saw the recovery commands',
    );
  });
});

describe('no secret anywhere', () => {
  test('every history of these runs: fetchHistory and `temporal workflow show`', async () => {
    assert.equal(workflowIds.length, 4);
    const leaks: Leak[] = [];
    const savedDir = join(base, 'histories');
    await mkdir(savedDir);
    for (const id of workflowIds) {
      const json = historyToJSON(await client.workflow.getHandle(id).fetchHistory());
      leaks.push(...scanFor(secrets, `history of ${id} (fetchHistory)`, json));
      // Positive control on the real thing: the scanner does see inside this history's payloads.
      assert.ok(scanFor([{ label: 'ref', value: pwFile }], id, json).length > 0, `${id}: payloads not read`);
      assert.deepEqual(inlineSecretFields(decodedPayloads(JSON.parse(json))), [], id);
      const file = join(savedDir, `${id}.json`);
      await saveHistory(temporalAddress(), id, file);
      leaks.push(
        ...scanFor(secrets, `history of ${id} (temporal workflow show)`, await readFile(file, 'utf8')),
      );
    }
    assert.deepEqual(leaks, [], describeLeaks(leaks));
  });

  test('the saved histories in test/histories/', async () => {
    // Their runs used other secrets; the shapes of those are known (see the tests that recorded them).
    const shapes: RegExp[] = [/repl-[0-9a-f]{8}-[0-9a-f]{4}-/, /binlog-pw-\d+-x9/, /hunter2/];
    const files = (await readdir(historiesDir)).filter((f) => f.endsWith('.json'));
    assert.ok(files.length > 0);
    const problems: string[] = [];
    for (const f of files) {
      const text = await readFile(join(historiesDir, f), 'utf8');
      const leaks = scanFor(secrets, f, text);
      if (leaks.length) problems.push(describeLeaks(leaks));
      for (const { text: t, layer } of layers(text))
        for (const re of shapes) if (re.test(t)) problems.push(`${f}: a test secret like ${re} ${layer}`);
      for (const field of inlineSecretFields(decodedPayloads(JSON.parse(text))))
        problems.push(`${f}: an inline secret at ${field}`);
    }
    assert.deepEqual(problems, []);
  });

  test('the error messages of the failed runs, and what `runbook status` shows of them', async () => {
    const failed = workflowIds.filter((id) => /wrong/.test(id));
    const outputs = await Promise.all(
      failed.map((id) =>
        execa(process.execPath, ['--import', 'tsx', 'scripts/runbook.ts', 'status', id], {
          cwd: projectRoot,
          env: { TEMPORAL_ADDRESS: temporalAddress() },
          reject: false,
          all: true,
        }),
      ),
    );
    for (const [i, o] of outputs.entries()) {
      assert.match(o.all, /status: (FAILED|CANCELED)/, o.all);
      errorTexts.push({ where: `runbook status ${failed[i]}`, text: o.all });
    }
    assert.ok(errorTexts.length >= 6);
    const leaks = errorTexts.flatMap((e) => scanFor(secrets, e.where, e.text));
    assert.deepEqual(leaks, [], describeLeaks(leaks));
  });

  test('the argv of every process while the recovery ran', () => {
    const leaks = [...argvSeen].flatMap(([pid, argv]) => scanFor(secrets, `argv of pid ${pid}`, argv));
    assert.deepEqual(leaks, [], describeLeaks(leaks));
  });

  test("the production worker's log", async () => {
    await worker.stop();
    const log = worker.output();
    // The log did record the failures (so it is worth scanning).
    assert.match(log, /Access denied|unreachable/);
    assert.match(log, /S3 archive/);
    const leaks = scanFor(secrets, 'the worker log', log);
    assert.deepEqual(leaks, [], describeLeaks(leaks));
  });
});
