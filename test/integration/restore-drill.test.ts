// Scheduled restore drills (issue 17) on real MariaDB servers with a live archiver: the cluster's
// Temporal Schedule triggered in the test rehearses a recovery into the catalog's scratch server;
// a damaged archive makes a drill fail and alert through a signed webhook (verified by a local
// receiver); a scratch server that is production is refused by the catalog and at run time.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { freePort } from '../../activities/mysql/ports';
import { readDrills } from '../../activities/drill/drill-record';
import { entryIssues } from '../../activities/trust/fleet-catalog';
import { verifySignature } from '../../scripts/lib/signature';
import {
  createShop,
  fingerprint,
  runWorkload,
  startSource,
  takeBackup,
  type Source,
} from '../../scripts/lib/scenario';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { scheduleDrill } from '../../scripts/cli/drills';
import { main } from '../../scripts/runbook';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import type { DrillRecord } from '../../workflows/schemas-drill';
import { flipBitInEventBody } from '../support/damage';
import { historiesDir } from '../support/histories';
import { saveHistory } from '../../scripts/lib/history';
import { writeCatalogEntry } from '../support/fleet';
import { useStandIns } from '../support/percona-scenario';
import {
  startWorker,
  temporalAddress,
  testClient,
  uniqueQueue,
  type RunningWorker,
} from '../support/temporal';

useStandIns();
const SECRET_ENV = 'DRILL_TEST_ALERT_SECRET';
const SECRET = `drill-secret-${randomUUID()}`;
process.env[SECRET_ENV] = SECRET;

let base: string;
let source: Source;
let backupDir: string;
/** The archived file written wholly after the backup (damaged by the failing drill's test). */
let middleFile: string;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
let receiver: Server;
const alerts: { body: Buffer; headers: Record<string, string | string[] | undefined> }[] = [];
let alertUrl: string;

const s = () => source.server;

function pitrInput(newServers: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    cluster: {
      adapter: 'process',
      name: 'shop',
      pidFile: s().pidFile,
      start: s().argv,
      connection: { socket: s().socket, user: 'root' },
    },
    backup: { dir: backupDir },
    restore: { datadir: s().datadir },
    archive: { kind: 'fs', dir: source.archiveDir },
    heartbeatTimeout: '10s',
    newServers,
    ...extra,
  };
}

function entry(input: Record<string, unknown>, scratch = 'scratch') {
  return {
    runbooks: { perconaPointInTimeRecovery: { input } },
    approval: { required: false },
    drill: {
      schedule: { every: '24h' },
      scratch,
      schemas: ['shop'],
      alert: { url: alertUrl, secret: { env: SECRET_ENV } },
      archiveWait: '60s',
    },
  };
}

async function scratchServer(name: string) {
  return { datadir: join(base, name, 'data'), port: await freePort(), serverId: 7, approvalFree: true };
}

/** Triggers the cluster's schedule and returns the drill it started, once it has ended. */
async function triggerDrill(cluster: string): Promise<{ workflowId: string; outcome: Promise<DrillRecord> }> {
  const id = await scheduleDrill(client, cluster, worker.taskQueue);
  const h = client.schedule.getHandle(id);
  await h.trigger();
  for (let i = 0; i < 100; i++) {
    const d = await h.describe();
    const started = d.info.recentActions.at(-1)?.action;
    if (started && 'workflow' in started) {
      const wf = client.workflow.getHandle(started.workflow.workflowId);
      return { workflowId: started.workflow.workflowId, outcome: wf.result() as Promise<DrillRecord> };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`schedule ${id} started no drill`);
}

async function failureOf(p: Promise<unknown>): Promise<{ type?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof WorkflowFailedError, String(err));
    const c = err.cause;
    assert.ok(c instanceof ApplicationFailure, String(c));
    return { type: c.type ?? undefined, message: c.message };
  }
  throw new Error('the drill was expected to fail');
}

