// `npm run demo`: a real accident and a real recovery, on this machine.
// Starts the Temporal dev server (with Web UI) and a local MariaDB source whose binlogs are archived,
// writes a workload, takes a base backup, writes more, drops a table by accident, then runs
// perconaPointInTimeRecovery to just before the drop — first onto a new server while the source keeps
// running, then in place once by time and once by GTID — and prints the restored rows and checksums
// next to those captured just before the accident.
// `npm run demo -- --exit` ends by itself: exit code 0 only when every checksum matches.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TableFingerprint } from '../workflows/schemas';
import type { PerconaResult } from '../workflows/percona-point-in-time-recovery';
import { createRunbookWorker } from '../workers/runbook-worker';
import { mariadbVersion } from './lib/mariadb-server';
import {
  createShop,
  fingerprint,
  gtidPos,
  runWorkload,
  secondBoundary,
  startSource,
  takeBackup,
} from './lib/scenario';
import { startDevServer } from './lib/temporal-dev-server';
import { projectRoot } from './lib/tools';
import { killProcessesUnder } from './lib/cleanup';
import { freePort } from '../activities/mysql/ports';

const exitWhenDone = process.argv.includes('--exit');
const t0 = Date.now();
const say = (msg: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);

async function main(): Promise<number> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const base = join(projectRoot, '.run', 'demo');
  await rm(base, { recursive: true, force: true });
  await mkdir(base, { recursive: true });
  // What the worker creates on this host (sockets, staging) stays in the demo's own state directory.
  process.env.RUNBOOK_STATE_DIR ??= join(base, 'state');

  const temporal = await startDevServer({ dbFilename: join(base, 'temporal.db') });
  say(`Temporal dev server ${temporal.address} — Web UI ${temporal.uiUrl}   (${temporal.version})`);
  const source = await startSource(base);
  say(
    `MariaDB source on ${source.server.socket} — ${await mariadbVersion()}; binlogs archived to ${source.archiveDir}`,
  );

  try {
    await createShop(source.server);
    await runWorkload(source.server, 1, 1500);
    say('workload 1: 1,500 transactions');
    await takeBackup(source.server, join(base, 'backup'));
    say(`base backup taken and prepared in ${join(base, 'backup')}`);
    await runWorkload(source.server, 2, 2500);
    say('workload 2: 2,500 more transactions after the backup');

    const truth = await fingerprint(source.sql, source.endpoint);
    // Binlog time has whole seconds: the accident goes into a later second than the last good work.
    const beforeAccident = await secondBoundary();
    await source.server.query('DROP TABLE shop.orders');
    const dropGtid = await gtidPos(source.server);
    say(
      `ACCIDENT: DROP TABLE shop.orders (GTID ${dropGtid}); captured truth just before at ${beforeAccident}`,
    );
    await source.server.query("UPDATE shop.customers SET tier = 'lost' WHERE id < 10");
    await source.archiver.waitCaughtUp();
    await source.archiver.sync();
    await source.archiver.stop(); // the recovered server starts a new binlog timeline: archive it elsewhere
    say('archive caught up and indexed; archiver stopped');

    const connection = await NativeConnection.connect({ address: temporal.address });
    const { worker, deps } = await createRunbookWorker({ connection, taskQueue: 'mysql-runbooks' });
    const running = worker.run();
    const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });

    // The demo's world in the fleet catalog, as an operator would describe it (approval waived: a
    // drill on scratch servers); the request only names the cluster, the target and what to verify.
    const catalog = join(base, 'catalog');
    await mkdir(catalog, { recursive: true, mode: 0o700 });
    process.env.RUNBOOK_CATALOG = catalog;
    const shop = {
      cluster: {
        adapter: 'process',
        name: 'demo-source',
        pidFile: source.server.pidFile,
        start: source.server.argv,
        connection: source.endpoint,
      },
      backup: { dir: join(base, 'backup') },
      restore: { datadir: source.server.datadir },
      archive: { kind: 'fs', dir: source.archiveDir },
      // A scratch server a recovery may create instead (restoreTo: "scratch"), left running.
      newServers: {
        scratch: {
          datadir: join(base, 'new-server', 'data'),
          port: await freePort(),
          serverId: 2,
          approvalFree: true,
        },
      },
    };
    await writeFile(
      join(catalog, 'demo-source.json'),
      JSON.stringify({
        runbooks: { perconaPointInTimeRecovery: { input: shop } },
        approval: { required: false },
      }),
      { mode: 0o600 },
    );
    // The new server first: the source keeps serving; the in-place runs then restore the source itself.
    const runs: { label: string; target: object; restoreTo?: string }[] = [
      {
        label: 'new server',
        target: { type: 'gtid', gtid: dropGtid, exclusive: true },
        restoreTo: 'scratch',
      },
      { label: 'by time', target: { type: 'time', time: beforeAccident } },
      { label: 'by GTID', target: { type: 'gtid', gtid: dropGtid, exclusive: true } },
    ];
    const results: Record<string, TableFingerprint>[] = [];
    for (const run of runs) {
      const id = `demo-pitr-${run.label.replace(/\W+/g, '-')}-${Date.now()}`;
      const started = Date.now();
      say(
        `starting perconaPointInTimeRecovery ${run.label}: ${JSON.stringify(run.target)} — ${temporal.uiUrl}/namespaces/default/workflows/${id}`,
      );
      const handle = await client.workflow.start('perconaPointInTimeRecovery', {
        taskQueue: 'mysql-runbooks',
        workflowId: id,
        args: [
          {
            cluster: 'demo-source',
            target: run.target,
            verify: { schemas: ['shop'], expected: truth },
            ...(run.restoreTo ? { restoreTo: run.restoreTo } : {}),
          },
        ],
      });
      const r = (await handle.result()) as PerconaResult;
      for (const s of r.steps) say(`  ${s.name.padEnd(24)} ${s.status.padEnd(22)} ${s.evidence.join('; ')}`);
      say(`recovery ${run.label} finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      if (r.newServer)
        say(
          `new server left running: pid ${r.newServer.pid}, port ${r.newServer.port}, datadir ${r.newServer.datadir}`,
        );
      const on = r.newServer ? { socket: r.newServer.socket, user: 'root' } : source.endpoint;
      results.push(await fingerprint(source.sql, on));
      await source.sql.closeAll();
    }

    let ok = true;
    console.log(
      `\n${'table'.padEnd(16)} ${'just before accident'.padEnd(24)} ${runs.map((r) => `recovered ${r.label}`.padEnd(24)).join(' ')} match`,
    );
    for (const [table, want] of Object.entries(truth)) {
      const cells = results.map((r) => r[table]);
      const match = cells.every((c) => c?.rows === want.rows && c?.checksum === want.checksum);
      ok &&= match;
      const fmt = (f?: TableFingerprint) => (f ? `${f.rows} rows / ${f.checksum}` : 'missing').padEnd(24);
      console.log(`${table.padEnd(16)} ${fmt(want)} ${cells.map(fmt).join(' ')} ${match ? 'yes' : 'NO'}`);
    }
    console.log(
      ok
        ? '\nAll checksums match the data just before the accident.'
        : '\nMISMATCH: the recovery did not reproduce the data.',
    );
    say(`demo total`);

    if (!exitWhenDone) {
      console.log(
        `\nWeb UI: ${temporal.uiUrl} — filter with RunbookKind = "perconaPointInTimeRecovery". Ctrl-C to stop.`,
      );
      await new Promise((r) => process.once('SIGINT', r));
    }
    worker.shutdown();
    await running;
    await deps.sql.closeAll();
    await connection.close();
    return ok ? 0 : 1;
  } finally {
    await source.archiver.stop().catch(() => {});
    await source.sql.closeAll();
    await source.server.stop().catch(() => {});
    await killProcessesUnder(base); // the new server, and a temporary mysqld a failed run left behind
    await temporal.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
