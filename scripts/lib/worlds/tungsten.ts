// A Tungsten dataservice for tungstenExternalRestore's tests and demo, on two real MariaDB servers: a Primary
// and a Replica. trepctl/thl/dsctl are stand-ins (test/fixtures/bin, state in $TUNGSTEN_STANDIN_STATE);
// this file plays the Primary's replicator: its "extractor" turns the Primary's real binlog into THL
// entries (seqno N = the N-th transaction, event id = file + end offset) and, now and then, records
// its position in the Primary's own tungsten_<svc>.trep_commit_seqno — so a backup of the Primary
// carries a trep_commit_seqno that lags behind the backup's binlog position, as the procedure warns.
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanBinlog } from '../../../activities/archive/binlog-scan';
import { formatEventId } from '../../../activities/tungsten/tungsten-output';
import { SqlPools } from '../../../activities/mysql/sql';
import type { Endpoint, TableFingerprint } from '../../../workflows/schemas';
import { removeTestDir } from '../cleanup';
import { startMariadbServer, type MariadbServer } from '../mariadb-server';
import { createShop, fingerprint, runWorkload, takeBackup } from '../scenario';
import { fixturesBin } from '../stand-ins';

export interface ThlEntry {
  seqno: number;
  epoch: number;
  file: string;
  start: number;
  end: number;
  eventId: string;
  sourceId: string;
  time: number;
}

export interface StandInService {
  /** What `trepctl version` prints. */
  release: string;
  state: string;
  role: string;
  host: string;
  replica: { socket: string; user: string };
  sourceBinlogDir: string;
  /** The Replica's own THL (a range of the Primary's): -1/-1 when empty, null when purged. */
  localThl: { min: number; max: number } | null;
  /** Test faults of the stand-ins. */
  faults?: { purgeKeepsLog?: boolean };
  pendingError: string | null;
  pendingErrorSeqno: number;
  thl: ThlEntry[];
}
export interface StandInState {
  services: Record<string, StandInService>;
}

/** The release the stand-ins report by default: the procedure's major version. */
export const TUNGSTEN_RELEASE = 'Tungsten Replicator 7.0.3 build 141';

export interface CommitRow {
  seqno: number;
  epoch: number;
  sourceId: string;
  eventId: string;
}

const commitTableDdl = (svc: string) => `
  CREATE DATABASE tungsten_${svc};
  CREATE TABLE tungsten_${svc}.trep_commit_seqno (
    task_id INT NOT NULL PRIMARY KEY, seqno BIGINT, fragno SMALLINT, last_frag CHAR(1),
    source_id VARCHAR(128), epoch_number BIGINT, eventid VARCHAR(128), applied_latency INT,
    update_timestamp TIMESTAMP NULL, shard_id VARCHAR(128), extract_timestamp TIMESTAMP NULL,
    connection_id BIGINT) ENGINE=InnoDB;`;

export class TungstenWorld {
  readonly service = 'alpha';
  readonly sourceId = 'db1.example.test';
  readonly sql = new SqlPools();
  readonly stateFile: string;
  private epoch = 0;

  constructor(
    readonly base: string,
    readonly primary: MariadbServer,
    readonly replica: MariadbServer,
  ) {
    this.stateFile = join(base, 'tungsten-standin.json');
  }

  get primaryEndpoint(): Endpoint {
    return { socket: this.primary.socket, user: 'root' };
  }
  get replicaEndpoint(): Endpoint {
    return { socket: this.replica.socket, user: 'root' };
  }

  async readState(): Promise<StandInState> {
    return JSON.parse(await readFile(this.stateFile, 'utf8')) as StandInState;
  }
  async writeState(s: StandInState): Promise<void> {
    await writeFile(this.stateFile, JSON.stringify(s));
  }
  async thl(): Promise<ThlEntry[]> {
    return (await this.readState()).services[this.service]!.thl;
  }

