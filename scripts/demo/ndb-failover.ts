// The NDB channel-failover demo: ndbChannelFailover on the NDB model of the integration tests
// (scripts/lib/worlds/ndb-model.ts, ndb-replication.ts), all real MariaDB servers and real replication.
// Source cluster: SQL nodes M (the application writes epochs through it) and M' (binlogs the same epochs
// at its own positions: a replica of M with log_slave_updates, indexed as NDB's injector would).
// Replica cluster: R, with channel 'primary' from M. The accident: M dies (SIGKILL) while R's primary
// channel keeps trying to reconnect; the application goes on writing through M'. A plan first (read
// only: the primary channel still runs, so the run must stop it first), then the run: it stops the
// primary channel and starts channel 'secondary' from M' right after the last epoch R applied. Every
// epoch also adds one to a tally, so an epoch lost or applied twice shows in the figures.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { NdbFailoverResult } from '../../workflows/ndb-channel-failover';
import { formatEpoch } from '../../workflows/epoch';
import type { TableFingerprint } from '../../workflows/schemas';
import { SqlPools } from '../../activities/mysql/sql';
import { fingerprintTables } from '../../activities/mysql/verify';
import { mariadbVersion, startMariadbServer, type MariadbServer } from '../lib/mariadb-server';
import { indexReplicatedEpochs, NdbSource } from '../lib/worlds/ndb-model';
import {
  caughtUp,
  maxEpoch,
  NDB_SERVER_ARGS,
  prepareNdbServers,
  replicate,
  slaveStatus,
  STRICT_REPLICA_ARGS,
  type Row,
} from '../lib/worlds/ndb-replication';
import { printComparison, type DemoSession } from './session';
import { printSteps } from './stand-in-env';

const CLUSTER = 'demo-ndb-dr';
const PASSWORD_VAR = 'DEMO_NDB_REPL_PW';

