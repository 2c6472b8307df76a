// `npm run dev [-- --dir DIR]`: a dev environment in one command, up until Ctrl-C. It starts the real
// Temporal dev server on free ports (Web UI included, the runbooks' search attributes registered), a
// small world like the demo's (a real MariaDB source `shop` with a workload, a real mariadb-backup base
// backup, binlogs archived, then a dropped table), a fleet catalog naming that source as the cluster
// `shop` (the Percona `process` adapter) with two approvers whose keys it generates, and the production
// worker on it; then it prints the commands to type. Ctrl-C (SIGINT) or SIGTERM stops everything it
// started and removes the address file.
import { execa, type ResultPromise } from 'execa';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { killProcessesUnder } from './lib/cleanup';
import { mariadbVersion } from './lib/mariadb-server';
import {
  createShop,
  gtidPos,
  runWorkload,
  secondBoundary,
  startSource,
  takeBackup,
  type Source,
} from './lib/scenario';
import { startDevServer, type DevServer } from './lib/temporal-dev-server';
import { projectRoot, temporalCli } from './lib/tools';
import { PERCONA_PITR } from '../workflows/runbooks';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

const TASK_QUEUE = 'mysql-runbooks';
const RUN_ID = 'pitr-shop-dev';
const say = (msg: string) => console.log(`[dev] ${msg}`);

function parseArgs(argv: string[]): { dir: string } {
  let dir = join(projectRoot, '.run', 'dev');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dir' && argv[i + 1]) dir = resolve(argv[++i]!);
    else throw new Error(`unknown argument ${argv[i]}\nusage: npm run dev [-- --dir DIR]`);
  }
  return { dir };
}

/** An Ed25519 key pair as `runbook keygen` makes it: the secret key file and the catalog's public key. */
async function keygen(file: string): Promise<string> {
  const secret = ed25519.utils.randomSecretKey();
  await writeFile(file, `${Buffer.from(secret).toString('base64')}\n`, { mode: 0o600 });
  return Buffer.from(ed25519.getPublicKey(secret)).toString('base64');
}

/** The production worker (workers/worker.ts) as a child process on the dev server, with the dev catalog. */
async function startWorker(dir: string, address: string): Promise<{ proc: ResultPromise }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('TEMPORAL_')) delete env[k];
  const worker = execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'workers/worker.ts')], {
    cwd: projectRoot,
    env: {
      ...env,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: 'default',
      RUNBOOK_TASK_QUEUE: TASK_QUEUE,
      RUNBOOK_CATALOG: join(dir, 'catalog'),
      RUNBOOK_STATE_DIR: join(dir, 'state'),
    },
    extendEnv: false,
    reject: false,
    buffer: false,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<void>((ok, fail) => {
    const onLine = (b: Buffer) => {
      for (const line of b.toString().split('\n').filter(Boolean)) {
        console.log(`[worker] ${line}`);
        if (line.startsWith('runbook worker polling')) ok();
      }
    };
    worker.stdout?.on('data', onLine);
    worker.stderr?.on('data', onLine);
    void worker.then((r) => fail(new Error(`the worker exited during start (exit code ${r.exitCode})`)));
  });
  await ready;
  return { proc: worker };
}

/** The demo's world, left standing: the source keeps serving with a table dropped after the backup. */
async function buildWorld(
  dir: string,
): Promise<{ source: Source; beforeAccident: string; dropGtid: string }> {
  const source = await startSource(dir);
  await createShop(source.server);
  await runWorkload(source.server, 1, 500);
  await takeBackup(source.server, join(dir, 'backup'));
  await runWorkload(source.server, 2, 500);
  const beforeAccident = await secondBoundary();
  await source.server.query('DROP TABLE shop.orders');
  const dropGtid = await gtidPos(source.server);
  await source.archiver.waitCaughtUp();
  await source.archiver.sync();
  await source.archiver.stop(); // a recovery starts a new binlog timeline: this archive ends here
  return { source, beforeAccident, dropGtid };
}

async function writeCatalog(dir: string, source: Source): Promise<void> {
  const keys = join(dir, 'keys');
  await mkdir(keys, { recursive: true, mode: 0o700 });
  const approvers = [
    { name: 'ana', publicKey: await keygen(join(keys, 'ana.key')) },
    { name: 'bob', publicKey: await keygen(join(keys, 'bob.key')) },
  ];
  const catalog = join(dir, 'catalog');
  await mkdir(catalog, { recursive: true, mode: 0o700 });
  const entry = {
    runbooks: {
      perconaPointInTimeRecovery: {
        input: {
          cluster: {
            adapter: 'process',
            name: 'shop',
            pidFile: source.server.pidFile,
            start: source.server.argv,
            connection: source.endpoint,
          },
          backup: { dir: join(dir, 'backup') },
          restore: { datadir: source.server.datadir },
          archive: { kind: 'fs', dir: source.archiveDir },
        },
      },
    },
    approval: { required: true, approvers, quorum: 1 },
  };
  await writeFile(join(catalog, 'shop.json'), JSON.stringify(entry, null, 2), { mode: 0o600 });
}