  /** The extractor: appends the Primary's new binlog transactions to its THL (in the state file). */
  async extract(): Promise<ThlEntry[]> {
    const st = await this.readState();
    const svc = st.services[this.service]!;
    const files = (await this.primary.query<{ Log_name: string }[]>('SHOW BINARY LOGS')).map(
      (r) => r.Log_name,
    );
    const all: Omit<ThlEntry, 'seqno' | 'epoch' | 'eventId' | 'sourceId'>[] = [];
    for (const file of files)
      await scanBinlog(join(this.primary.datadir, file), (t) => {
        all.push({ file, start: t.startPos, end: t.endPos, time: t.time });
      });
    for (let seqno = svc.thl.length; seqno < all.length; seqno++) {
      const t = all[seqno]!;
      svc.thl.push({
        ...t,
        seqno,
        epoch: this.epoch,
        eventId: formatEventId({ file: t.file, offset: t.end, session: -1 }),
        sourceId: this.sourceId,
      });
    }
    await this.writeState(st);
    return svc.thl;
  }

  /** The Primary's replicator restarts: later events carry a new epoch (the seqno it restarted at). */
  async restartExtractor(): Promise<number> {
    this.epoch = (await this.thl()).length;
    return this.epoch;
  }

  /** The extractor records its position in the Primary's trep_commit_seqno (outside the binlog). */
  async commitExtractorPosition(): Promise<ThlEntry> {
    const last = (await this.thl()).at(-1)!;
    await this.primary.query(
      `SET SESSION sql_log_bin = 0;
       REPLACE INTO tungsten_${this.service}.trep_commit_seqno VALUES (0, ?, 0, '1', ?, ?, ?, 0, NOW(), '#UNKNOWN', NOW(), 0);
       SET SESSION sql_log_bin = 1;`,
      [last.seqno, last.sourceId, last.epoch, last.eventId],
    );
    return last;
  }

  async commitRow(server: MariadbServer): Promise<CommitRow[]> {
    return server.query<CommitRow[]>(
      `SELECT seqno, epoch_number AS epoch, source_id AS sourceId, eventid AS eventId
         FROM tungsten_${this.service}.trep_commit_seqno ORDER BY seqno`,
    );
  }

  async trepctl(...args: string[]): Promise<string> {
    const { stdout } = await execa(join(fixturesBin, 'trepctl'), ['-service', this.service, ...args], {
      env: { TUNGSTEN_STANDIN_STATE: this.stateFile },
    });
    return stdout;
  }

  /** Polls `trepctl status` (each poll applies a batch) until the Replica has applied `seqno`. */
  async waitApplied(seqno: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const out = await this.trepctl('status');
      const applied = Number(/^appliedLastSeqno\s*: (-?\d+)/m.exec(out)?.[1]);
      if (applied >= seqno) return;
      if (/^state\s*: OFFLINE:ERROR/m.test(out)) throw new Error(`replicator failed:\n${out}`);
      if (Date.now() > deadline) throw new Error(`replica did not reach seqno ${seqno}:\n${out}`);
    }
  }

  /** Stand-in calls since `mark` (a line count of the call log). */
  async calls(mark = 0): Promise<string[][]> {
    const text = await readFile(`${this.stateFile}.log`, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .slice(mark)
      .map((l) => JSON.parse(l) as string[]);
  }

  fingerprint(server: MariadbServer): Promise<Record<string, TableFingerprint>> {
    return fingerprint(this.sql, { socket: server.socket, user: 'root' });
  }

  /** Stops both servers; the directory stays (the demo keeps it to look at). */
  async stop(): Promise<void> {
    await this.sql.closeAll();
    await this.primary.stop().catch(() => {});
    await this.replica.stop().catch(() => {});
  }

  async cleanup(): Promise<void> {
    await this.stop();
    await removeTestDir(this.base);
  }
}

export interface TungstenScenario {
  world: TungstenWorld;
  backupDir: string;
  /** The backup's binlog position and the THL entry ending there (what step 4 must reset to). */
  backupPosition: { file: string; position: number };
  atBackup: ThlEntry;
  /** What the Primary's replicator had committed in its trep_commit_seqno before the backup. */
  committedBeforeBackup: ThlEntry;
  newest: ThlEntry;
  /** The Primary's tables: what the Replica must hold after the restore and catch-up. */
  truth: Record<string, TableFingerprint>;
}

