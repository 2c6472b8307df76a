// The Percona demo (the default): a real MariaDB source whose binlogs are archived, a workload, a
// real mariadb-backup base backup, more work, then a dropped table; perconaPointInTimeRecovery to just
// before the drop — first onto a new server while the source keeps running, then in place once by
// time and once by GTID. Nothing stands in: the `process` adapter pauses and starts a real mysqld.
import { join } from 'node:path';
import type { TableFingerprint } from '../../workflows/schemas';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { mariadbVersion } from '../lib/mariadb-server';
import {
  createShop,
  fingerprint,
  gtidPos,
  runWorkload,
  secondBoundary,
  startSource,
  takeBackup,
} from '../lib/scenario';
import { freePort } from '../../activities/mysql/ports';
import { printComparison, type DemoSession } from './session';
import { runMetadata } from '../lib/run-summary';

export async function perconaDemo(s: DemoSession): Promise<boolean> {
  const { base, say } = s;
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

    // The demo's world in the fleet catalog, as an operator would describe it (approval waived: a
    // drill on scratch servers); the request only names the cluster, the target and what to verify.
    await s.catalogEntry('demo-source', {
      runbooks: {
        perconaPointInTimeRecovery: {
          input: {
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
          },
        },
      },
      approval: { required: false },
    });
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
    const recovered: { label: string; tables: Record<string, TableFingerprint> }[] = [];
    for (const run of runs) {
      const id = `demo-pitr-${run.label.replace(/\W+/g, '-')}-${Date.now()}`;
      const started = Date.now();
      say(
        `starting perconaPointInTimeRecovery ${run.label}: ${JSON.stringify(run.target)} — ${s.runUrl(id)}`,
      );
      const request = {
        cluster: 'demo-source',
        target: run.target,
        verify: { schemas: ['shop'], expected: truth },
        ...(run.restoreTo ? { restoreTo: run.restoreTo } : {}),
      };
      const handle = await s.client.workflow.start('perconaPointInTimeRecovery', {
        taskQueue: s.taskQueue,
        workflowId: id,
        args: [request],
        ...runMetadata({
          kind: 'perconaPointInTimeRecovery',
          workflowId: id,
          request,
          startedBy: `npm run demo (${run.label})`,
        }),
      });
      const r = (await handle.result()) as PerconaResult;
      for (const step of r.steps)
        say(`  ${step.name.padEnd(24)} ${step.status.padEnd(22)} ${step.evidence.join('; ')}`);
      say(`recovery ${run.label} finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      if (r.newServer)
        say(
          `new server left running: pid ${r.newServer.pid}, port ${r.newServer.port}, datadir ${r.newServer.datadir}`,
        );
      const on = r.newServer ? { socket: r.newServer.socket, user: 'root' } : source.endpoint;
      recovered.push({ label: run.label, tables: await fingerprint(source.sql, on) });
      await source.sql.closeAll();
    }
    return printComparison(truth, recovered);
  } finally {
    await source.archiver.stop().catch(() => {});
    await source.sql.closeAll();
    await source.server.stop().catch(() => {});
  }
}
