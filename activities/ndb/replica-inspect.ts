// The failover's read of the replica SQL node: its flavour, the channels asked for, and whether its
// skip list covers the DDL-exists errors.
import type { Dialect, Endpoint } from '../../workflows/schemas';
import { checkSecretsResolve } from '../mysql/preflight';
import { describeEndpoint, type SqlPools } from '../mysql/sql';
import { refuse } from './failover-common';
import { channelNames, channelSql, channelStatus, type ChannelStatus } from './channel-status';

/** The DDL-exists errors that `--slave-skip-errors=ddl_exist_errors` stands for. */
export const DDL_EXIST_ERRORS = [1007, 1008, 1050, 1051, 1054, 1060, 1061, 1068, 1094, 1146] as const;

/** The DDL-exists error codes a slave_skip_errors value does not cover ([] when it covers them all). */
export function missingDdlSkips(value: string): number[] {
  const v = value.trim().toLowerCase();
  if (v === 'all' || v.split(',').includes('ddl_exist_errors')) return [];
  const listed = new Set(
    v
      .split(',')
      .map((x) => x.trim())
      .filter((x) => /^\d+$/.test(x))
      .map(Number),
  );
  return DDL_EXIST_ERRORS.filter((code) => !listed.has(code));
}

export interface ReplicaNodeReport {
  server: string;
  version: string;
  channels: ChannelStatus[];
  /** All channels configured on the node (for messages). */
  configured: string[];
  /** @@slave_skip_errors / @@replica_skip_errors, and the DDL-exists errors it does not skip. */
  skipErrors: string;
  ddlSkipMissing: number[];
  evidence: string[];
}

/** Reads a replica SQL node: its flavour (must match the dialect), the channels asked for, and its skip list. */
export async function inspectReplicaNode(
  sql: SqlPools,
  req: {
    dialect: Dialect;
    endpoint: Endpoint;
    channels: string[];
    /** Input fields whose secrets this node's worker reads in later steps (CHANGE MASTER's password). */
    refsToCheck?: unknown;
  },
): Promise<ReplicaNodeReport> {
  await checkSecretsResolve(req.refsToCheck);
  const server = describeEndpoint(req.endpoint);
  let version: string;
  try {
    const [v] = await sql.query(req.endpoint, 'SELECT VERSION() AS v');
    version = String(v?.v ?? '');
  } catch (err) {
    throw refuse(
      `cannot reach the replica SQL node ${server}: ${err instanceof Error ? err.message : String(err)}`,
      'Unreachable',
    );
  }
  const flavour: Dialect = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  if (flavour !== req.dialect)
    throw refuse(
      `${server} runs ${version}, but the input says "dialect": "${req.dialect}"; set "dialect": "${flavour}"`,
      'InvalidInput',
    );
  const channels: ChannelStatus[] = [];
  for (const ch of req.channels) channels.push(await channelStatus(sql, req.endpoint, req.dialect, ch));
  const configured = await channelNames(sql, req.endpoint, req.dialect);
  const [skip] = await sql.query(req.endpoint, channelSql(req.dialect, '').skipErrors);
  const skipErrors = String(skip?.v ?? 'OFF');
  return {
    server,
    version,
    channels,
    configured,
    skipErrors,
    ddlSkipMissing: missingDdlSkips(skipErrors),
    evidence: [
      `${server}: ${version}`,
      ...channels.map((c) => c.description),
      `${req.dialect === 'mysql' ? 'replica' : 'slave'}_skip_errors=${skipErrors}`,
    ],
  };
}
