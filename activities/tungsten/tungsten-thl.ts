// The Replica's own THL as `thl info` reports it, for step 2 (purge-thl): the only source that says
// what the log holds while the replicator is offline. `trepctl status` cannot: its minimumStoredSeqNo /
// maximumStoredSeqNo come from the running pipeline and are -1 whenever the replicator is OFFLINE
// (TungstenPlugin.status() in the open-source replicator), so they would call every THL empty.
import { CommandError, runCommand } from '../runtime/command';
import { failure } from '../../workflows/failures';
import { checkService, parseThlInfo } from './tungsten-output';
import { commandMessage, tool, type TungstenService } from './tungsten-plan';

export interface ReplicaThl {
  /** No events: an initialized log that says -1 / -1, or no log file at all (a full purge). */
  empty: boolean;
  minSeqno: number;
  maxSeqno: number;
  /** What thl said, for the step's evidence. */
  said: string;
}

/** A full purge deletes every log file; thl then cannot open the log (DiskLog.prepare, read-only). */
const NO_LOG_FILE = /Attempting to read a non-existent log/;

/** `thl -service <svc> info` on this host. Anything but a known answer is refused: emptiness is proven or not claimed. */
export async function replicaThl(t: TungstenService): Promise<ReplicaThl> {
  const svc = checkService(t.service);
  let stdout: string;
  try {
    ({ stdout } = await runCommand([tool(t, 'thl'), '-service', svc, 'info']));
  } catch (err) {
    if (err instanceof CommandError && NO_LOG_FILE.test(err.message))
      return { empty: true, minSeqno: -1, maxSeqno: -1, said: 'thl info: no log file (non-existent log)' };
    throw err;
  }
  let info: ReturnType<typeof parseThlInfo>;
  try {
    info = parseThlInfo(stdout);
  } catch (err) {
    throw failure(
      'BadToolOutput',
      `refusing the answer of \`thl -service ${svc} info\`: ${commandMessage(err)}`,
    );
  }
  const empty = info.minSeqno === -1 && info.maxSeqno === -1;
  if (!empty && (info.minSeqno < 0 || info.maxSeqno < info.minSeqno))
    throw failure(
      'BadToolOutput',
      `refusing the answer of \`thl -service ${svc} info\`: min seq# ${info.minSeqno}, max seq# ${info.maxSeqno}`,
    );
  return {
    empty,
    minSeqno: info.minSeqno,
    maxSeqno: info.maxSeqno,
    said: `thl info: min seq# ${info.minSeqno}, max seq# ${info.maxSeqno}`,
  };
}
