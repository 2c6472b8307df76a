// The applier replay: the restored server replicates from a throwaway source server that serves the
// verified archived files, and its SQL thread (optimistic parallel when asked) applies them up to the
// stop GTID (`START SLAVE UNTIL master_gtid_pos`, inclusive). Resume is exactly-once: every attempt
// starts from the restored server's own GTID state. The replication password is random per attempt,
// lives only in this activity, and is never in argv, histories or logs.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Endpoint } from '../../workflows/schemas';
import { parseMariadbGtidList } from '../../workflows/gtid';
import { withHeartbeat } from '../runtime/command';
import { Ledger } from '../runtime/ledger';
import { ensureStaging } from '../runtime/state-dir';
import { redact } from '../trust/secrets';
import { replaySourceAlive, removeReplaySource, startReplaySource, type ReplaySource } from './replay-source';
import { gtidState, stoppedAt, type ReplayProgress, type ReplayRequest } from './replay-common';
import type { SqlPools, Row } from '../mysql/sql';
import { failure } from '../../workflows/failures';
import { pause } from '../runtime/poll';
import { replicaFilterValue } from './replay-filter';

const REPL_USER = 'runbook_replay';
/** What the restored server had before the applier changed it, recorded once per run. */
const LEDGER_STEP = 'replay-applier';

interface Originals {
  gtidSlavePos: string;
  parallelThreads: number;
  parallelMode: string;
}

async function replicaStatus(sql: SqlPools, e: Endpoint): Promise<Row | undefined> {
  const [row] = await sql.query(e, 'SHOW SLAVE STATUS');
  return row;
}

function ledgerOf(req: ReplayRequest): Ledger {
  if (!req.server)
    throw failure(
      'BadReplayRequest',
      'the applier replay needs the temporary server this runbook started (its datadir and server id)',
    );
  return Ledger.besideDatadir(req.server.datadir);
}

/**
 * Which attempt owns the applier now. An attempt whose heartbeat timed out (e.g. while the Temporal
 * server was down) may still run next to its retry in the same worker: the newest attempt claims the
 * applier, and an older one then neither stops replication nor cleans up what the new one set up.
 */
export class ApplierOwner {
  private readonly token = randomUUID();
  private constructor(private readonly file: string) {}

  static async claim(req: ReplayRequest): Promise<ApplierOwner> {
    await ensureStaging(req.stagingDir);
    const owner = new ApplierOwner(join(req.stagingDir, `applier-owner-${req.recoveryId}`));
    await writeFile(`${owner.file}.tmp`, owner.token);
    await rename(`${owner.file}.tmp`, owner.file);
    return owner;
  }

  async current(): Promise<boolean> {
    return (await readFile(this.file, 'utf8').catch(() => '')) === this.token;
  }
}

/**
 * Replication a dead attempt left running goes on applying without a worker: stop it, so the GTID
 * state read next is settled. Returns whether there was one.
 */
export async function stopLeftoverApplier(sql: SqlPools, req: ReplayRequest): Promise<boolean> {
  if (!(await replicaStatus(sql, req.endpoint))) return false;
  await sql.query(req.endpoint, 'STOP SLAVE');
  return true;
}

/** Server ids for the apply: unlike every server id in the replayed GTIDs (a replica skips its own). */
function applyServerIds(...states: string[]): { replica: number; source: number } {
  const used = new Set<number>();
  for (const s of states) for (const g of parseMariadbGtidList(s).values()) used.add(Number(g.server));
  const free = [4_294_967_001, 4_294_967_002, 4_294_967_003, 4_294_967_004].filter((id) => !used.has(id));
  return { replica: free[0]!, source: free[1]! };
}

async function recordOriginals(sql: SqlPools, req: ReplayRequest): Promise<Originals> {
  const ledger = ledgerOf(req);
  const seen = await ledger.read(req.recoveryId, LEDGER_STEP);
  if (seen) return seen as unknown as Originals;
  const [row] = await sql.query(
    req.endpoint,
    'SELECT @@GLOBAL.gtid_slave_pos AS pos, @@GLOBAL.slave_parallel_threads AS threads, @@GLOBAL.slave_parallel_mode AS mode',
  );
  const o: Originals = {
    gtidSlavePos: String(row?.pos ?? ''),
    parallelThreads: Number(row?.threads ?? 0),
    parallelMode: String(row?.mode ?? 'optimistic'),
  };
  await ledger.write(req.recoveryId, LEDGER_STEP, { ...o });
  return o;
}

