// perconaPointInTimeRecovery to a NEW server (issue 15), on real MariaDB servers: the source is the
// cluster (process adapter, its own datadir named as the in-place restore), and it keeps taking writes
// while the recovery fills a fresh datadir, proves it and leaves it running as a server of its own.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { Client } from '@temporalio/client';
import { progressQuery } from '../../workflows/kit';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { NOT_PAUSED } from '../../workflows/percona-new-server';
import { freePort } from '../../activities/mysql/ports';
import { isAlive, terminate } from '../../activities/runtime/processes';
import { fingerprint } from '../../scripts/lib/scenario';
import { recordAccident, useStandIns, type Accident } from '../support/percona-scenario';
import {
  startWorker,
  temporalAddress,
  testClient,
  uniqueQueue,
  type RunningWorker,
} from '../support/temporal';
import { saveHistory } from '../../scripts/lib/history';
import { historiesDir } from '../support/histories';
import { runWorkflow, runWorkflowExpectingFailure } from '../support/workflows';
import { writeCatalogEntry } from '../support/fleet';

useStandIns();
const TYPE = 'perconaPointInTimeRecovery';
let acc: Accident;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
const leftRunning: number[] = [];

const sourcePid = async () => Number((await readFile(acc.source.server.pidFile, 'utf8')).trim());

