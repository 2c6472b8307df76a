// The recovery tablet of vitessSnapshotRestore (issue 19, items 8–10), on a real MariaDB server with
// the vttablet stand-in, which behaves as the real v7–v12 vttablet does: a server that never exits on
// its own, registers in the topology, answers /debug/health, reads passwords only from its flags or
// its -db-credentials-file. No Temporal: the activity is called as a worker would call it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { SqlPools } from '../../activities/mysql/sql';
import { startVitessTablet, type StartTabletRequest } from '../../activities/vitess/tablet-process';
import { isAlive } from '../../activities/runtime/processes';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { startMariadbServer, type MariadbServer } from '../../scripts/lib/mariadb-server';
import { useStandIns } from '../support/percona-scenario';

useStandIns();

const TABLET_PW = `tablet-pw-${process.pid}-q7`;
let base: string;
let server: MariadbServer;
let sql: SqlPools;
let uid = 700;

const argvOf = async (pid: number) => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
/** Live processes whose argv runs vttablet for this alias. */
async function tabletsOf(alias: string): Promise<number[]> {
  const found: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const argv = await argvOf(Number(e)).catch(() => [] as string[]);
    if (argv.some((a) => a.endsWith('/vttablet') || a === 'vttablet') && argv.includes(alias))
      found.push(Number(e));
  }
  return found;
}
const gtid = async () =>
  String((await sql.query({ socket: server.socket, user: 'root' }, 'SELECT @@gtid_binlog_pos AS g'))[0]?.g);

function request(over: Partial<StartTabletRequest> = {}): StartTabletRequest {
  return {
    vtctldServer: 'localhost:15999',
    alias: `zone1-${String(uid++).padStart(10, '0')}`,
    keyspace: 'snap1',
    shard: '0',
    dbName: 'shop',
    topo: { implementation: 'etcd2', globalServerAddress: 'localhost:2379', globalRoot: '/vitess/global' },
    datadir: join(base, 'vt', 'snap1', '0', 'data'),
    endpoint: { socket: server.socket, user: 'root' },
    dialect: 'mariadb',
    expectGtid: '',
    ...over,
  };
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'vitess-tablet-'));
  process.env.RUNBOOK_STATE_DIR = await mkdtemp(join(tmpdir(), 'vitess-tablet-state-'));
  process.env.VITESS_STANDIN_STATE = join(base, 'topo.json');
  process.env.VITESS_TABLET_PW = TABLET_PW;
  process.env.VITESS_TABLET_WRONG_PW = 'not-the-password';
  const allowed = new Set((process.env.RUNBOOK_CHILD_ENV ?? '').split(',').filter(Boolean));
  allowed.add('VITESS_STANDIN_STATE');
  process.env.RUNBOOK_CHILD_ENV = [...allowed].join(',');
  server = await startMariadbServer({ baseDir: join(base, 'mysqld'), serverId: 7 });
  await server.query(
    "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); INSERT INTO shop.t VALUES (1); CREATE USER 'vt_tab'@'localhost' IDENTIFIED BY ?; GRANT ALL ON *.* TO 'vt_tab'@'localhost'",
    [TABLET_PW],
  );
  sql = new SqlPools();
});

after(async () => {
  await sql?.closeAll();
  await server?.stop().catch(() => {});
  if (base) await removeTestDir(base); // also the vttablets (their working directory is under it)
  if (process.env.RUNBOOK_STATE_DIR) await removeTestDir(process.env.RUNBOOK_STATE_DIR);
});

describe('vttablet is a long-running server, supervised (item 8)', () => {
  test('started detached: it keeps serving after the step, its pid is in the state dir, a retry starts no second one', async () => {
    const req = request({ expectGtid: await gtid() });
    const first = await startVitessTablet(sql, req);
    assert.equal(first.skipped, false);
    const { pid, port, log } = first.tablet;
    assert.ok(isAlive(pid), 'vttablet is still running after the step returned');
    const stateDir = join(process.env.RUNBOOK_STATE_DIR!, 'vttablet', req.alias);
    assert.equal((await readFile(join(stateDir, 'vttablet.pid'), 'utf8')).trim(), String(pid));
    assert.equal(log, join(stateDir, 'vttablet.log'));
    assert.match(await readFile(log, 'utf8'), /registered in snap1\/0 as REPLICA/);
    const health = await fetch(`http://127.0.0.1:${port}/debug/health`);
    assert.equal(await health.text(), 'ok');
    const record = JSON.parse(
      (await execa('vtctlclient', ['-server', 'localhost:15999', 'GetTablet', req.alias])).stdout,
    );
    assert.deepEqual([record.keyspace, record.shard, record.type], ['snap1', '0', 'REPLICA']);

    const again = await startVitessTablet(sql, req);
    assert.equal(again.skipped, true);
    assert.equal(again.tablet.pid, pid);
    assert.match(again.evidence!.join('\n'), /already running \(pid \d+\): not started again/);
    // A worker that died before writing the pid file: the retry still finds the running one.
    await writeFile(join(stateDir, 'vttablet.pid'), '');
    assert.equal((await startVitessTablet(sql, req)).tablet.pid, pid);
    assert.deepEqual(await tabletsOf(req.alias), [pid]);
  });

  test('a vttablet that exits at once (no topology server) fails the step, non-retryable, with its log', async () => {
    const req = request({
      topo: { implementation: 'nosuch' as 'etcd2', globalServerAddress: 'x:1', globalRoot: '/v' },
    });
    await assert.rejects(
      startVitessTablet(sql, req),
      (err: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(err.type, 'TabletNotServing');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /exited .*Failed to open topo server/s);
        assert.match(err.message, /restored mysqld .* keeps running/);
        return true;
      },
    );
  });
});

