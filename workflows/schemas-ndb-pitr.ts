// Input of ndbPointInTimeRecovery.
import { z } from 'zod';
import { isEpoch, parseEpoch } from './epoch';
import {
  AbsolutePath,
  BinlogFileName,
  BinlogTime,
  Dialect,
  Endpoint,
  RunbookCommon,
  Slug,
  VerifySpec,
} from './schemas';

export const NdbDataNode = z
  .object({
    id: z.number().int().min(1).max(255),
    host: Slug.optional(),
    /** ndbd (single-threaded) or ndbmtd (multi-threaded): whichever the node runs. */
    binary: z.enum(['ndbd', 'ndbmtd']).default('ndbd'),
    /** The node's DataDir: its checkpoint ledger is kept beside it. */
    dataDir: AbsolutePath,
  })
  .strict();

export const NdbFailurePoint = z.discriminatedUnion(
  'type',
  [
    z
      .object({
        type: z.literal('epoch'),
        epoch: z
          .union([z.string(), z.number().int()])
          .refine(isEpoch, 'not an NDB epoch: use the 64-bit number or gci/micro')
          .transform(parseEpoch),
      })
      .strict(),
    z
      .object({
        type: z.literal('time'),
        time: BinlogTime,
      })
      .strict(),
    z
      .object({ type: z.literal('position'), file: BinlogFileName, position: z.number().int().min(4) })
      .strict(),
  ],
  { error: 'failurePoint.type must be "epoch", "time" or "position"' },
);
export type NdbFailurePoint = z.output<typeof NdbFailurePoint>;

export const NdbPitrInput = z
  .object({
    ...RunbookCommon,
    /**
     * The SQL node's flavour, for its tools (dump, client, binlog reader): an NDB Cluster SQL node is
     * MySQL (mysqldump, mysql, mysqlbinlog); `mariadb` where MariaDB stands in (the tests).
     */
    dialect: Dialect.default('mysql'),
    cluster: z
      .object({
        name: Slug,
        /** Management server, host:port (ndb_mgm, ndbd and ndb_restore connect to it). */
        connectstring: z
          .string()
          .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?(,[A-Za-z0-9.-]+(:\d{1,5})?)*$/, 'use host:port[,host:port]'),
        /** Host whose agent runs ndb_mgm and ndb_restore. */
        mgmHost: Slug.optional(),
        dataNodes: z.array(NdbDataNode).min(1).max(48),
        /** The SQL node (mysqld) that writes the binary log and mysql.ndb_binlog_index. */
        sqlNode: Endpoint,
        sqlNodeHost: Slug.optional(),
      })
      .strict(),
    backup: z
      .object({
        /**
         * BackupDataDir of the data nodes (backups are BACKUP/BACKUP-<id> below it), as the management
         * host sees it: every data node writes its part there, so it must be storage shared by the data
         * nodes and that host (checked at plan time: each node's BACKUP-<id>.<node>.* must be there).
         */
        dataDir: AbsolutePath,
        /** An existing backup to use; without it, step 1 takes a new one. */
        id: z.number().int().min(1).optional(),
      })
      .strict(),
    /** Where the binlog files and the ndb_binlog_index dump are kept (filesystem). */
    archiveDir: AbsolutePath,
    /** A dump of mysql.ndb_binlog_index made earlier; without it, step 2 makes one now. */
    indexDump: AbsolutePath.optional(),
    failurePoint: NdbFailurePoint,
    verify: VerifySpec,
  })
  .strict()
  .superRefine((v, ctx) => {
    const ids = v.cluster.dataNodes.map((n) => n.id);
    if (new Set(ids).size !== ids.length)
      ctx.addIssue({
        code: 'custom',
        path: ['cluster', 'dataNodes'],
        message: 'data node ids must be unique',
      });
    if (v.failurePoint.type === 'time' && Date.parse(v.failurePoint.time) > Date.now())
      ctx.addIssue({
        code: 'custom',
        path: ['failurePoint', 'time'],
        message: `${v.failurePoint.time} is in the future`,
      });
  });
export type NdbPitrInput = z.output<typeof NdbPitrInput>;
