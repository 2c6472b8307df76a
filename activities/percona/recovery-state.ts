// What a recovery has changed on its restore host, read from the world itself (the ledger beside the
// datadir, the datadirs on disk, the temporary mysqld's pid file): said in every failure message and
// read by rollback before it moves anything. Reading only; nothing here changes a file.
import { readdir, stat } from 'node:fs/promises';
import {
  BEFORE_RESTORE,
  BEFORE_RUN,
  previousDatadirOf,
  ROLLED_BACK,
  type BeforeRestore,
} from '../mysql/backup';
import { Ledger } from '../runtime/ledger';
import { runtimeDir, temporaryEndpoint } from '../mysql/mysqld';
import { livePid } from '../runtime/processes';
import { join } from 'node:path';

export interface RecoveryState {
  recoveryId: string;
  datadir: string;
  /** The recovery recorded its pause of the cluster here. */
  paused: boolean;
  /** What the ledger recorded before the first change to the datadir (null: it never touched it). */
  before: BeforeRestore | null;
  /** The restore's progress: copied completely, started and cut short, or not started. */
  restore: 'complete' | 'partial' | 'none';
  datadirExists: boolean;
  /** The datadir that was there, where the restore moved it, when it is still there. */
  previousDatadir: string | null;
  temporaryServer: { pid: number; socket: string } | null;
  rolledBackAt: string | null;
  /** The restore host's facts as sentences for messages and evidence (the cluster is said elsewhere). */
  lines: string[];
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

async function nonEmpty(dir: string): Promise<boolean> {
  return (await readdir(dir).catch(() => [])).length > 0;
}

export async function recoveryState(req: { recoveryId: string; datadir: string }): Promise<RecoveryState> {
  const { recoveryId, datadir } = req;
  const ledger = Ledger.besideDatadir(datadir);
  const all = await ledger.readAll(recoveryId);
  const before = (all[BEFORE_RESTORE] as unknown as BeforeRestore | undefined) ?? null;
  const restore = all['restore-backup'] ? 'complete' : all['restore-backup-started'] ? 'partial' : 'none';
  const paused = BEFORE_RUN in all;
  const previous = before?.previousDatadir ?? previousDatadirOf(datadir, recoveryId);
  const previousDatadir = (await nonEmpty(previous)) ? previous : null;
  const pid = await livePid(join(runtimeDir({ recoveryId, datadir }), 'mysqld.pid'));
  const socket = temporaryEndpoint({
    recoveryId,
    datadir,
    binlogBasename: '',
    serverId: 1,
    dialect: 'mariadb',
    user: 'root',
  }).socket!;
  const datadirExists = await exists(datadir);
  const datadirEmpty = !(await nonEmpty(datadir));
  const lines: string[] = [];
  if (restore === 'complete') lines.push(`${datadir} holds the restored backup`);
  else if (restore === 'partial')
    lines.push(
      datadirEmpty
        ? `nothing is at ${datadir} yet (the copy of the backup had not begun)`
        : `${datadir} holds a partial copy of the backup (the copy was cut short)`,
    );
  else lines.push(`${datadir} was not touched by this recovery`);
  if (previousDatadir) lines.push(`the datadir that was there is kept at ${previousDatadir}`);
  else if (before && before.previousDatadir === null)
    lines.push(`there was no datadir at ${datadir} before this recovery`);
  lines.push(
    pid
      ? `the temporary mysqld is running on the restored datadir (pid ${pid}, socket ${socket})`
      : 'no temporary mysqld is running',
  );
  // What else of this run is on the host: named, so a failed run leaves only what its message names.
  const staging = (all[BEFORE_RUN]?.stagingDir as string | null | undefined) ?? null;
  if (staging && (await exists(staging)))
    lines.push(`this run's staging files are at ${staging} (removed when it completes or is rolled back)`);
  if (!pid && (await exists(runtimeDir({ recoveryId, datadir }))))
    lines.push(
      `the temporary mysqld's runtime directory ${runtimeDir({ recoveryId, datadir })} remains (its error log is there)`,
    );
  const rolledBackAt = (all[ROLLED_BACK]?.at as string | undefined) ?? null;
  if (rolledBackAt) lines.push(`this recovery was rolled back at ${rolledBackAt}`);
  return {
    recoveryId,
    datadir,
    paused,
    before,
    restore,
    datadirExists,
    previousDatadir,
    temporaryServer: pid ? { pid, socket } : null,
    rolledBackAt,
    lines,
  };
}
