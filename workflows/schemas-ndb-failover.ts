// Input of ndbChannelFailover: which replica SQL node takes over through which channel, where the
// secondary channel's source is, and how the channel is started. Refused here, before anything is
// touched: bad channel names, inline secrets, unknown fields, one channel named twice on one server.
import { z } from 'zod';
import { Dialect, Duration, Endpoint, RunbookCommon, SecretRef, Slug } from './schemas';

/** A replication channel (MariaDB connection name, MySQL channel); "" is the default channel. */
export const ChannelName = z
  .string()
  .max(64, 'a channel name has at most 64 characters')
  .regex(
    /^[A-Za-z0-9_-]*$/,
    'a channel name has only letters, digits, "_" and "-" (at most 64; "" is the default channel)',
  );

/** One SQL node: how to reach it, and optionally the host whose task queue runs its activities. */
export const SqlNode = z.object({ endpoint: Endpoint, host: Slug.optional() }).strict();
export type SqlNode = z.output<typeof SqlNode>;

/** How the replica connects to the secondary source (MASTER_HOST/PORT/USER/PASSWORD): bound, never spliced. */
export const ReplicationConnect = z
  .object({
    host: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[A-Za-z0-9_.:-]+$/, 'a host name or IP address, as the replica reaches the secondary source'),
    port: z.number().int().min(1).max(65535).default(3306),
    user: z
      .string()
      .min(1)
      .max(80)
      .regex(/^[^\0\n\r]*$/, 'no control characters'),
    /** The replication user's password, by reference; resolved on the replica's worker. */
    password: SecretRef.optional(),
  })
  .strict();
export type ReplicationConnect = z.output<typeof ReplicationConnect>;

export const FailoverForm = z.enum(['epoch-greater', 'next-position'], {
  error:
    'form must be "epoch-greater" (File/Position of the first epoch after the latest applied) or ' +
    '"next-position" (next_file/next_position of the latest applied epoch; needs slave_skip_errors=ddl_exist_errors)',
});
export type FailoverForm = z.output<typeof FailoverForm>;

export const NdbChannelFailoverInput = z
  .object({
    ...RunbookCommon,
    // An NDB Cluster SQL node is MySQL; the test worlds, which run MariaDB in its place, say so.
    dialect: Dialect.default('mysql'),
    /** Names the replica cluster in search attributes (Cluster). */
    cluster: Slug.default('ndb-replica'),
    /** S': the replica SQL node whose secondary channel takes over. */
    replica: SqlNode,
    primary: z
      .object({
        channel: ChannelName.default(''),
        /** S, when the primary channel runs on another SQL node of the replica cluster. */
        replica: SqlNode.optional(),
      })
      .strict()
      .default({ channel: '' }),
    secondary: z
      .object({
        channel: ChannelName.default(''),
        /** M': the source SQL node of the secondary channel; its mysql.ndb_binlog_index gives the start. */
        source: SqlNode,
        connect: ReplicationConnect,
      })
      .strict(),
    form: FailoverForm,
    /** Stop the primary channel when it still runs (behind the approval gate); otherwise refuse. */
    stopPrimary: z.boolean().default(false),
    /** After START SLAVE, wait until the channel has applied all the source had binlogged. */
    waitForCatchUp: z.boolean().default(true),
    catchUpTimeout: Duration.default('10m'),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (!v.primary.replica && v.primary.channel.toLowerCase() === v.secondary.channel.toLowerCase())
      ctx.addIssue({
        code: 'custom',
        path: ['secondary', 'channel'],
        message: `the primary and secondary channels are both ${JSON.stringify(v.secondary.channel)} on the same replica; name two different channels (or give primary.replica when the primary channel runs on another SQL node)`,
      });
  });
export type NdbChannelFailoverInput = z.output<typeof NdbChannelFailoverInput>;
