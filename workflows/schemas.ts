// Input schemas shared by the workflows, the CLI and the webhook: one definition of what a valid
// request is. Validation happens before anything is touched; messages name the field and the fix.
import { z } from 'zod';
import { isMariadbGtid, isMysqlGtid } from './gtid';
import { ReplayOptions } from './schemas-replay';

const MAX_TEXT = 512;
const text = (max = MAX_TEXT) => z.string().min(1).max(max);
/** Absolute path without control characters (they would corrupt option files and logs). */
export const AbsolutePath = z
  .string()
  .max(1024)
  .regex(/^\/[^\0\n\r]*$/, 'must be an absolute path without newlines');
/** Names that end up in file names, task queues and search attributes: never a path, never "..". */
export const SLUG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
export const Slug = z
  .string()
  .min(1)
  .max(100)
  .regex(SLUG_PATTERN, 'use letters, digits, ".", "_" or "-" (must start with a letter or digit)');
export const Duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'use a duration like "30s", "10m", "2h" or "1d"');
/** A Duration ("90s", "10m", "2h", "1d") in milliseconds. */
export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(d);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(d)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Number(m[1]) * unit;
}

export const BinlogFileName = z
  .string()
  .max(255)
  .regex(/^[A-Za-z0-9_.-]+\.\d{6,}$/, 'must be a binlog file name like mysql-bin.000042 (no directory)');

const secretHint =
  'secrets are given by reference, {"env":"VAR_NAME"} or {"file":"/path/to/file"}, never inline';
export const SecretRef = z.union(
  [
    z
      .object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an environment variable name') })
      .strict(),
    z.object({ file: AbsolutePath }).strict(),
  ],
  { error: secretHint },
);
export type SecretRef = z.infer<typeof SecretRef>;

export const Dialect = z.enum(['mariadb', 'mysql']);
export type Dialect = z.infer<typeof Dialect>;

/** How to reach a MySQL/MariaDB server: a socket on the worker's host, or host:port. */
/** A host name that never leaves this machine. */
export function isLoopbackHost(host: string): boolean {
  return /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\]|localhost)$/i.test(host);
}

/**
 * TLS to a MySQL server over TCP: `verify` (the server's certificate checked against `ca`, or the
 * system's CAs, and its name) is the default for every TCP endpoint; `disabled` is allowed only on a
 * loopback address, and only when the catalog says so.
 */
export const EndpointTls = z
  .object({
    mode: z.enum(['verify', 'disabled']).default('verify'),
    ca: AbsolutePath.optional(),
    /** The name the certificate must carry, when it is not the host's. */
    serverName: text(255).optional(),
  })
  .strict();
export type EndpointTls = z.output<typeof EndpointTls>;

export const Endpoint = z
  .object({
    host: text(255).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    socket: AbsolutePath.optional(),
    user: text(80).default('root'),
    password: SecretRef.optional(),
    tls: EndpointTls.optional(),
  })
  .strict()
  .refine((e) => e.socket || e.host, 'give "socket" or "host" (with "port")')
  .refine((e) => e.tls?.mode !== 'disabled' || e.socket || isLoopbackHost(e.host ?? ''), {
    message:
      'TLS can be disabled only for a server on a loopback address: a password would cross the network in clear',
    path: ['tls', 'mode'],
  });
export type Endpoint = z.infer<typeof Endpoint>;

/** `2026-11-22T03:12:11Z` for `…:11.500Z`: the whole second an instant falls in, as an ISO time. */
const isoSecond = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/**
 * An instant a binlog can be cut at: ISO-8601 with a zone and whole seconds. Binlog events carry whole
 * seconds, so a fraction cannot be honoured inside its second (everything stamped in it is either
 * before the cut or after it): it is refused, naming the two whole-second cuts around it.
 */
export const BinlogTime = z
  .string()
  .pipe(
    z.iso.datetime({
      offset: true,
      error: 'must be an ISO-8601 time with a zone, e.g. 2026-11-22T03:12:00Z',
    }),
  )
  .superRefine((text, ctx) => {
    const ms = Date.parse(text);
    if (Number.isNaN(ms) || ((ms % 1000) + 1000) % 1000 === 0) return;
    const floor = isoSecond(ms);
    const ceil = isoSecond(ms + 1000);
    ctx.addIssue({
      code: 'custom',
      message:
        `binlog time has whole seconds, so ${text} cannot be honoured inside its second: ${floor} applies everything stamped before that second ` +
        `(and so leaves out every transaction of it, those before the fraction too), ${ceil} applies the whole second (those after the fraction too). ` +
        'Give one of them, or a GTID or position target, which are exact; a plan of either lists the transactions of that second',
    });
  });