function nextCommands(dir: string, server: DevServer, request: string): string[] {
  const key = (name: string) => join(dir, 'keys', `${name}.key`);
  const gates = PERCONA_PITR.steps.filter((s) => s.destructive).map((s) => s.name);
  return [
    `export TEMPORAL_ADDRESS=${server.address}`,
    `export PATH="${dirname(temporalCli())}:$PATH"`,
    `npm run runbook -- plan perconaPointInTimeRecovery --input ${request}`,
    `npm run runbook -- start perconaPointInTimeRecovery --input ${request} --id ${RUN_ID} --key ${key('ana')} --approver ana`,
    `npm run runbook -- status ${RUN_ID}`,
    ...gates.map(
      (step) =>
        `npm run runbook -- approve ${RUN_ID} --step ${step} --reason dev --approver bob --key ${key('bob')}`,
    ),
    `npm run runbook -- status ${RUN_ID} --watch`,
    `npm run runbook -- report ${RUN_ID}`,
    `npm run temporal -- workflow list`,
  ];
}

async function main(): Promise<void> {
  const { dir } = parseArgs(process.argv.slice(2));
  await killProcessesUnder(dir); // a dev environment killed earlier may have left its servers here
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });

  const cleanups: (() => Promise<unknown>)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      say('stopping: worker, MariaDB, Temporal');
      for (const c of cleanups.reverse()) await c().catch(() => {});
      await killProcessesUnder(dir); // servers a run started (a temporary mysqld, the restarted source)
      await rm(join(dir, 'env'), { force: true });
      say('stopped');
    })());
  const stopped = new Promise<void>((ok) => {
    // `on`, not `once`: execa's exit hook re-raises a signal that has no listener left, killing us mid-stop.
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void stop().then(ok));
  });

  try {
    const server = await startDevServer({ dbFilename: join(dir, 'temporal.db') });
    cleanups.push(() => server.stop());
    say(`Temporal dev server ${server.address} (gRPC) — Web UI ${server.uiUrl}   (${server.version})`);
    say(`search attributes registered: ${SEARCH_ATTRIBUTES.join(', ')}`);

    const { source, beforeAccident, dropGtid } = await buildWorld(dir);
    cleanups.push(async () => {
      await source.sql.closeAll();
      await source.server.stop();
    });
    say(`MariaDB source shop on ${source.server.socket} — ${await mariadbVersion()}`);
    say(
      `  1,000 transactions, a base backup after the first 500; then DROP TABLE shop.orders (GTID ${dropGtid})`,
    );

    await writeCatalog(dir, source);
    const request = join(dir, 'pitr.json');
    await writeFile(
      request,
      `${JSON.stringify({ cluster: 'shop', target: { type: 'time', time: beforeAccident }, verify: { schemas: ['shop'] } })}\n`,
    );
    const { proc: worker } = await startWorker(dir, server.address);
    cleanups.push(async () => {
      worker.kill('SIGTERM');
      const t = setTimeout(() => worker.kill('SIGKILL'), 10_000);
      await worker;
      clearTimeout(t);
    });

    const commands = nextCommands(dir, server, request);
    await writeFile(join(dir, 'env'), `${commands.slice(0, 2).join('\n')}\n`);
    console.log(
      [
        '',
        `Fleet catalog ${join(dir, 'catalog')}: cluster shop (approvers ana and bob, keys in ${join(dir, 'keys')}).`,
        `Request ${request}: back to ${beforeAccident}, just before the DROP.`,
        `In another terminal (or: source ${join(dir, 'env')}):`,
        '',
        ...commands.map((c) => `  ${c}`),
        '',
        `ana signs the start, so bob approves each gate (${PERCONA_PITR.steps
          .filter((s) => s.destructive)
          .map((s) => s.name)
          .join(', ')}) as it waits.`,
        `Web UI: ${server.uiUrl}/namespaces/default/workflows`,
        '',
      ].join('\n'),
    );
    say('dev environment ready — Ctrl-C stops everything');
  } catch (err) {
    console.error(`dev failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await stop();
    process.exit(1);
  }
  await stopped;
  process.exit(0);
}

void main();
