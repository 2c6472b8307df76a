// Input of vitessSnapshotRestore: one definition of a valid Vitess point-in-time recovery request,
// checked before anything is touched. Reuses the shared pieces (paths, secrets, archives, durations),
// plus the few names and paths both the workflow and the activities derive from it (pure code).
import { z } from 'zod';
import {
  AbsolutePath,
  Archive,
  Duration,
  EndpointTls,
  isLoopbackHost,
  RunbookCommon,
  SecretRef,
  Slug,
} from './schemas';

/** Vitess keyspace names: letters, digits, `_` and `-` (they become topology paths and directory names). */
export const KeyspaceName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/,
    'a keyspace name has letters, digits, "_" or "-" (at most 63, starting with a letter or digit)',
  );

/** A shard: a key range (`-80`, `80-`, `40-80`, `-` for all) or a plain name such as `0`. */
export const ShardName = z
  .string()
  .regex(
    /^(?:[0-9a-f]{0,32}-[0-9a-f]{0,32}|[A-Za-z0-9_]{1,32})$/,
    'a shard is a key range like "-80", "80-", "40-80" (lower-case hex) or a name like "0"',
  );

const SNAPSHOT_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;
const snapshotTimeHint =
  'must be an RFC 3339 UTC time to the second, e.g. 2020-07-17T18:25:20Z (Vitess snapshot times are UTC; binlog times are whole seconds)';

/** True for `YYYY-MM-DDTHH:MM:SSZ` naming a real instant (no offset, no fraction, no 30 February). */
export function isRfc3339UtcSecond(text: string): boolean {
  if (!SNAPSHOT_TIME.test(text)) return false;
  const t = Date.parse(text);
  return Number.isFinite(t) && new Date(t).toISOString() === text.replace(/Z$/, '.000Z');
}

export const SnapshotTime = z.string().max(40).refine(isRfc3339UtcSecond, snapshotTimeHint);

/** `host:port` of vtctld's gRPC endpoint (vtctlclient -server). */
export const HostPort = z
  .string()
  .max(260)
  .regex(
    /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):\d{1,5}$/,
    'must be host:port, e.g. vtctld.example:15999',
  );

/** A database name (the tablets' -init_db_name_override). */
const DbName = z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'a database name has letters, digits or "_"');

const CellName = z.string().regex(/^[A-Za-z0-9_]{1,63}$/, 'a cell name has letters, digits or "_"');

/** The binlog server of a shard (vttablet's -binlog_host/-binlog_port/-binlog_user/-binlog_password). */
export const BinlogSource = z
  .object({
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535),
    user: z.string().min(1).max(80),
    password: SecretRef.optional(),
    /**
     * Where the binlog server's files are kept durably (fs or S3). When given, the runbook reads the
     * binlogs there; otherwise it streams them from the server itself.
     */
    archive: Archive.optional(),
    /**
     * TLS to the binlog server, for the runbook's own client and vttablet alike. vttablet verifies the
     * server only against a CA file it is given (-binlog_ssl_ca), so `verify` (the default) needs `ca`;
     * `disabled` is allowed on a loopback address only.
     */
    tls: EndpointTls.optional(),
  })
  .strict()
  .refine((s) => s.tls?.mode !== 'disabled' || isLoopbackHost(s.host), {
    message:
      'TLS can be disabled only for a binlog server on a loopback address: a password would cross the network in clear',
    path: ['tls', 'mode'],
  });
export type BinlogSource = z.infer<typeof BinlogSource>;

/**
 * Binlog sources that vttablet would reach in clear: verified TLS (the default) needs a CA file, since
 * vttablet uses TLS only with -binlog_ssl_ca. Checked where inputs enter (the fleet catalog) and again
 * by the activities that connect; not by the schema, so runs recorded before it still replay.
 */
export function binlogTlsIssues(input: unknown): string[] {
  const shards = (input as { shards?: unknown } | null)?.shards;
  if (!Array.isArray(shards)) return [];
  return shards.flatMap((s: { binlogSource?: { tls?: { mode?: string; ca?: string } } } | null, i) => {
    const issue = s?.binlogSource ? binlogSourceTlsIssue(s.binlogSource) : null;
    return issue ? [`shards.${i}.binlogSource.tls: ${issue}`] : [];
  });
}

/** The problem of one binlog source vttablet would reach in clear, or null. */
export function binlogSourceTlsIssue(source: { tls?: { mode?: string; ca?: string } }): string | null {
  if (source.tls?.mode === 'disabled' || source.tls?.ca) return null;
  return 'TLS to the binlog server is verified against a CA file (vttablet needs -binlog_ssl_ca): give tls.ca, or tls.mode "disabled" for a loopback address';
}

/**
 * The topology server vttablet registers in (-topo_implementation, -topo_global_server_address,
 * -topo_global_root): without them a real vttablet exits at once (go/vt/topo/server.go Open).
 * Optional in the schema so runs recorded before it still replay; the fleet catalog requires it.
 */
export const VitessTopo = z
  .object({
    implementation: z.enum(['etcd2', 'zk2', 'consul', 'k8s']),
    globalServerAddress: z
      .string()
      .min(1)
      .max(1000)
      .regex(/^[^\s]+$/, 'server addresses have no spaces (comma-separated host:port list)'),
    globalRoot: z
      .string()
      .regex(/^\/[A-Za-z0-9_./-]{0,200}$/, 'an absolute topology path, e.g. /vitess/global'),
  })
  .strict();