export const RecoveryTarget = z.discriminatedUnion(
  'type',
  [
    z
      .object({
        type: z.literal('time'),
        time: BinlogTime,
      })
      .strict(),
    z.object({ type: z.literal('gtid'), gtid: text(200), exclusive: z.boolean().default(false) }).strict(),
    z
      .object({ type: z.literal('position'), file: BinlogFileName, position: z.number().int().min(4) })
      .strict(),
    z.object({ type: z.literal('latest') }).strict(),
  ],
  { error: 'target.type must be one of "time", "gtid", "position", "latest"' },
);
export type RecoveryTarget = z.infer<typeof RecoveryTarget>;

export const Archive = z.discriminatedUnion(
  'kind',
  [
    z.object({ kind: z.literal('fs'), dir: AbsolutePath }).strict(),
    z
      .object({
        kind: z.literal('s3'),
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not a valid S3 bucket name'),
        prefix: z
          .string()
          .max(512)
          .regex(/^[^\0\n\r]*$/)
          .default(''),
        endpoint: z.url().optional(),
        region: text(64).default('us-east-1'),
        forcePathStyle: z.boolean().default(true),
        accessKeyId: SecretRef,
        secretAccessKey: SecretRef,
        /** Where fetched files are kept on the restore host before replay. */
        stagingDir: AbsolutePath.optional(),
      })
      .strict(),
  ],
  { error: 'archive.kind must be "fs" or "s3"' },
);
export type Archive = z.infer<typeof Archive>;

const HostName = Slug.optional();

export const ProcessCluster = z
  .object({
    adapter: z.literal('process'),
    name: Slug,
    host: HostName,
    /** mariadbd's pid file: pausing stops that process. */
    pidFile: AbsolutePath,
    /** The command that starts the server again (argv, no shell). */
    start: z
      .array(
        z
          .string()
          .max(4096)
          .regex(/^[^\0\n\r]*$/),
      )
      .min(1)
      .max(200),
    /** When given, the plan checks the server answers before anything is paused. */
    connection: Endpoint.optional(),
  })
  .strict();

export const KubernetesCluster = z
  .object({
    adapter: z.literal('kubernetes'),
    name: Slug,
    host: HostName,
    namespace: Slug,
    /** The PerconaServerMySQL resource name. */
    resource: Slug,
    context: Slug.optional(),
    kubeconfig: AbsolutePath.optional(),
    /** When given, the cluster's GTID state is read before it is paused, so a rollback can prove it. */
    connection: Endpoint.optional(),
  })
  .strict();

export const Cluster = z.discriminatedUnion('adapter', [ProcessCluster, KubernetesCluster], {
  error: 'cluster.adapter must be "process" or "kubernetes"',
});
export type Cluster = z.infer<typeof Cluster>;

export const RunbookCommon = {
  /** Business key naming the recovery everywhere (ledger, logs); defaults to the workflow id. */
  recoveryId: Slug.optional(),
  mode: z.enum(['run', 'plan']).default('run'),
  requireApproval: z.boolean().default(false),
  approvalTimeout: Duration.default('24h'),
  /** How long a long-running step may go without a heartbeat before it is retried elsewhere. */
  heartbeatTimeout: Duration.default('30s'),
  /**
   * How long a step waits for a named host's agent to take its work (schedule-to-start) before it
   * fails naming the host; the work never moves to another host.
   */
  hostTimeout: Duration.default('10m'),
};

export const TableFingerprint = z
  .object({ rows: z.number().int().min(0), checksum: z.number().nullable() })
  .strict();
export type TableFingerprint = z.infer<typeof TableFingerprint>;

/** What the verify step fingerprints, and the fingerprints it must match when given. */
export const VerifySpec = z
  .object({
    schemas: z.array(Slug).max(1000).optional(),
    expected: z.record(z.string().max(200), TableFingerprint).optional(),
  })
  .strict()
  .default({});

export { ReplayOptions, ReplayStrategy, replayStrategyOf } from './schemas-replay';

/** Where a recovery restores to: the datadir (moved aside, never deleted) and its temporary server. */
export const RestoreTarget = z
  .object({
    host: HostName,
    /** Datadir to restore into; an existing one is moved aside, never deleted. */
    datadir: AbsolutePath,
    /** Binlog basename the server uses inside the datadir (the cluster's --log-bin). */
    binlogBasename: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .default('mysql-bin'),
    serverId: z.number().int().min(1).max(4294967295).default(1),
    user: text(80).default('root'),
    password: SecretRef.optional(),
  })
  .strict();

/**
 * A new server a recovery may restore to instead of the cluster (fleet catalog only, by name): its
 * datadir must be absent or empty, its port free; it is left running after the proof (docs/percona-pitr.md).
 */
export const NewServer = RestoreTarget.extend({
  /** TCP port it listens on (absent: socket only, networking off). */
  port: z.number().int().min(1).max(65535).optional(),
  bindAddress: z.union([z.ipv4(), z.ipv6()]).default('127.0.0.1'),
  /** Its unix socket (default <datadir>/mysql.sock); at most 107 bytes. */
  socket: AbsolutePath.max(107).optional(),
  /** A scratch server: restoring into its fresh, empty datadir needs no approval. */
  approvalFree: z.boolean().default(false),
}).strict();
export type NewServer = z.output<typeof NewServer>;

