// The NDB PITR demo: ndbPointInTimeRecovery on the world of the integration tests
// (scripts/lib/worlds/ndb-pitr.ts). The SQL node is a real MariaDB server keeping NDB's bookkeeping as
// NDB's binlog injector would (every epoch one transaction with its ndb_apply_status upsert and
// ndb_binlog_index row); the NDB programs (ndb_mgm, ndbd/ndbmtd, ndb_restore) are the stand-ins of
// test/fixtures/bin, which back up, clear and restore that server's data for real. Epochs, a nightly
// backup, more epochs over two binlog files, then the accident (half the orders deleted) and more work;
// the recovery brings the cluster back to the last epoch before the accident.
import { execa } from 'execa';
import { join } from 'node:path';
import type { NdbPitrResult } from '../../workflows/ndb-point-in-time-recovery';
import { formatEpoch } from '../../workflows/epoch';
import { SqlPools } from '../../activities/mysql/sql';
import { fingerprintTables } from '../../activities/mysql/verify';
import { mariadbVersion } from '../lib/mariadb-server';
import { startNdbPitrWorld, writeShopEpochs } from '../lib/worlds/ndb-pitr';
import { printComparison, type DemoSession } from './session';
import { printSteps, withStandIns } from './stand-in-env';

const CLUSTER = 'demo-ndb';

export async function ndbPitrDemo(s: DemoSession): Promise<boolean> {
  return withStandIns(() => run(s));
}

async function run(s: DemoSession): Promise<boolean> {
  const { base, say } = s;
  const { server, ndb } = await startNdbPitrWorld(base);
  const sql = new SqlPools();
  const endpoint = { socket: server.socket, user: 'root' };
  const shop = () => fingerprintTables(sql, endpoint, ['shop']);
  say(
    'NDB programs (ndb_mgm, ndbd/ndbmtd, ndb_restore) are stand-ins following the MySQL manual\'s "Point-In-Time ' +
      'Recovery Using NDB Cluster Replication" and the ndb_restore/ndb_mgm reference pages (test/fixtures/bin); ' +
      'the SQL node is real MariaDB',
  );
  say(`SQL node on ${server.socket} — ${await mariadbVersion()}; data nodes 2 and 3 (stand-ins)`);
  try {
    await writeShopEpochs(ndb, 12, 1);
    const backup = await execa('ndb_mgm', ['--execute', 'START BACKUP WAIT COMPLETED']);
    say(`${ndb.epochs.length} epochs; nightly backup by the ndb_mgm stand-in: ${backupLine(backup.stdout)}`);
    ndb.nextGci();
    await writeShopEpochs(ndb, 10, 2);
    await server.query('FLUSH BINARY LOGS');
    await writeShopEpochs(ndb, 10, 3);
    say(`${ndb.epochs.length} epochs in all, over two binlog files`);

    // Ground truth, read on the SQL node itself before the accident (not by the recovery).
    const truth = await shop();
    const lastGood = ndb.epochs.at(-1)!;
    const accident = await ndb.epoch('DELETE FROM shop.orders WHERE MOD(id, 2) = 0');
    say(
      `ACCIDENT: DELETE FROM shop.orders WHERE MOD(id, 2) = 0 in epoch ${formatEpoch(accident.epoch)}; ` +
        `truth captured just before, at epoch ${formatEpoch(lastGood.epoch)}`,
    );
    await writeShopEpochs(ndb, 4, 4);
    const now = await shop();
    say(
      `after the accident and 4 more epochs: shop.orders ${now['shop.orders']?.rows} rows (was ${truth['shop.orders']?.rows})`,
    );

    // The cluster in the fleet catalog as an operator would describe it (approval waived: a drill on
    // scratch servers); the request names only the failure point and what to verify.
    await s.catalogEntry(CLUSTER, {
      runbooks: {
        ndbPointInTimeRecovery: {
          input: {
            cluster: {
              name: CLUSTER,
              connectstring: 'mgm1:1186',
              dataNodes: [
                { id: 2, binary: 'ndbd', dataDir: join(base, 'ndb-data', '2') },
                { id: 3, binary: 'ndbmtd', dataDir: join(base, 'ndb-data', '3') },
              ],
              sqlNode: endpoint,
            },
            backup: { dataDir: join(base, 'ndb-backup') },
            archiveDir: join(base, 'archive'),
            dialect: 'mariadb', // MariaDB stands in for the MySQL SQL node
            heartbeatTimeout: '10s',
          },
        },
      },
      approval: { required: false },
    });
    const target = formatEpoch(lastGood.epoch);
    const id = `demo-ndb-pitr-${Date.now()}`;
    const started = Date.now();
    say(`starting ndbPointInTimeRecovery to epoch ${target} — ${s.runUrl(id)}`);
    const handle = await s.client.workflow.start('ndbPointInTimeRecovery', {
      taskQueue: s.taskQueue,
      workflowId: id,
      args: [
        {
          cluster: CLUSTER,
          failurePoint: { type: 'epoch', epoch: target },
          verify: { schemas: ['shop'], expected: truth },
        },
      ],
    });
    const r = (await handle.result()) as NdbPitrResult;
    printSteps(say, r.steps);
    say(
      `recovery finished in ${((Date.now() - started) / 1000).toFixed(1)} s: backup ${r.backup.id} restored, ` +
        `replayed to epoch ${r.latestEpoch ? formatEpoch(r.latestEpoch) : '?'}`,
    );
    const epochOk = r.latestEpoch === lastGood.epoch.toString();
    if (!epochOk) say(`MISMATCH: the last epoch applied is not ${target}`);
    // Fingerprinted again here, on the live SQL node, independently of the runbook's own verify step.
    return printComparison(truth, [{ label: 'SQL node', tables: await shop() }]) && epochOk;
  } finally {
    await sql.closeAll();
    await server.stop().catch(() => {});
  }
}

/** ndb_mgm's "Backup N … completed" line and its StopGCP, on one line. */
const backupLine = (text: string) =>
  text
    .split('\n')
    .filter((l) => / completed$|StopGCP/.test(l))
    .map((l) => l.trim())
    .join(', ');
