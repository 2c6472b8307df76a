// Input schema of tungstenExternalRestore (Tungsten: restoring an external backup). Built from the
// shared pieces in schemas.ts; validated before anything is touched.
import { z } from 'zod';
import { AbsolutePath, Dialect, Duration, Endpoint, RunbookCommon, Slug, VerifySpec } from './schemas';

/**
 * A Tungsten replication service name. It becomes a schema name (`tungsten_<service>`) and an
 * argument of trepctl/thl/dsctl, so only letters, digits and "_" are accepted.
 */
export const TUNGSTEN_SERVICE = /^[A-Za-z0-9_]{1,64}$/;
export const TungstenService = z
  .string()
  .regex(
    TUNGSTEN_SERVICE,
    'a Tungsten service name has only letters, digits and "_" (at most 64): it names the schema tungsten_<service>',
  );

const Argv = z
  .array(
    z
      .string()
      .max(4096)
      .regex(/^[^\0\n\r]*$/),
  )
  .min(1)
  .max(200);

export const TungstenExternalRestoreInput = z
  .object({
    ...RunbookCommon,
    dialect: Dialect.default('mariadb'),
    /** The replication service (`trepctl -service <service>`). */
    service: TungstenService,
    /** Directory holding trepctl, thl and dsctl on the hosts; default: found on PATH. */
    tungstenBin: AbsolutePath.optional(),
    /** The Replica node being restored: its replicator, its database server and datadir. */
    replica: z
      .object({
        name: Slug,
        /** Host agent that runs trepctl, thl purge, dsctl, the copy-back and the server there. */
        host: Slug.optional(),
        datadir: AbsolutePath,
        /** The server's pid file: the restore stops that process. */
        pidFile: AbsolutePath,
        /** The command that starts the server again (argv, no shell). */
        start: Argv,
        /** How to reach the server (trep_commit_seqno, verification). */
        connection: Endpoint,
      })
      .strict(),
    /** The Primary: where `thl list` / `thl dsctl` find the seqno of the backup's position. */
    primary: z.object({ host: Slug.optional() }).strict().default({}),
    backup: z
      .object({
        dir: AbsolutePath,
        tool: z.enum(['mariadb-backup', 'xtrabackup']).optional(),
        /** Step 4 of the procedure applies only to a backup of the Primary. */
        takenOn: z.enum(['primary', 'replica']).default('primary'),
      })
      .strict(),
    /** How to find the seqno: `thl list -event … -headers` (default) or `thl dsctl -event …`. */
    thlLookup: z.enum(['list', 'dsctl']).default('list'),
    /** How long the replicator may take to come ONLINE and catch up with the Primary. */
    onlineTimeout: Duration.default('30m'),
    verify: VerifySpec,
  })
  .strict();
export type TungstenExternalRestoreInput = z.output<typeof TungstenExternalRestoreInput>;
