// Shared by the NDB PITR activities: the cluster's types, the refusal they throw, and the ndb_mgm
// command line.
import type { NdbDataNode, NdbPitrInput } from '../../workflows/schemas-ndb-pitr';
import type { z } from 'zod';
import { failure, type FailureType } from '../../workflows/failures';

export type Cluster = NdbPitrInput['cluster'];
export type DataNode = z.output<typeof NdbDataNode>;

export const refuse = (message: string, type: FailureType = 'PlanRefused') => failure(type, message);

export function mgm(cluster: Cluster, command: string): string[] {
  return ['ndb_mgm', `--ndb-connectstring=${cluster.connectstring}`, '--execute', command];
}

/** Checkpoint names of clearing round `round` (1: step 5; later: after an interrupted ndb_restore). */
export const roundKey = (name: string, round = 1) => (round === 1 ? name : `${name}:round-${round}`);