const BackupTool = z.enum(['mariadb-backup', 'xtrabackup']);
/**
 * The base backup: one prepared directory (`dir`), or a catalog of backups (`catalog`: a directory or
 * an S3 prefix, activities/mysql/backup-catalog.ts) from which the plan chooses the closest one.
 */
export const PerconaBackup = z.union(
  [
    z.object({ dir: AbsolutePath, tool: BackupTool.optional() }).strict(),
    z.object({ catalog: Archive, tool: BackupTool.optional() }).strict(),
  ],
  {
    error:
      'backup must be {"dir": "/path"} (one prepared backup) or {"catalog": {"kind": "fs", "dir": …} | {"kind": "s3", …}} (the backups the plan chooses from)',
  },
);
export type PerconaBackup = z.infer<typeof PerconaBackup>;
/** A backup's name in its catalog: a file or subdirectory name, or an object name under the prefix. */
export const BackupName = z
  .string()
  .max(255)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:+-]*$/, 'a backup name as `runbook backups` lists it (no "/", no path)');

export const PerconaPitrInput = z
  .object({
    ...RunbookCommon,
    dialect: Dialect.default('mariadb'),
    cluster: Cluster,
    backup: PerconaBackup,
    /** One backup of the catalog, by its name there (never a path): else the plan chooses the closest. */
    backupName: BackupName.optional(),
    restore: RestoreTarget,
    archive: Archive,
    target: RecoveryTarget,
    allowGaps: z.boolean().default(false),
    force: z.boolean().default(false),
    verify: VerifySpec,
    replay: ReplayOptions.default({ parallelThreads: 1 }),
    /** Servers of the catalog a recovery may restore to instead of the cluster in place. */
    newServers: z.record(Slug, NewServer).optional(),
    /** `in-place` (the cluster's own datadir, paused), or the name of one of `newServers`. */
    restoreTo: Slug.default('in-place'),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.backupName !== undefined && !('catalog' in v.backup))
      ctx.addIssue({
        code: 'custom',
        path: ['backupName'],
        message:
          'names a backup of a catalog, but this cluster has one backup directory (backup.dir), not a catalog',
      });
    if (v.restoreTo !== 'in-place' && !v.newServers?.[v.restoreTo])
      ctx.addIssue({
        code: 'custom',
        path: ['restoreTo'],
        message: `no new server named ${v.restoreTo} in this cluster's fleet catalog entry (it offers: ${['in-place', ...Object.keys(v.newServers ?? {})].join(', ')})`,
      });
    for (const [name, ns] of Object.entries(v.newServers ?? {})) {
      if (name === 'in-place')
        ctx.addIssue({
          code: 'custom',
          path: ['newServers', name],
          message: '"in-place" names the cluster itself',
        });
      if (!ns.socket && `${ns.datadir}/mysql.sock`.length > 107)
        ctx.addIssue({
          code: 'custom',
          path: ['newServers', name, 'socket'],
          message:
            'the default socket <datadir>/mysql.sock would exceed 107 bytes: give a shorter socket path',
        });
    }
    if (v.replay.strategy === 'applier' && v.dialect === 'mysql')
      ctx.addIssue({
        code: 'custom',
        path: ['replay', 'strategy'],
        message: 'the applier strategy is MariaDB-only for now: use strategy "pipe" for MySQL',
      });
    if (v.replay.strategy === 'applier' && v.force)
      ctx.addIssue({
        code: 'custom',
        path: ['replay', 'strategy'],
        message:
          'force skips failing statements, which only the pipe can do: use strategy "pipe" with force, or drop force',
      });
    if (v.target.type === 'gtid') {
      const ok = v.dialect === 'mariadb' ? isMariadbGtid(v.target.gtid) : isMysqlGtid(v.target.gtid);
      if (!ok)
        ctx.addIssue({
          code: 'custom',
          path: ['target', 'gtid'],
          message:
            v.dialect === 'mariadb'
              ? 'not a MariaDB GTID: expected domain-server-sequence, e.g. 0-1-42'
              : 'not a MySQL GTID: expected uuid:sequence, e.g. 3e11fa47-71ca-11e1-9e33-c80aa9429562:23',
        });
    }
    // Inside a workflow Date.now() is the deterministic workflow clock.
    if (v.target.type === 'time' && Date.parse(v.target.time) > Date.now())
      ctx.addIssue({
        code: 'custom',
        path: ['target', 'time'],
        message: `${v.target.time} is in the future`,
      });
  });
export type PerconaPitrInput = z.output<typeof PerconaPitrInput>;

/** Formats zod issues as `field: message` lines a tired operator can act on. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(input)'}: ${i.message}`).join('; ');
}