/** The source as the cluster: stopping it (a pause) would stop the writes; its datadir is the in-place target. */
function clusterInput(newServers: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const s = acc.source.server;
  return {
    cluster: {
      adapter: 'process',
      name: 'shop',
      pidFile: s.pidFile,
      start: s.argv,
      connection: { socket: s.socket, user: 'root' },
    },
    backup: { dir: acc.backupDir },
    restore: { datadir: s.datadir },
    archive: { kind: 'fs', dir: acc.source.archiveDir },
    verify: { schemas: ['shop'] },
    heartbeatTimeout: '10s',
    target: { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
    newServers,
    ...extra,
  };
}

/** Writes to the source, one acknowledged row at a time, until stopped: what the source must hold. */
function startWriter() {
  const rows: { id: number; at: number }[] = [];
  const errors: string[] = [];
  let stop = false;
  const done = (async () => {
    await acc.source.server.query(
      'CREATE DATABASE IF NOT EXISTS live; CREATE TABLE IF NOT EXISTS live.ticks (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL)',
    );
    for (let id = 1; !stop; id++) {
      try {
        await acc.source.server.query('INSERT INTO live.ticks VALUES (?, SHA1(?))', [id, id]);
        rows.push({ id, at: Date.now() });
      } catch (err) {
        errors.push((err as Error).message);
        await new Promise((r) => setTimeout(r, 200));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    rows,
    errors,
    async stop() {
      stop = true;
      await done;
    },
  };
}

const listDir = (dir: string) => readdir(dir).catch(() => null);

before(async () => {
  acc = await recordAccident();
  worker = await startWorker(uniqueQueue('percona-ns'));
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  for (const pid of leftRunning) if (isAlive(pid)) await terminate(pid, 60_000);
  await worker?.stop();
  await closeClient?.();
  await acc?.cleanup();
});

describe('restore to a new server', () => {
  test('recovers onto a new server while the source keeps taking writes; the source is never touched', async () => {
    const port = await freePort();
    const datadir = join(acc.base, 'new-1', 'data');
    const pidBefore = await sourcePid();
    const shopBefore = await fingerprint(acc.source.sql, acc.source.endpoint);
    const writer = startWriter();
    const t0 = Date.now();
    const input = clusterInput(
      { scratch: { datadir, port, serverId: 7, approvalFree: true } },
      // Approval required by the request: a scratch server's restore still needs none.
      { restoreTo: 'scratch', requireApproval: true },
    );
    const id = `percona-new-server-${Date.now()}`;
    const r = await runWorkflow<PerconaResult>(client, TYPE, worker.taskQueue, input, id).finally(() =>
      writer.stop(),
    );
    const t1 = Date.now();

    // The source: same process, never paused, every write kept and nothing else changed.
    assert.equal(await sourcePid(), pidBefore);
    assert.deepEqual(writer.errors, []);
    const during = writer.rows.filter((w) => w.at > t0 && w.at < t1);
    assert.ok(during.length > 20, `only ${during.length} writes during the run`);
    for (let i = 1; i < writer.rows.length; i++)
      assert.ok(writer.rows[i]!.at - writer.rows[i - 1]!.at < 5000, 'the writes stalled for 5 s or more');
    const ticks = await acc.source.server.query<{ id: number; v: string }[]>(
      'SELECT id, v FROM live.ticks ORDER BY id',
    );
    assert.deepEqual(
      ticks.map((t) => t.id),
      writer.rows.map((w) => w.id),
    );
    for (const t of ticks) assert.equal(t.v, createHash('sha1').update(String(t.id)).digest('hex'));
    assert.deepEqual(await fingerprint(acc.source.sql, acc.source.endpoint), shopBefore);
    assert.deepEqual(shopBefore, acc.finalTruth);

    // The run: no pause, no unpause; the new server is the proved restore, left running.
    const step = (n: string) => r.steps.find((s) => s.name === n)!;
    assert.equal(step('pause-cluster').status, 'skipped-by-checkpoint');
    assert.deepEqual(step('pause-cluster').evidence, [NOT_PAUSED]);
    assert.equal(step('unpause-cluster').status, 'skipped-by-checkpoint');
    assert.equal(step('restore-backup').status, 'done');
    assert.equal(step('restore-backup').approval, undefined);
    assert.equal(step('start-new-server').status, 'done');
    assert.deepEqual(r.destructiveSteps, []);
    assert.match(
      step('locate-binlogs').evidence.join('\n'),
      /will create a new server scratch at .*listening on 127\.0\.0\.1:\d+.*the cluster shop is not paused/,
    );
    assert.deepEqual(r.tables, acc.truth);
    assert.ok(r.proof);
    const ns = r.newServer!;
    leftRunning.push(ns.pid);
    assert.ok(isAlive(ns.pid), 'the new server is left running');
    assert.equal(ns.datadir, datadir);
    assert.equal(ns.gtid, acc.lastGoodGtid);
    const record = JSON.parse(
      await readFile(join(process.env.RUNBOOK_STATE_DIR!, 'new-servers', `${r.recoveryId}.json`), 'utf8'),
    ) as { pid: number; datadir: string };
    assert.deepEqual([record.pid, record.datadir], [ns.pid, datadir]);

    // Over TCP on the catalog's port: the data of the target point (captured live on the source
    // before the accident), durable settings, and its own writes continue the GTID history.
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
    try {
      const [[cfg]] = await c.query<mysql.RowDataPacket[]>(
        'SELECT @@innodb_flush_log_at_trx_commit AS flush, @@sync_binlog AS sync, @@gtid_binlog_pos AS gtid, @@gtid_strict_mode AS strict',
      );
      assert.deepEqual(
        [Number(cfg!.flush), Number(cfg!.sync), cfg!.gtid, Number(cfg!.strict)],
        [1, 1, acc.lastGoodGtid, 1],
      );
      const [domain, , seq] = acc.lastGoodGtid.split('-');
      await c.query("INSERT INTO shop.customers VALUES (123456, 'after', 'gold')");
      const [[after]] = await c.query<mysql.RowDataPacket[]>('SELECT @@gtid_binlog_pos AS gtid');
      assert.equal(after!.gtid, `${domain}-7-${Number(seq) + 1}`);
      await c.query('DELETE FROM shop.customers WHERE id = 123456');
    } finally {
      await c.end();
    }
    const truth = await fingerprint(acc.source.sql, { socket: ns.socket, user: 'root' });
    assert.deepEqual(truth, acc.truth);
    // With RECORD_HISTORIES=1 the run's history joins the replay suite (test/histories).
    if (process.env.RECORD_HISTORIES === '1')
      await saveHistory(temporalAddress(), id, join(historiesDir, 'percona-pitr-new-server.json'));
  });

  test('a new server that is not a scratch server waits for approval at restore-backup, nothing created', async () => {
    const datadir = join(acc.base, 'new-2', 'data');
    const input = clusterInput(
      { prod2: { datadir, port: await freePort(), serverId: 8 } },
      {
        restoreTo: 'prod2',
        requireApproval: true,
        approvalTimeout: '3s',
      },
    );
    const pidBefore = await sourcePid();
    const f = await runWorkflowExpectingFailure(client, TYPE, worker.taskQueue, input);
    assert.equal(f.type, 'ApprovalTimeout');
    assert.match(f.message, /Production was not touched: new-server mode/);
    const progress = await client.workflow.getHandle(f.workflowId).query(progressQuery);
    assert.deepEqual(progress.steps.find((s) => s.name === 'pause-cluster')!.evidence, [NOT_PAUSED]);
    assert.equal(progress.steps.find((s) => s.name === 'restore-backup')!.status, 'failed');
    assert.equal(await stat(datadir).catch(() => null), null);
    assert.equal(await sourcePid(), pidBefore);
  });
});

describe('refusals, each with nothing changed', () => {
  async function refused(newServer: Record<string, unknown>, re: RegExp) {
    const pidBefore = await sourcePid();
    const f = await runWorkflowExpectingFailure(
      client,
      TYPE,
      worker.taskQueue,
      clusterInput({ n: { serverId: 9, ...newServer } }, { restoreTo: 'n' }),
    );
    // The plan step refuses (StepFailed wraps the catalogue's NewServerOccupied, final at once).
    assert.equal(f.type, 'StepFailed');
    assert.match(f.message, /^locate-binlogs: new server n: /);
    assert.match(f.message, re);
    assert.match(f.message, /Nothing was touched/);
    assert.equal(await sourcePid(), pidBefore);
  }

  test('a new datadir that is not empty', async () => {
    const datadir = join(acc.base, 'occupied', 'data');
    await mkdir(datadir, { recursive: true });
    await writeFile(join(datadir, 'precious.ibd'), 'not ours');
    await refused({ datadir, port: await freePort() }, /datadir .* is not empty .*precious\.ibd/);
    assert.deepEqual(await listDir(datadir), ['precious.ibd']);
    assert.equal(await readFile(join(datadir, 'precious.ibd'), 'utf8'), 'not ours');
    assert.deepEqual(await listDir(join(acc.base, 'occupied')), ['data']);
  });

  test('a port another process listens on', async () => {
    const port = await freePort();
    const srv: Server = createServer();
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
    try {
      const datadir = join(acc.base, 'busy-port', 'data');
      await refused({ datadir, port }, new RegExp(`port 127\\.0\\.0\\.1:${port} is in use`));
      assert.equal(await stat(join(acc.base, 'busy-port')).catch(() => null), null);
    } finally {
      srv.close();
    }
  });

  test('new-server fields in the request, not from the catalog, are refused before any step', async () => {
    const datadir = join(acc.base, 'from-request', 'data');
    const name = `t-${randomUUID().slice(0, 13)}`;
    const {
      newServers: _n,
      target,
      verify,
      ...fixed
    } = clusterInput({
      listed: { datadir: join(acc.base, 'listed', 'data'), port: await freePort(), serverId: 10 },
    });
    await writeCatalogEntry(name, {
      runbooks: { [TYPE]: { input: { ...fixed, newServers: _n } } },
      approval: { required: false },
    });
    const asked = [
      [
        { restoreTo: 'mine' },
        /restoreTo: no new server named mine in this cluster's fleet catalog entry \(it offers: in-place, listed\)/,
      ],
      [
        { restoreTo: 'mine', newServers: { mine: { datadir, port: 3307, serverId: 3 } } },
        /newServers: set by the fleet catalog on the workers, not by a request/,
      ],
      [{ restore: { datadir } }, /restore: set by the fleet catalog on the workers, not by a request/],
    ] as const;
    for (const [extra, re] of asked) {
      const id = `ns-req-${randomUUID().slice(0, 8)}`;
      const h = await client.workflow.start(TYPE, {
        taskQueue: worker.taskQueue,
        workflowId: id,
        args: [{ cluster: name, target, verify, ...extra }],
      });
      const err = await h.result().then(
        () => null,
        (e: Error) => e,
      );
      assert.ok(err, `${JSON.stringify(extra)} was not refused`);
      let cause: unknown = err;
      while (cause instanceof Error && cause.cause) cause = cause.cause;
      assert.match((cause as Error).message, re);
      const progress = await h.query(progressQuery);
      assert.ok(
        progress.steps.every((s) => s.status === 'pending'),
        `a step ran for ${JSON.stringify(extra)}`,
      );
    }
    assert.equal(await stat(join(acc.base, 'from-request')).catch(() => null), null);
    assert.equal(await stat(join(acc.base, 'listed')).catch(() => null), null);
  });
});