export async function ndbFailoverDemo(s: DemoSession): Promise<boolean> {
  const { base, say } = s;
  const password = `repl-${randomUUID()}`;
  process.env[PASSWORD_VAR] = password; // the worker resolves the catalog's { env } reference
  const start = (name: string, serverId: number, extra: string[] = []) =>
    startMariadbServer({ baseDir: join(base, name), serverId, extraArgs: [...NDB_SERVER_ARGS, ...extra] });
  const servers = await Promise.all([
    start('m', 1),
    start('m-prime', 2),
    start('r', 11, STRICT_REPLICA_ARGS),
  ]);
  const [M, M2, R] = servers as [MariadbServer, MariadbServer, MariadbServer];
  const pools = new SqlPools();
  const shop = (x: MariadbServer) => fingerprintTables(pools, { socket: x.socket, user: 'root' }, ['shop']);
  say(
    'NDB is modelled on real MariaDB servers with real replication, following the MySQL manual\'s "Implementing ' +
      'Failover with NDB Cluster Replication": each epoch is one transaction with its mysql.ndb_apply_status upsert ' +
      "and mysql.ndb_binlog_index row, as NDB's binlog injector writes them; no NDB program runs in this runbook " +
      '(SQL only), and the SQL nodes are real MariaDB',
  );
  say(`source SQL nodes M :${M.port}, M' :${M2.port}; replica R :${R.port} — ${await mariadbVersion()}`);
  try {
    const ndb = new NdbSource(M, 1000);
    await ndb.init();
    await prepareNdbServers(servers, password);
    await replicate(M2, '', M, password);
    await replicate(R, 'primary', M, password);
    await M.query(`
      CREATE DATABASE shop;
      CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, visits INT NOT NULL) ENGINE=InnoDB;
      CREATE TABLE shop.orders (id INT PRIMARY KEY, customer_id INT NOT NULL, amount DECIMAL(10,2) NOT NULL) ENGINE=InnoDB;
      CREATE TABLE shop.tally (id INT PRIMARY KEY, epochs INT NOT NULL) ENGINE=InnoDB;
      INSERT INTO shop.tally VALUES (1, 0);`);
    let n = 0;
    const writeEpochs = async (via: NdbSource, gcis: number, micros: number) => {
      for (let g = 0; g < gcis; g++) {
        via.nextGci();
        for (let m = 0; m < micros; m++) {
          n++;
          await via.epoch(`
            INSERT INTO shop.orders VALUES (${n * 10 + 1}, ${n % 7}, ${n}.25), (${n * 10 + 2}, ${(n + 3) % 7}, ${n * 3}.10);
            INSERT INTO shop.customers VALUES (${n % 7}, 'customer-${n % 7}', 1) ON DUPLICATE KEY UPDATE visits = visits + 1;
            UPDATE shop.tally SET epochs = epochs + 1 WHERE id = 1;`);
        }
      }
    };
    await writeEpochs(ndb, 4, 3);
    await caughtUp(M2, '', M);
    await caughtUp(R, 'primary', M);
    await indexReplicatedEpochs(M2, ndb.epochs); // M''s injector indexes the epochs at its own positions
    await M2.endPool();
    const lastViaM = ndb.epochs.at(-1)!;
    say(`${n} epochs written through M; R applied them over channel 'primary', M' binlogged them too`);

    await M.kill();
    const primary = await slaveStatus(R, 'primary');
    say(
      `ACCIDENT: SQL node M killed (SIGKILL) after epoch ${formatEpoch(lastViaM.epoch)}; R's channel 'primary' now ` +
        `Slave_IO_Running=${primary.Slave_IO_Running}, Slave_SQL_Running=${primary.Slave_SQL_Running}`,
    );
    // The cluster keeps running: the application writes through M' (its own epochs, its own index rows).
    const viaM2 = new NdbSource(M2, lastViaM.gci);
    await viaM2.init();
    await writeEpochs(viaM2, 2, 3);
    say(`${n - ndb.epochs.length} more epochs written through M' while R's primary channel is down`);

    await s.catalogEntry(CLUSTER, {
      runbooks: {
        ndbChannelFailover: {
          input: {
            dialect: 'mariadb', // MariaDB stands in for the MySQL SQL nodes
            cluster: CLUSTER,
            replica: { endpoint: { socket: R.socket, user: 'root' } },
            primary: { channel: 'primary' },
            secondary: {
              channel: 'secondary',
              source: { endpoint: { socket: M2.socket, user: 'root' } },
              connect: { host: '127.0.0.1', port: M2.port, user: 'repl', password: { env: PASSWORD_VAR } },
            },
          },
        },
      },
      approval: { required: false },
    });
    const runFailover = async (label: string, request: Record<string, unknown>) => {
      const id = `demo-ndb-failover-${label}-${Date.now()}`;
      say(`starting ndbChannelFailover (${label}): ${JSON.stringify(request)} — ${s.runUrl(id)}`);
      const handle = await s.client.workflow.start('ndbChannelFailover', {
        taskQueue: s.taskQueue,
        workflowId: id,
        args: [{ cluster: CLUSTER, form: 'epoch-greater', catchUpTimeout: '30s', ...request }],
      });
      return (await handle.result()) as NdbFailoverResult;
    };

    // First the plan, as an operator would: read only. The primary channel still runs (its IO thread
    // reconnecting), so the run must stop it before the secondary starts: never two channels at once.
    const plan = await runFailover('plan', { mode: 'plan', stopPrimary: true });
    const untouched = (await R.query<Row[]>('SHOW ALL SLAVES STATUS')).length === 1;
    say(
      `  plan: primary channel ${plan.plan.primary.running ? 'still running' : 'stopped'} (${plan.plan.primary.ioRunning}/` +
        `${plan.plan.primary.sqlRunning}); the run would take ${plan.destructiveSteps.join(' then ')}; 'secondary' from ` +
        `${plan.plan.start?.file}:${plan.plan.start?.position}; ${untouched ? 'nothing changed' : 'CHANGED SOMETHING'}`,
    );
    const started = Date.now();
    const r = await runFailover('run', { stopPrimary: true });
    printSteps(say, r.steps);
    say(
      `failover finished in ${((Date.now() - started) / 1000).toFixed(1)} s: latest epoch applied on R ` +
        `${r.latestEpoch ? formatEpoch(r.latestEpoch) : '?'}, secondary from ${r.start?.file}:${r.start?.position}`,
    );

    // Replication goes on: more epochs through M' reach R over the secondary channel only.
    await writeEpochs(viaM2, 2, 3);
    await caughtUp(R, 'secondary', M2);
    say(`6 more epochs written through M' after the failover; ${n} in all`);

    // Figures read on the servers themselves, not by the runbook.
    const truth = await shop(M2);
    const onR = await shop(R);
    const channels = (await R.query<Row[]>('SHOW ALL SLAVES STATUS')).map(
      (c) => `'${c.Connection_name}' ${c.Slave_IO_Running}/${c.Slave_SQL_Running}`,
    );
    const tally = async (x: MariadbServer) =>
      Number((await x.query<{ e: number }[]>('SELECT epochs AS e FROM shop.tally'))[0]?.e);
    // The tally counts each epoch once: fewer on R is an epoch lost, more is one applied twice.
    const last = viaM2.epochs.at(-1)!.epoch;
    const figures: [string, string, string][] = [
      ['epochs applied (tally)', `${n} written`, String(await tally(R))],
      ['latest epoch', formatEpoch(last), formatEpoch(await maxEpoch(R))],
    ];
    const matches = [String(await tally(R)) === String(n), (await maxEpoch(R)) === last.toString()];
    console.log(`\n${'figure'.padEnd(24)} ${'written'.padEnd(24)} ${'replica R'.padEnd(24)} match`);
    figures.forEach(([name, want, got], i) =>
      console.log(`${name.padEnd(24)} ${want.padEnd(24)} ${got.padEnd(24)} ${matches[i] ? 'yes' : 'NO'}`),
    );
    const ok = matches.every(Boolean);
    const running = channels.filter((c) => !c.endsWith('No/No'));
    const oneChannel = running.length === 1 && running[0]!.startsWith("'secondary'");
    console.log(
      `channels on R: ${channels.join(', ')} — ${oneChannel ? 'one running' : 'NOT exactly one running'}`,
    );
    const tables: Record<string, TableFingerprint> = onR;
    const same = printComparison(truth, [{ label: 'replica R', tables }], "on source M'");
    return same && ok && oneChannel && untouched;
  } finally {
    delete process.env[PASSWORD_VAR];
    await pools.closeAll();
    for (const x of servers) await x.stop().catch(() => {});
  }
}
