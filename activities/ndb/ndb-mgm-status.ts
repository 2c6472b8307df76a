// What `ndb_mgm -e "<id> STATUS"` / `"ALL STATUS"` says about each data node, parsed line by line.
// Formats (storage/ndb/src/mgmclient/CommandInterpreter.cpp, executeStatus and status_string):
//   8.0:   "Node 2: started (mysql-8.0.40 ndb-8.0.40)", "Node 2: not started (…)",
//          "Node 2: starting (Phase 3) (…)", "Node 2: shutting down (Phase 1) (…)", "Node 2: restarting (…)",
//          "Node 2: single user mode (…)", "Node 2: not connected" (NO_CONTACT, no version)
//   older: "Node 2: Started (Version …)", "Node 2: Not started", "Node 2: No contact", "Node 2: Starting (Start phase 3)"
// "not started" contains "started": a state is the whole phrase after "Node N: ", never a substring.
import { runCommand } from '../runtime/command';
import { mgm, type Cluster } from './ndb-pitr-common';

export type NodeState =
  | 'started'
  | 'not started'
  | 'starting'
  | 'no contact'
  | 'shutting down'
  | 'restarting'
  | 'single user mode'
  | 'unknown';

const PHRASES: [RegExp, NodeState][] = [
  [/^(not connected|no contact)$/, 'no contact'],
  [/^not started$/, 'not started'],
  [/^started$/, 'started'],
  [/^starting$/, 'starting'],
  [/^shutting down( node| system)?$/, 'shutting down'],
  [/^restarting$/, 'restarting'],
  [/^single user mode$/, 'single user mode'],
];

export interface NodeStatus {
  id: number;
  state: NodeState;
  /** The line as ndb_mgm printed it (for evidence and messages). */
  line: string;
}

/** Every "Node N: <state>…" line of ndb_mgm's output; a state it does not know is `unknown`. */
export function parseNodeStatuses(stdout: string): NodeStatus[] {
  const out: NodeStatus[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    const m = /^Node (\d+): ([A-Za-z ]+?)\s*(\(.*)?$/.exec(line);
    if (!m) continue;
    const phrase = m[2]!.toLowerCase();
    const state = PHRASES.find(([re]) => re.test(phrase))?.[1] ?? 'unknown';
    out.push({ id: Number(m[1]), state, line });
  }
  return out;
}

/** The state of each of `ids`, from one `ALL STATUS`; a node ndb_mgm does not list is refused. */
export async function dataNodeStates(cluster: Cluster, ids: number[]): Promise<NodeStatus[]> {
  const { stdout } = await runCommand(mgm(cluster, 'ALL STATUS'));
  const listed = parseNodeStatuses(stdout);
  return ids.map(
    (id) =>
      listed.find((s) => s.id === id) ?? {
        id,
        state: 'unknown' as const,
        line: `Node ${id}: not listed by ndb_mgm ALL STATUS`,
      },
  );
}

/** The state of one node (`<id> STATUS`). */
export async function dataNodeState(cluster: Cluster, id: number): Promise<NodeStatus> {
  const { stdout } = await runCommand(mgm(cluster, `${id} STATUS`));
  return (
    parseNodeStatuses(stdout).find((s) => s.id === id) ?? {
      id,
      state: 'unknown',
      line: stdout.trim().split('\n').at(-1) ?? '',
    }
  );
}