const sourcePos = async () => (await s().query<{ p: string }[]>('SELECT @@gtid_binlog_pos AS p'))[0]!.p;
const markerSchema = async () =>
  (
    await s().query<{ n: number }[]>(
      "SELECT COUNT(*) AS n FROM information_schema.schemata WHERE schema_name = 'runbook_drill'",
    )
  )[0]!.n;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'drill-'));
  source = await startSource(base);
  await createShop(s());
  await runWorkload(s(), 1, 400);
  await s().query('FLUSH BINARY LOGS');
  await runWorkload(s(), 2, 300);
  backupDir = join(base, 'backup');
  await takeBackup(s(), backupDir);
  await s().query('FLUSH BINARY LOGS');
  const [st] = await s().query<{ File: string }[]>('SHOW MASTER STATUS');
  middleFile = st!.File;
  await runWorkload(s(), 3, 600);
  await s().query('FLUSH BINARY LOGS');
  await runWorkload(s(), 4, 300);
  await source.archiver.waitCaughtUp();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      alerts.push({ body: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(204).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => receiver.listen(port, '127.0.0.1', () => r()));
  alertUrl = `http://127.0.0.1:${port}/drill-alerts`;
  worker = await startWorker(uniqueQueue('drill'));
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  await worker?.stop();
  await closeClient?.();
  receiver?.close();
  await source?.archiver.stop();
  await source?.sql.closeAll();
  await source?.server.stop().catch(() => {});
  if (base) await removeTestDir(base);
});