describe('the runbook owns the restore; the tablet is verified (item 9)', () => {
  test('a tablet whose mysqld is not at the proven GTID state fails the step, non-retryable, and is left running', async () => {
    const before = await gtid();
    const req = request({ expectGtid: '0-7-999999' });
    await assert.rejects(
      startVitessTablet(sql, req),
      (err: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(err.type, 'TabletNotAtTarget');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, new RegExp(`mysqld is at GTID state ${before}, not the proven 0-7-999999`));
        assert.match(err.message, /is running \(pid \d+.*left running for inspection/);
        return true;
      },
    );
    const [pid] = await tabletsOf(req.alias);
    assert.ok(pid && isAlive(pid), 'left running');
    assert.equal(await gtid(), before, 'the mysqld was not changed');
  });

  test('the stand-in, like vttablet -restore_from_backup over a mysqld holding data, restores nothing and says so', async () => {
    const alias = `zone1-${String(uid++).padStart(10, '0')}`;
    const before = await gtid();
    const child = execa(
      'vttablet',
      [
        '-topo_implementation',
        'etcd2',
        '-topo_global_server_address',
        'x:2379',
        '-topo_global_root',
        '/v',
        '-tablet-path',
        alias,
        '-init_keyspace',
        'snap_legacy',
        '-init_shard',
        '0',
        '-init_tablet_type',
        'replica',
        '-port',
        '0',
        '-db_socket',
        server.socket,
        '-db_dba_user',
        'root',
        '-restore_from_backup',
      ],
      { reject: false, all: true },
    );
    let out = '';
    child.all!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 100 && !/Assuming vttablet was just restarted/.test(out); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(
      out,
      /Attempting to restore, but mysqld already contains data\. Assuming vttablet was just restarted\./,
    );
    assert.equal(child.exitCode, null, 'still serving');
    child.kill('SIGTERM');
    await child;
    assert.equal(await gtid(), before);
  });
});

describe('no secret on argv; a wrong password fails (item 10)', () => {
  test("the tablet user's password reaches vttablet through -db-credentials-file (0600), never its argv or environment", async () => {
    const req = request({
      expectGtid: await gtid(),
      endpoint: { socket: server.socket, user: 'vt_tab', password: { env: 'VITESS_TABLET_PW' } },
    });
    const r = await startVitessTablet(sql, req);
    const argv = await argvOf(r.tablet.pid);
    const environ = await readFile(`/proc/${r.tablet.pid}/environ`, 'utf8');
    assert.doesNotMatch(`${argv.join(' ')}\n${environ}`, new RegExp(TABLET_PW));
    assert.doesNotMatch(argv.join(' '), /password|-binlog_|restore_from_backup/);
    assert.doesNotMatch(environ, /VT_BINLOG_PASSWORD|VITESS_TABLET_PW/);
    const file = argv[argv.indexOf('-db-credentials-file') + 1]!;
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.doesNotMatch(
      `${r.evidence!.join('\n')}${await readFile(r.tablet.log, 'utf8')}`,
      new RegExp(TABLET_PW),
    );
    const calls = await readFile(`${process.env.VITESS_STANDIN_STATE}.log`, 'utf8');
    assert.doesNotMatch(calls, /"secretFlagsOnArgv":\["[^\]]/);
  });

  test('a wrong tablet password fails the step at once (Access denied), non-retryable: no tablet reported serving', async () => {
    const req = request({
      expectGtid: await gtid(),
      endpoint: { socket: server.socket, user: 'vt_tab', password: { env: 'VITESS_TABLET_WRONG_PW' } },
    });
    const started = Date.now();
    await assert.rejects(
      startVitessTablet(sql, req),
      (err: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(err.type, 'TabletNotServing');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /not ok: Access denied/);
        assert.doesNotMatch(err.message, /not-the-password/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 60_000, 'did not wait for the readiness timeout');
  });
});