async function createReplicationUser(sql: SqlPools, src: ReplaySource, password: string): Promise<void> {
  const conn = await (await sql.get(src.endpoint)).getConnection();
  try {
    // Not binlogged: the source must serve the archived transactions and nothing else.
    await conn.query('SET SESSION sql_log_bin = 0');
    await conn.query(`CREATE OR REPLACE USER '${REPL_USER}'@'127.0.0.1' IDENTIFIED BY ?`, [password]);
    await conn.query(`GRANT REPLICATION SLAVE ON *.* TO '${REPL_USER}'@'127.0.0.1'`);
  } finally {
    conn.release();
  }
}

/** Notices a replica that applied everything served and waits for more that will never come. */
class StallWatch {
  private last = '';
  private since = Date.now();

  /** True when nothing has moved for `ms` although both threads say they are waiting for more. */
  stalled(st: Row, state: string, ms: number): boolean {
    const idle =
      /read all relay log/i.test(String(st.Slave_SQL_Running_State ?? '')) &&
      (st.Slave_IO_Running !== 'Yes' ||
        /Waiting for master to send event/i.test(String(st.Slave_IO_State ?? '')));
    const mark = `${state}|${st.Read_Master_Log_Pos}|${st.Master_Log_File}|${st.Exec_Master_Log_Pos}`;
    if (!idle || mark !== this.last) {
      this.last = mark;
      this.since = Date.now();
      return false;
    }
    return Date.now() - this.since > ms;
  }
}

/**
 * Applies the window from `stateBefore` through the plan's stop GTID with the replica SQL thread.
 * The caller has stopped leftovers, fenced sessions, verified the files and checks the end state.
 */
export async function applyWithApplier(
  sql: SqlPools,
  req: ReplayRequest,
  files: string[],
  stateBefore: string,
  progress: ReplayProgress,
  owner: ApplierOwner,
): Promise<string[]> {
  const stopGtid = req.plan.stopGtid!;
  const threads = req.replay?.parallelThreads ?? 1;
  const e = req.endpoint;
  const ids = applyServerIds(stateBefore, stopGtid);
  const prepareReplica = async () => {
    await recordOriginals(sql, req);
    await sql.query(e, 'RESET SLAVE ALL');
    // The source's events carry the cluster's server id, which the restored server shares: a replica
    // skips its own server id, so it applies under another one for now (events keep their own ids).
    await sql.query(e, 'SET GLOBAL server_id = ?', [ids.replica]);
    await sql.query(e, 'SET GLOBAL slave_parallel_threads = ?', [threads > 1 ? threads : 0]);
    await sql.query(e, "SET GLOBAL slave_parallel_mode = 'optimistic'");
    // Only the chosen tables, when asked (the replica thread is stopped, so the filter may change).
    await sql.query(e, 'SET GLOBAL replicate_wild_do_table = ?', [
      req.only ? replicaFilterValue(req.only) : '',
    ]);
    // Resume exactly after what the server has committed (its binlog state, the pipe's resume point).
    await sql.query(e, 'SET GLOBAL gtid_slave_pos = ?', [stateBefore]);
  };
  const [src] = await Promise.all([
    startReplaySource(sql, {
      stagingDir: req.stagingDir,
      recoveryId: req.recoveryId,
      files,
      serverId: ids.source,
    }),
    prepareReplica(),
  ]);
  const password = randomBytes(24).toString('base64url');
  // A server error may quote the statement, and so the password: never let it out.
  const withoutPassword = (err: unknown) => {
    throw failure('Transient', redact(err instanceof Error ? err.message : String(err), [password]));
  };
  await createReplicationUser(sql, src, password).catch(withoutPassword);
  await sql
    .query(
      e,
      `CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ?, MASTER_USER = '${REPL_USER}', MASTER_PASSWORD = ?,
       MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1`,
      [src.port, password],
    )
    .catch(withoutPassword);
  await sql.query(e, 'START SLAVE UNTIL master_gtid_pos = ?', [stopGtid]);

  const watch = new StallWatch();
  await withHeartbeat({ progress: () => progress.details() }, async (signal) => {
    for (;;) {
      if (!(await owner.current()))
        throw failure('Superseded', 'a newer attempt took over the applier replay');
      if (signal?.aborted) {
        await sql.query(e, 'STOP SLAVE').catch(() => {});
        throw failure(
          'Cancelled',
          'the applier replay was cancelled; replication on the restored server is stopped',
        );
      }
      const st = await replicaStatus(sql, e);
      if (!st) throw failure('Transient', 'replication was reset by someone else during the applier replay');
      const state = await gtidState(sql, e, req.dialect);
      if (st.Slave_SQL_Running !== 'Yes') {
        if (Number(st.Last_SQL_Errno))
          throw await stoppedAt(
            sql,
            req,
            files,
            `the replica SQL thread stopped on error ${st.Last_SQL_Errno}: ${String(st.Last_SQL_Error)}`,
          );
        return; // stopped at the UNTIL position; the caller checks the state
      }
      if (st.Slave_IO_Running === 'No' && Number(st.Last_IO_Errno)) {
        if (!(await replaySourceAlive(req.stagingDir, req.recoveryId)))
          throw failure('Transient', 'the replay source server died during the applier replay');
      }
      if (watch.stalled(st, state, 5_000))
        throw failure(
          'TargetNotReached',
          `the archived files end before ${stopGtid}: the applier applied everything served and stopped at GTID state ${state}` +
            (Number(st.Last_IO_Errno) ? ` (source: ${String(st.Last_IO_Error)})` : ''),
        );
      // Returns the moment the stop GTID is applied (the SQL thread then stops itself), else after 0.5 s.
      const [w] = await sql.query(e, 'SELECT MASTER_GTID_WAIT(?, 0.5) AS r', [stopGtid]);
      if (Number(w?.r) === 0) await pause(10);
    }
  });
  return [
    `applier: replica SQL thread, ${threads > 1 ? `${threads} optimistic parallel threads` : 'one thread'}`,
    ...(src.replaced
      ? [`replaced the replay source server pid ${src.replaced} an earlier attempt left`]
      : []),
  ];
}