export type VitessTopo = z.infer<typeof VitessTopo>;

/** A catalog entry whose vttablet would have no topology server to register in. */
export function vitessTopoIssues(input: unknown): string[] {
  const v = (input as { vtctld?: { topo?: unknown } } | null)?.vtctld;
  return v && !v.topo
    ? [
        'vtctld.topo: the topology server vttablet registers in (implementation, globalServerAddress, globalRoot) is missing: without it vttablet exits at once',
      ]
    : [];
}

export const VitessShard = z
  .object({
    name: ShardName,
    /** The host agent whose queue restores this shard (its files and mysqld live there). */
    host: Slug.optional(),
    /** Tablet uid of the recovery tablet (alias `<cell>-<uid>`); also its mysqld's server id. */
    tabletUid: z.number().int().min(1).max(4294967295),
    binlogSource: BinlogSource,
  })
  .strict();
export type VitessShard = z.infer<typeof VitessShard>;

export const VitessSnapshotRestoreInput = z
  .object({
    ...RunbookCommon,
    vtctld: z
      .object({
        server: HostPort,
        /** The host agent that runs vtctlclient (and keeps the keyspace checkpoint); default the controller. */
        host: Slug.optional(),
        topo: VitessTopo.optional(),
      })
      .strict(),
    baseKeyspace: KeyspaceName,
    snapshotKeyspace: KeyspaceName,
    /** The time to recover to: transactions that started before it are applied (exclusive). */
    snapshotTime: SnapshotTime,
    backup: z
      .object({
        implementation: z
          .literal('file', { error: 'only "file" backup storage is supported' })
          .default('file'),
        /** -file_backup_storage_root: backups are `<root>/<keyspace>/<shard>/<name>/` with a MANIFEST. */
        fileBackupStorageRoot: AbsolutePath,
        /** The host agent that reads the backup storage to choose backups; default the first shard's host. */
        host: Slug.optional(),
      })
      .strict(),
    /** -pitr_gtid_lookup_timeout: how long finding the snapshot GTID in a shard's binlog source may take. */
    pitrGtidLookupTimeout: Duration.default('1m'),
    tablets: z
      .object({
        /** Restored shards live in `<root>/<snapshotKeyspace>/<shard>/` on their host. */
        root: AbsolutePath,
        cell: CellName.default('zone1'),
        /** How the runbook connects to the restored mysqld (socket). */
        user: z.string().min(1).max(80).default('root'),
        password: SecretRef.optional(),
      })
      .strict(),
    /** The database of the keyspace inside mysqld (-init_db_name_override); default `vt_<baseKeyspace>`. */
    dbName: DbName.optional(),
    shards: z.array(VitessShard).min(1).max(256),
    /** A vschema for the snapshot keyspace instead of the base keyspace's; require_explicit_routing is set. */
    vschema: z
      .record(z.string(), z.unknown())
      .refine((v) => JSON.stringify(v).length <= 1_000_000, 'the vschema is larger than 1 MB')
      .optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.snapshotKeyspace === v.baseKeyspace)
      ctx.addIssue({
        code: 'custom',
        path: ['snapshotKeyspace'],
        message: 'the snapshot keyspace must be a new keyspace, not the base keyspace',
      });
    // Inside a workflow Date.now() is the deterministic workflow clock.
    if (isRfc3339UtcSecond(v.snapshotTime) && Date.parse(v.snapshotTime) > Date.now())
      ctx.addIssue({
        code: 'custom',
        path: ['snapshotTime'],
        message: `${v.snapshotTime} is in the future`,
      });
    const seen = new Set<string>();
    const uids = new Set<number>();
    v.shards.forEach((s, i) => {
      if (seen.has(s.name))
        ctx.addIssue({
          code: 'custom',
          path: ['shards', i, 'name'],
          message: `shard ${s.name} is listed twice`,
        });
      if (uids.has(s.tabletUid))
        ctx.addIssue({
          code: 'custom',
          path: ['shards', i, 'tabletUid'],
          message: `tablet uid ${s.tabletUid} is used by two shards`,
        });
      seen.add(s.name);
      uids.add(s.tabletUid);
    });
  });
export type VitessSnapshotRestoreInput = z.output<typeof VitessSnapshotRestoreInput>;

/** `zone1-0000000201`: Vitess prints tablet uids zero-padded to 10 digits. */
export function tabletAlias(cell: string, uid: number): string {
  return `${cell}-${String(uid).padStart(10, '0')}`;
}

/** Where a restored shard lives on its host: keyed by snapshot keyspace and shard, so recoveries never share. */
export function shardDir(root: string, snapshotKeyspace: string, shard: string): string {
  return `${root.replace(/\/+$/, '')}/${snapshotKeyspace}/${shard}`;
}

/** The checkpoint ledger of a recovery's topology changes: beside `<root>/<snapshotKeyspace>` on the vtctlclient host. */
export function keyspaceLedgerDir(root: string, snapshotKeyspace: string): string {
  return `${root.replace(/\/+$/, '')}/${snapshotKeyspace}.runbook-ledger`;
}

/** The same duration in Go's syntax (vttablet flags): Go has no "d". */
export function goDuration(d: string): string {
  const m = /^(\d+)d$/.exec(d);
  return m ? `${Number(m[1]) * 24}h` : d;
}