/** The accident: rows lost on the Replica only (outside the binlog, so nothing replicates it). */
export const REPLICA_ACCIDENT = 'DELETE FROM shop.orders WHERE id % 5 = 0';

/**
 * Primary and Replica in sync through the (stand-in) replicator, a backup of the Primary whose
 * trep_commit_seqno lags its binlog position and whose seqno carries a later epoch, more work on the
 * Primary after the backup, and then an accident on the Replica (rows lost) that calls for a restore.
 * It lives in `base` (default: a new directory under the system's temp dir).
 */
export async function tungstenScenario(o: { base?: string } = {}): Promise<TungstenScenario> {
  const base = o.base ?? (await mkdtemp(join(tmpdir(), 'tungsten-')));
  await mkdir(base, { recursive: true });
  const fast = ['--innodb-flush-log-at-trx-commit=2', '--sync-binlog=0'];
  const [primary, replica] = await Promise.all([
    startMariadbServer({ baseDir: join(base, 'primary'), serverId: 1, extraArgs: fast }),
    startMariadbServer({ baseDir: join(base, 'replica'), serverId: 2, extraArgs: fast }),
  ]);
  const world = new TungstenWorld(base, primary, replica);
  try {
    const svc = world.service;
    // The replicators' catalogs are written with the binlog off: they are never replicated.
    await primary.query(`SET SESSION sql_log_bin = 0; ${commitTableDdl(svc)} SET SESSION sql_log_bin = 1;`);
    await replica.query(`SET SESSION sql_log_bin = 0; ${commitTableDdl(svc)} SET SESSION sql_log_bin = 1;`);
    const state: StandInState = {
      services: {
        [svc]: {
          release: TUNGSTEN_RELEASE,
          state: 'OFFLINE:NORMAL',
          role: 'slave',
          host: 'db2.example.test',
          replica: { socket: replica.socket, user: 'root' },
          sourceBinlogDir: primary.datadir,
          localThl: { min: -1, max: -1 },
          pendingError: null,
          pendingErrorSeqno: -1,
          thl: [],
        },
      },
    };
    await world.writeState(state);
    process.env.TUNGSTEN_STANDIN_STATE = world.stateFile;

    await createShop(primary);
    await runWorkload(primary, 1, 400);
    await world.extract();
    const committedBeforeBackup = await world.commitExtractorPosition();
    await world.restartExtractor();
    await runWorkload(primary, 2, 300);
    await world.extract(); // extracted, but not yet committed to trep_commit_seqno: the lag

    const backupDir = join(base, 'backup');
    await takeBackup(primary, backupDir);
    const info = (await readFile(join(backupDir, 'xtrabackup_binlog_info'), 'utf8')).trim().split(/\s+/);
    const backupPosition = { file: info[0]!, position: Number(info[1]) };

    await runWorkload(primary, 3, 150);
    await primary.query('FLUSH BINARY LOGS'); // the catch-up after the restore spans two files
    await runWorkload(primary, 4, 150);
    const thl = await world.extract();
    await world.commitExtractorPosition();
    const atBackup = thl.find((e) => e.file === backupPosition.file && e.end === backupPosition.position);
    if (!atBackup) throw new Error(`no THL entry ends at the backup position ${info.join(':')}`);
    const newest = thl.at(-1)!;

    // The Replica replicates everything, then loses rows (an accident only on the Replica).
    await world.trepctl('online');
    await world.waitApplied(newest.seqno);
    await replica.query(`SET SESSION sql_log_bin = 0; ${REPLICA_ACCIDENT}; SET SESSION sql_log_bin = 1;`);
    const truth = await world.fingerprint(primary);
    return { world, backupDir, backupPosition, atBackup, committedBeforeBackup, newest, truth };
  } catch (err) {
    await world.cleanup();
    throw err;
  }
}