/**
 * Leaves the restored server exactly as a pipe replay would: no replication configured, its own
 * server id, parallel settings and gtid_slave_pos back; the source server stopped and removed.
 */
export async function cleanupApplier(sql: SqlPools, req: ReplayRequest): Promise<string[]> {
  const e = req.endpoint;
  const o = (await ledgerOf(req).read(req.recoveryId, LEDGER_STEP)) as unknown as Originals | undefined;
  const evidence: string[] = [];
  const resetReplica = async () => {
    if (await replicaStatus(sql, e)) {
      await sql.query(e, 'STOP SLAVE');
      await sql.query(e, 'RESET SLAVE ALL');
      evidence.push('replication reset on the restored server');
    }
    if (o) {
      const [now] = await sql.query(
        e,
        'SELECT @@GLOBAL.gtid_slave_pos AS slave, @@GLOBAL.gtid_binlog_pos AS bin',
      );
      if (String(now?.slave ?? '') !== o.gtidSlavePos) {
        // MariaDB refuses a gtid_slave_pos without a domain this server id has binlogged (after a
        // restart the server is back on its own id): set it under an id the binlog does not hold.
        await sql.query(e, 'SET GLOBAL server_id = ?', [applyServerIds(String(now?.bin ?? '')).replica]);
        await sql.query(e, 'SET GLOBAL gtid_slave_pos = ?', [o.gtidSlavePos]);
      }
      await sql.query(e, 'SET GLOBAL slave_parallel_threads = ?', [o.parallelThreads]);
      // The temporary server starts with no filter (--no-defaults): none is left behind.
      await sql.query(e, "SET GLOBAL replicate_wild_do_table = ''");
      await sql.query(e, 'SET GLOBAL slave_parallel_mode = ?', [o.parallelMode]);
    }
    if (req.server) await sql.query(e, 'SET GLOBAL server_id = ?', [req.server.serverId]);
  };
  const [, pid] = await Promise.all([
    resetReplica(),
    removeReplaySource(sql, req.stagingDir, req.recoveryId),
  ]);
  if (pid) evidence.push(`replay source server pid ${pid} stopped and removed`);
  return evidence;
}
