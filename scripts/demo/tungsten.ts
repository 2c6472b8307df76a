// The Tungsten demo: a Primary and a Replica (two real MariaDB servers) kept in sync by a replicator,
// a real mariadb-backup of the Primary, more work on the Primary, then the Replica loses rows.
// tungstenExternalRestore restores the Primary's backup on the Replica, repositions its replicator at
// the backup's THL seqno and lets it catch up; the Replica must end equal to the Primary.
// Real: MariaDB, mariadb-backup, the Primary's binlogs (what "applying" replays into the Replica), the
// Replica's trep_commit_seqno table. Stand-ins (test/fixtures/bin, each headed STAND-IN with the
// vendor documents it follows: Tungsten Cluster manual 7.8.2, the thl/trepctl/dsctl references, the
// open-source replicator): trepctl, thl, dsctl — Tungsten Replicator cannot be installed here.
import { join } from 'node:path';
import type { TungstenResult } from '../../workflows/tungsten-external-restore';
import type { TableFingerprint } from '../../workflows/schemas';
import { fixturesBin } from '../lib/stand-ins';
import { runMetadata } from '../lib/run-summary';
import { mariadbVersion } from '../lib/mariadb-server';
import { REPLICA_ACCIDENT, tungstenScenario } from '../lib/worlds/tungsten';
import { startHostAgent, type HostAgent } from './host-agent';
import { printComparison, type DemoSession } from './session';
import { printSteps, withStandIns } from './stand-in-env';

const describe = (t: Record<string, TableFingerprint>) =>
  Object.entries(t)
    .map(([name, f]) => `${name} ${f.rows} rows`)
    .join(', ');

export async function tungstenDemo(s: DemoSession): Promise<boolean> {
  return withStandIns(() => demo(s));
}

async function demo(s: DemoSession): Promise<boolean> {
  const { base, say } = s;
  say(
    `REAL: MariaDB (${await mariadbVersion()}) Primary and Replica, mariadb-backup, the Primary's binlogs. ` +
      `STAND-INS for Tungsten Replicator (cannot be installed here): trepctl, thl, dsctl from ${fixturesBin}, ` +
      'following the Tungsten Cluster manual 7.8.2 and the thl/trepctl/dsctl references (see each file’s header)',
  );
  // The Primary's host ("db1") has its own agent: there thl reads the Primary's THL, as the real one does.
  const [world, agent] = await Promise.allSettled([
    tungstenScenario({ base }),
    startHostAgent(s, 'db1', {
      PATH: process.env.PATH!,
      TUNGSTEN_STANDIN_NODE: 'primary',
      TUNGSTEN_STANDIN_STATE: join(base, 'tungsten-standin.json'),
      RUNBOOK_CATALOG: process.env.RUNBOOK_CATALOG!,
      RUNBOOK_CHILD_ENV: `${process.env.RUNBOOK_CHILD_ENV},TUNGSTEN_STANDIN_NODE`,
    }),
  ]);
  const stop = async () => {
    if (agent.status === 'fulfilled') await agent.value.stop();
    if (world.status === 'fulfilled') await world.value.world.stop();
  };
  if (world.status === 'rejected' || agent.status === 'rejected') {
    await stop();
    throw world.status === 'rejected' ? world.reason : (agent as PromiseRejectedResult).reason;
  }
  return run(s, world.value, agent.value).finally(stop);
}

async function run(
  s: DemoSession,
  sc: Awaited<ReturnType<typeof tungstenScenario>>,
  primaryAgent: HostAgent,
): Promise<boolean> {
  const { say } = s;
  const w = sc.world;
  say(`host agent db1 (the Primary's host) running as pid ${primaryAgent.pid}`);
  say(
    `service ${w.service}: Primary ${w.primary.socket}, Replica ${w.replica.socket}; ` +
      `backup of the Primary in ${sc.backupDir} at ${sc.backupPosition.file}:${sc.backupPosition.position} ` +
      `(THL seqno ${sc.atBackup.seqno}, epoch ${sc.atBackup.epoch}); its trep_commit_seqno says ${sc.committedBeforeBackup.seqno} (lags)`,
  );
  say(
    `the Primary moved on after the backup: THL up to seqno ${sc.newest.seqno}; the Replica applied it all`,
  );
  // Ground truth, read on the Primary (the runbook reads only the Replica).
  const truth = await w.fingerprint(w.primary);
  const damaged = await w.fingerprint(w.replica);
  say(`ACCIDENT on the Replica only: ${REPLICA_ACCIDENT} (outside the binlog, nothing replicates it)`);
  say(`  Primary: ${describe(truth)}`);
  say(`  Replica: ${describe(damaged)}`);
  await w.sql.closeAll();

  await s.catalogEntry('demo-tungsten', {
    runbooks: {
      tungstenExternalRestore: {
        input: {
          service: w.service,
          replica: {
            name: 'db2',
            datadir: w.replica.datadir,
            pidFile: w.replica.pidFile,
            start: w.replica.argv,
            connection: w.replicaEndpoint,
          },
          primary: { host: 'db1' },
          backup: { dir: sc.backupDir },
          heartbeatTimeout: '10s',
        },
      },
    },
    approval: { required: false },
  });
  const id = `demo-tungsten-${Date.now()}`;
  const started = Date.now();
  say(`starting tungstenExternalRestore of the Replica db2 from ${sc.backupDir} — ${s.runUrl(id)}`);
  const request = {
    cluster: 'demo-tungsten',
    onlineTimeout: '2m',
    verify: { schemas: ['shop'], expected: truth },
  };
  const handle = await s.client.workflow.start('tungstenExternalRestore', {
    taskQueue: s.taskQueue,
    workflowId: id,
    args: [request],
    ...runMetadata({ kind: 'tungstenExternalRestore', workflowId: id, request, startedBy: 'npm run demo' }),
  });
  const r = (await handle.result()) as TungstenResult;
  printSteps(say, r.steps);
  say(`recovery finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const [before] = r.commitSeqno?.before ?? [];
  const [after] = r.commitSeqno?.after ?? [];
  say(
    `trep_commit_seqno restored as seqno ${before?.seqno} (epoch ${before?.epoch}), reset to ${after?.seqno} ` +
      `(epoch ${after?.epoch}); replicator ${r.online?.state}, applied ${r.online?.fromSeqno} → ${r.online?.appliedLastSeqno}`,
  );

  // The Replica read back from the Replica itself, against the Primary; and the replicator's position.
  const recovered = await w.fingerprint(w.replica);
  const [commit] = await w.commitRow(w.replica);
  await w.sql.closeAll();
  const ok = printComparison(truth, [{ label: 'Replica', tables: recovered }], 'on the Primary');
  const caughtUp = commit?.seqno === sc.newest.seqno && commit.epoch === sc.newest.epoch;
  console.log(
    `Replica's trep_commit_seqno: seqno ${commit?.seqno} epoch ${commit?.epoch}; the Primary's newest THL ` +
      `event: seqno ${sc.newest.seqno} epoch ${sc.newest.epoch} — ${caughtUp ? 'caught up' : 'NOT caught up'}`,
  );
  return ok && caughtUp;
}