describe('a drill never targets production', () => {
  test('the catalog refuses a scratch server with the cluster’s datadir, port or socket', async () => {
    const prod = { datadir: s().datadir, port: 3306, serverId: 9, approvalFree: true };
    const cases: [Record<string, unknown>, RegExp][] = [
      [prod, /drill\.scratch scratch is production: its datadir .* is the cluster's datadir/],
      [{ ...prod, datadir: join(s().datadir, 'inner') }, /is production: its datadir .* overlaps it/],
      [
        { ...(await scratchServer('s1')), socket: s().socket },
        /is production: its socket .* is the cluster's/,
      ],
      [
        { ...(await scratchServer('s2')), approvalFree: false },
        /is not a scratch server \(approvalFree: true\)/,
      ],
    ];
    for (const [server, re] of cases) {
      const issues = entryIssues('prod', entry(pitrInput({ scratch: server })));
      assert.match(issues.join('\n'), re);
    }
    const withPort = entry(pitrInput({ scratch: { ...(await scratchServer('s3')), port: 4406 } }));
    (withPort.runbooks.perconaPointInTimeRecovery.input.cluster as Record<string, unknown>).connection = {
      host: '127.0.0.1',
      port: 4406,
      user: 'root',
    };
    assert.match(entryIssues('prod', withPort).join('\n'), /its port 4406 is the cluster's/);
    assert.deepEqual(entryIssues('ok', entry(pitrInput({ scratch: await scratchServer('s4') }))), []);

    // Such an entry gets no schedule: refused before Temporal is asked.
    const name = `prod-${randomUUID().slice(0, 8)}`;
    await writeCatalogEntry(name, entry(pitrInput({ scratch: prod })));
    await assert.rejects(
      scheduleDrill(client, name, worker.taskQueue),
      /not a usable entry .*nothing scheduled/,
    );
    await assert.rejects(client.schedule.getHandle(`drill-${name}`).describe(), /not found/i);
  });

  test('at run time, the live cluster server’s own datadir refuses a catalog that misnames it; nothing touched', async () => {
    // The catalog names another datadir and a start command without one: only the server knows.
    const input = pitrInput(
      { scratch: { datadir: s().datadir, serverId: 9, approvalFree: true } },
      { restore: { datadir: join(base, 'misnamed', 'data') } },
    );
    (input.cluster as Record<string, unknown>).start = [
      '/usr/sbin/mariadbd',
      '--defaults-file=/nonexistent.cnf',
    ];
    const name = `live-${randomUUID().slice(0, 8)}`;
    await writeCatalogEntry(name, entry(input));
    assert.deepEqual(entryIssues(name, entry(input)), []);
    const posBefore = await sourcePos();
    const filesBefore = (await readdir(s().datadir)).sort();
    const sent = alerts.length;
    const { outcome } = await triggerDrill(name);
    const f = await failureOf(outcome);
    assert.equal(f.type, 'DrillRefused');
    assert.match(f.message, /is production: its datadir .* \(as the running cluster server reports it\)/);
    assert.match(f.message, /Nothing was touched/);
    assert.equal(await sourcePos(), posBefore);
    assert.equal(await markerSchema(), 0);
    assert.deepEqual((await readdir(s().datadir)).sort(), filesBefore);
    const [rec] = (await readDrills(name)).slice(-1);
    assert.equal(rec!.result, 'failed');
    assert.equal(alerts.length, sent + 1);
  });
});

describe('scheduled drills on a live archive', () => {
  test('a triggered drill restores the newest backup to its marker on the scratch server: fingerprints equal, RTO and RPO recorded', async (t) => {
    const name = `drill-${randomUUID().slice(0, 8)}`;
    const scratch = await scratchServer('scratch-ok');
    await writeCatalogEntry(name, entry(pitrInput({ scratch })));
    const truth = await fingerprint(source.sql, source.endpoint);
    const sent = alerts.length;
    const { workflowId, outcome } = await triggerDrill(name);
    const rec = await outcome;
    assert.equal(rec.result, 'passed', rec.why);
    t.diagnostic(`drill ${rec.gtid}: RTO ${rec.rtoMs} ms, RPO ${rec.rpoSeconds} s, ${rec.tables} tables`);
    assert.ok(rec.rtoMs! > 0);
    assert.equal(typeof rec.rpoSeconds, 'number');
    // The marker is on the source, at the recorded GTID's position or before it.
    const [marker] = await s().query<{ drill: string }[]>(
      'SELECT drill FROM runbook_drill.marker ORDER BY id DESC LIMIT 1',
    );
    assert.equal(marker!.drill, workflowId);
    assert.equal(rec.gtid, await sourcePos());
    // What the scratch server held, from the recovery's own result, against the source read here.
    const child = (await client.workflow.getHandle(rec.recoveryId!).result()) as PerconaResult;
    const restoredShop = Object.fromEntries(
      Object.entries(child.tables!).filter(([t]) => t.startsWith('shop.')),
    );
    assert.deepEqual(restoredShop, truth);
    assert.equal(child.tables!['runbook_drill.marker']!.rows, 1);
    assert.ok(child.proof);
    assert.equal(rec.tables, Object.keys(truth).length + 1);
    // With RECORD_HISTORIES=1 the drill's history joins the replay suite (test/histories).
    if (process.env.RECORD_HISTORIES === '1')
      await saveHistory(temporalAddress(), workflowId, join(historiesDir, 'restore-drill.json'));
    // --schedule again after an edit of the entry's schedule updates the same schedule.
    const edited = entry(pitrInput({ scratch }));
    edited.drill.schedule = { every: '12h' };
    await writeCatalogEntry(name, edited);
    assert.equal(await scheduleDrill(client, name, worker.taskQueue), `drill-${name}`);
    const d = await client.schedule.getHandle(`drill-${name}`).describe();
    assert.deepEqual(
      d.spec.intervals?.map((i) => Number(i.every)),
      [12 * 3600 * 1000],
    );
    assert.equal(d.action.type === 'startWorkflow' && d.action.workflowType, 'restoreDrill');
    // Recorded on the controller; the scratch server is gone for the next drill; no alert.
    assert.deepEqual(
      (await readDrills(name)).map((r) => r.workflowId),
      [workflowId],
    );
    assert.equal(await stat(scratch.datadir).catch(() => null), null);
    assert.equal(alerts.length, sent);
    // The CLI shows it as a table and as a page with a chart.
    const html = join(base, 'drills.html');
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      assert.equal(await main(['--address', temporalAddress(), 'drills', name]), 0);
      assert.equal(await main(['drills', name, '--html', html]), 0);
    } finally {
      console.log = log;
    }
    assert.match(lines.join('\n'), new RegExp(`passed .* ${rec.gtid}`));
    const page = await readFile(html, 'utf8');
    assert.match(page, /<svg[^>]*>.*class="drill-passed"/s);
    assert.doesNotMatch(page, /<script|https?:\/\/(?!www\.w3\.org)/);
  });

  test('a damaged archive makes the drill fail and alert through a signed webhook', async () => {
    const name = `broken-${randomUUID().slice(0, 8)}`;
    const scratch = await scratchServer('scratch-broken');
    await writeCatalogEntry(name, entry(pitrInput({ scratch })));
    const at = await flipBitInEventBody(join(source.archiveDir, middleFile));
    const sent = alerts.length;
    const { workflowId, outcome } = await triggerDrill(name);
    const f = await failureOf(outcome);
    assert.equal(f.type, 'DrillFailed');
    assert.match(f.message, new RegExp(`${middleFile.replace('.', '\\.')}`));
    const [rec] = await readDrills(name);
    assert.equal(rec!.result, 'failed');
    assert.equal(rec!.workflowId, workflowId);
    assert.match(rec!.why!, new RegExp(middleFile.replace('.', '\\.')));
    assert.match(rec!.alert!, /delivered .* \(HTTP 204\)/);
    // One alert, signed with the catalog's secret over the exact body; a wrong key does not verify.
    assert.equal(alerts.length, sent + 1);
    const alert = alerts.at(-1)!;
    assert.ok(verifySignature(alert.body, alert.headers, [SECRET]));
    assert.ok(!verifySignature(alert.body, alert.headers, ['another-secret']));
    const body = JSON.parse(alert.body.toString()) as { kind: string; drill: DrillRecord };
    assert.equal(body.kind, 'restoreDrillFailed');
    assert.equal(body.drill.workflowId, workflowId);
    assert.ok(!alert.body.toString().includes(SECRET));
    assert.ok(at > 0);
    // Nothing was restored: the plan refused the damaged file before the scratch server was filled.
    assert.equal(await stat(scratch.datadir).catch(() => null), null);
  });
});

describe('bad input, refused with nothing written', () => {
  test('a drill of a cluster the catalog does not know, or not a cluster name', async () => {
    const posBefore = await sourcePos();
    const start = (cluster: unknown) =>
      client.workflow
        .start('restoreDrill', {
          taskQueue: worker.taskQueue,
          workflowId: `drill-bad-${randomUUID().slice(0, 8)}`,
          args: [{ cluster }],
        })
        .then((h) => h.result());
    const unknown = await failureOf(start('nosuch'));
    assert.equal(unknown.type, 'DrillRefused');
    assert.match(unknown.message, /no usable fleet catalog entry of that name .*Nothing was touched/);
    const bad = await failureOf(start('../etc'));
    assert.equal(bad.type, 'InvalidInput');
    assert.equal(await sourcePos(), posBefore);
  });

  test('a runbook_drill.marker table that is not the drill’s is never written to', async () => {
    const name = `foreign-${randomUUID().slice(0, 8)}`;
    await writeCatalogEntry(name, entry(pitrInput({ scratch: await scratchServer('scratch-foreign') })));
    await s().query('DROP TABLE runbook_drill.marker');
    await s().query(
      "CREATE TABLE runbook_drill.marker (id INT PRIMARY KEY) COMMENT 'the application''s own'",
    );
    const posBefore = await sourcePos();
    try {
      const { outcome } = await triggerDrill(name);
      const f = await failureOf(outcome);
      assert.equal(f.type, 'DrillRefused');
      assert.match(f.message, /runbook_drill\.marker exists and is not the drill's .*Nothing was written/);
      assert.equal(await sourcePos(), posBefore);
      const [n] = await s().query<{ n: number }[]>('SELECT COUNT(*) AS n FROM runbook_drill.marker');
      assert.equal(Number(n!.n), 0);
    } finally {
      await s().query('DROP TABLE runbook_drill.marker');
    }
  });
});
