// The bad-input catalog: every request the five runbooks must refuse, each run for real against a
// world of real servers (one per runbook, built once), and each checked the same way — a readable,
// non-retryable error, no activity retried, no destructive step started (the run's own history and
// progress), and nothing changed in the world (its nothingChanged helper). Cases that cannot interfere
// run at the same time; cases that damage a world on purpose (an index row, the THL) run one by one.
// Every request asks for approval, so one that wrongly gets past its plan stops at the first
// destructive step's gate (and fails) instead of changing the world under the other cases. A case
// that shows a product bug is a `todo` naming the bug: it runs and is in the table, never a pass.
// A table of every case is printed at the end.
import { after, before, describe } from 'node:test';
import { createServer, type Server, type Socket } from 'node:net';
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { execa } from 'execa';
import { catalogRows, catalogTests, formatCatalogTable, type CatalogCase } from '../support/catalog-case';
import { NdbFailoverCatalogWorld } from '../support/catalog-ndb-failover';
import { NdbPitrCatalogWorld } from '../support/catalog-ndb-pitr';
import { PerconaCatalogWorld } from '../support/catalog-percona';
import { TungstenCatalogWorld } from '../support/catalog-tungsten';
import { VitessCatalogWorld } from '../support/catalog-vitess';
import { useStandIns } from '../support/percona-scenario';
import { secondBoundary } from '../../scripts/lib/scenario';
import { startMariadbServer } from '../../scripts/lib/mariadb-server';
import { cutInsideAnEvent, editEventKeepingChecksum, flipBitInEventBody } from '../support/damage';
import { startWorker, testClient, uniqueQueue, type RunningWorker } from '../support/temporal';

useStandIns();

let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
const common = { client: () => client, taskQueue: () => worker.taskQueue };
/** The name of an environment variable the worker does not have. */
const UNSET_ENV = 'CATALOG_SECRET_NOT_SET_ANYWHERE';
const TEN_MB = 'x'.repeat(10 * 1024 * 1024);
const ONE_MB = 'x'.repeat(1024 * 1024);

before(async () => {
  delete process.env[UNSET_ENV];
  worker = await startWorker(uniqueQueue('catalog'));
  ({ client, close: closeClient } = await testClient());
});

after(async () => {
  await worker?.stop();
  await closeClient?.();
  console.log(`\n${formatCatalogTable(catalogRows)}\n`);
});

describe(
  'bad-input catalog: refused with a readable, final error, and nothing changed',
  { concurrency: true },
  () => {
    // One at a time: the kubectl stand-in rewrites its state file in place on every call, so concurrent
    // calls can read it half written.
    describe('perconaPointInTimeRecovery', { concurrency: false }, () => {
      let w: PerconaCatalogWorld;
      before(async () => (w = await PerconaCatalogWorld.build()));
      const mounts: string[] = [];
      after(async () => {
        for (const m of mounts) await execa('umount', [m]).catch(() => {});
        await w?.cleanup();
      });
      /** A 16 MiB filesystem of its own (tmpfs; the tests run as root, as CI does). */
      const smallDisk = async (w: PerconaCatalogWorld) => {
        const dir = w.dir('small-disk');
        await mkdir(dir, { recursive: true });
        await execa('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir]);
        mounts.push(dir);
        return dir;
      };
      const unprepared = async (dir: string) => {
        await execa('mariadb-backup', [
          '--no-defaults',
          '--backup',
          `--target-dir=${dir}`,
          `--socket=${w.acc.source.server.socket}`,
          '--user=root',
        ]);
        return dir;
      };
      /** A copy of the world's archive (index included) to damage. */
      const archiveCopy = async (w: PerconaCatalogWorld, name: string) => {
        const dir = w.dir(name);
        await cp(w.acc.source.archiveDir, dir, { recursive: true });
        return dir;
      };
      /** The binlogs of another MariaDB server (its own history), made once. */
      let foreign: string | undefined;
      const foreignBinlogs = async (w: PerconaCatalogWorld) => {
        if (foreign) return foreign;
        const other = await startMariadbServer({ baseDir: w.dir('other-server'), serverId: 7 });
        try {
          await other.query('CREATE DATABASE other; CREATE TABLE other.t (id INT PRIMARY KEY)');
          for (let i = 1; i <= 4; i++)
            await other.query(`INSERT INTO other.t VALUES (${i}); FLUSH BINARY LOGS`);
        } finally {
          await other.stop();
        }
        const dir = w.dir('other-archive');
        await mkdir(dir, { recursive: true });
        for (const f of ['mysql-bin.000001', 'mysql-bin.000002', 'mysql-bin.000003', 'mysql-bin.000004'])
          await cp(join(other.datadir, f), join(dir, f));
        return (foreign = dir);
      };
      const cases: CatalogCase<PerconaCatalogWorld>[] = [
        {
          name: 'target time before the backup',
          input: (w) => w.input({ type: 'time', time: '2001-01-01T00:00:00Z' }),
          expect: /before the backup was taken/,
        },
        {
          name: 'target time in the future',
          input: (w) => w.input({ type: 'time', time: '2099-01-01T00:00:00Z' }),
          expect: /is in the future/,
        },
        {
          name: 'target time without a zone',
          input: (w) => w.input({ type: 'time', time: '2026-01-01 10:00' }),
          expect: /ISO-8601 time with a zone/,
        },
        {
          name: 'malformed GTID (a quote and a statement)',
          input: (w) => w.input({ type: 'gtid', gtid: "0-1-5'; DROP TABLE x" }),
          expect: /not a MariaDB GTID/,
        },
        {
          name: 'GTID absent from the archive',
          input: (w) => w.input({ type: 'gtid', gtid: '0-1-999999' }),
          expect: /0-1-999999 is not in the archive/,
        },
        {
          name: 'GTID already inside the backup',
          input: (w) => w.input({ type: 'gtid', gtid: '0-1-10' }),
          expect: /already in the backup/,
        },
        {
          name: 'position that is not an event boundary',
          input: (w) =>
            w.input({
              type: 'position',
              file: w.acc.dropPosition.file,
              position: w.acc.dropPosition.position + 3,
            }),
          expect: /not an event boundary/,
        },
        {
          name: 'binlog file name with a path',
          input: (w) => w.input({ type: 'position', file: '../etc/passwd', position: 4 }),
          expect: /binlog file name/,
        },
        {
          name: 'missing backup directory',
          input: (w) => w.input({ type: 'latest' }, { backup: { dir: w.dir('no-such-backup') } }),
          expect: /does not exist/,
        },
        {
          name: 'unprepared backup',
          input: async (w) =>
            w.input({ type: 'latest' }, { backup: { dir: await unprepared(w.dir('unprepared')) } }),
          expect: /is not prepared .*--prepare/,
        },
        {
          name: 'a missing middle binlog file (gap in the archive)',
          input: async (w) => {
            const dir = w.dir('gappy');
            await cp(w.acc.source.archiveDir, dir, { recursive: true });
            await rm(join(dir, 'mysql-bin.000003'));
            return w.input({ type: 'time', time: w.acc.beforeAccident }, { archive: { kind: 'fs', dir } });
          },
          expect: /1 file\(s\) missing between mysql-bin.000002 and mysql-bin.000004.*allowGaps/,
        },
        {
          name: 'target time with a fraction of a second',
          input: (w) => w.input({ type: 'time', time: '2026-01-01T10:00:11.500Z' }),
          expect: /binlog time has whole seconds, so 2026-01-01T10:00:11\.500Z cannot be honoured/,
        },
        {
          name: 'an event body damaged in the window (header and length intact: only its CRC32 shows it)',
          input: async (w) => {
            const dir = await archiveCopy(w, 'flipped-bit');
            await flipBitInEventBody(join(dir, 'mysql-bin.000003'));
            return w.input(
              { type: 'gtid', gtid: w.acc.dropGtid, exclusive: true },
              { archive: { kind: 'fs', dir } },
            );
          },
          expect:
            /archive file mysql-bin\.000003 is damaged at offset \d+: CRC32 mismatch .*Re-fetch it from the source, or restore to 0-1-\d+ \(the last complete transaction before the damage/,
        },
        {
          name: 'a window file changed after it was indexed (an event edited, its checksum recomputed)',
          input: async (w) => {
            const dir = await archiveCopy(w, 'edited');
            await editEventKeepingChecksum(join(dir, 'mysql-bin.000003'));
            return w.input(
              { type: 'gtid', gtid: w.acc.dropGtid, exclusive: true },
              { archive: { kind: 'fs', dir } },
            );
          },
          expect: /archive file mysql-bin\.000003 changed after it was indexed .*sha256/,
        },
        {
          name: 'a window file cut short inside an event (the index still lists it whole)',
          input: async (w) => {
            const dir = await archiveCopy(w, 'cut-short');
            await cutInsideAnEvent(join(dir, 'mysql-bin.000003'));
            return w.input(
              { type: 'gtid', gtid: w.acc.dropGtid, exclusive: true },
              { archive: { kind: 'fs', dir } },
            );
          },
          expect: /archive file mysql-bin\.000003 changed after it was indexed \(now \d+ bytes/,
        },
        {
          name: 'another server’s binlog under a window file’s name (re-indexed: its GTIDs do not continue)',
          input: async (w) => {
            const dir = await archiveCopy(w, 'foreign-file');
            await cp(join(await foreignBinlogs(w), 'mysql-bin.000003'), join(dir, 'mysql-bin.000003'));
            await rm(join(dir, 'binlog-index.json'));
            return w.input({ type: 'latest' }, { archive: { kind: 'fs', dir } });
          },
          expect: /mysql-bin\.000003 does not continue mysql-bin\.000002/,
        },
        {
          name: 'the archive of another server (the backup’s history is not in it)',
          input: async (w) =>
            w.input({ type: 'latest' }, { archive: { kind: 'fs', dir: await foreignBinlogs(w) } }),
          expect: /does not hold this backup's history|does not continue|not in the archive/,
        },
        {
          name: 'a restore datadir on a filesystem without room for the backup beside the old datadir',
          input: async (w) =>
            w.input({ type: 'latest' }, { restore: { datadir: join(await smallDisk(w), 'data') } }),
          expect:
            /^locate-binlogs: not enough room: .* needed on the filesystem of .*small-disk\/data \(the backup copied back .*free\. .*nothing was touched/,
        },
        {
          name: 'unknown Kubernetes cluster',
          input: (w) => ({
            ...w.input({ type: 'latest' }),
            cluster: { adapter: 'kubernetes', name: 'nope', namespace: 'db', resource: 'nope' },
          }),
          expect: /unreachable.*NotFound/,
        },
        {
          name: 'unreachable server (process adapter)',
          input: (w) => ({
            ...w.input({ type: 'latest' }),
            cluster: {
              adapter: 'process',
              name: 'shop',
              pidFile: w.acc.source.server.pidFile,
              start: ['true'],
              connection: { host: '127.0.0.1', port: 1, user: 'root' },
            },
          }),
          expect: /cluster shop unreachable at root@127.0.0.1:1/,
        },
        {
          name: 'cluster password from an environment variable that is not set',
          input: (w) => ({
            ...w.input({ type: 'latest' }),
            cluster: {
              adapter: 'process',
              name: 'shop',
              pidFile: w.acc.source.server.pidFile,
              start: ['true'],
              connection: { ...w.acc.source.endpoint, password: { env: UNSET_ENV } },
            },
          }),
          expect: new RegExp(`environment variable ${UNSET_ENV} is not set`),
        },
        {
          name: 'S3 archive keys from an environment variable that is not set',
          input: (w) =>
            w.input(
              { type: 'latest' },
              {
                archive: {
                  kind: 's3',
                  bucket: 'binlogs',
                  endpoint: 'http://127.0.0.1:1',
                  accessKeyId: { env: UNSET_ENV },
                  secretAccessKey: { env: UNSET_ENV },
                },
              },
            ),
          expect: new RegExp(`environment variable ${UNSET_ENV} is not set`),
        },
        {
          name: 'restore password from a file that cannot be read',
          input: (w) => ({
            ...w.input({ type: 'latest' }),
            restore: {
              datadir: join(w.dir('unreadable-secret'), 'data'),
              password: { file: w.dir('no/such/secret') },
            },
          }),
          expect: /cannot read .*no\/such\/secret/,
        },
        {
          name: 'a secret given inline',
          input: (w) => ({
            ...w.input({ type: 'latest' }),
            restore: { datadir: join(w.dir('inline-secret'), 'data'), password: 'hunter2-inline' },
          }),
          expect: /secrets are given by reference/,
        },
        {
          name: 'a relative datadir',
          input: (w) => ({ ...w.input({ type: 'latest' }), restore: { datadir: 'data' } }),
          expect: /restore.datadir: must be an absolute path/,
        },
        {
          name: 'a system directory as the datadir (/etc)',
          input: async (w) => ({
            ...w.input({ type: 'latest' }),
            restore: { datadir: await w.keep('/etc') },
          }),
          expect: /^locate-binlogs: refusing \/etc as a datadir: it is a system directory/,
        },
        {
          name: 'a datadir that is the backup directory through `..` and `//`',
          input: async (w) => ({
            ...w.input({ type: 'latest' }),
            restore: {
              datadir: await w.keep(`${w.acc.backupDir}/../${w.acc.backupDir.split('/').at(-1)}//`),
            },
          }),
          expect: /^locate-binlogs: refusing .* as a datadir: it overlaps the backup directory/,
        },
        {
          name: 'an unknown field',
          input: (w) => ({ ...w.input({ type: 'latest' }), restor: {} }),
          expect: /restor/,
        },
        {
          name: 'thousands of schemas to verify (5000)',
          input: (w) =>
            w.input(
              { type: 'latest' },
              { verify: { schemas: Array.from({ length: 5000 }, (_, i) => `s${i}`) } },
            ),
          expect: /verify.schemas: .*1000/,
        },
        {
          name: 'a 1 MB GTID',
          input: (w) => w.input({ type: 'gtid', gtid: ONE_MB }),
          expect: /target.gtid: .*200/,
        },
        {
          name: 'no recoveryId and a workflow id that is a path ("a/../../etc")',
          workflowId: 'a/../../etc',
          input: (w) => w.input({ type: 'latest' }),
          expect: /workflow id "a\/\.\.\/\.\.\/etc" cannot name a recovery/,
        },
        {
          name: 'a 10 MB GTID (over the payload limit)',
          atStart: true,
          input: (w) => w.input({ type: 'gtid', gtid: TEN_MB }),
          expect: /size|limit|large|exceed/i,
        },
      ];
      catalogTests({
        runbook: 'perconaPointInTimeRecovery',
        world: () => w,
        cases,
        ...common,
        secrets: () => ['hunter2'],
      });
    });

    describe('ndbPointInTimeRecovery', { concurrency: true }, () => {
      let w: NdbPitrCatalogWorld;
      before(async () => (w = await NdbPitrCatalogWorld.build()));
      after(async () => w?.cleanup());
      const epochAt = (w: NdbPitrCatalogWorld, i: number) => w.ndb.epochs.at(i)!.epoch.toString();
      const cases: CatalogCase<NdbPitrCatalogWorld>[] = [
        {
          name: 'named backup not before the failure point',
          input: (w) => w.input({ failurePoint: { type: 'epoch', epoch: epochAt(w, 1) } }),
          expect: /backup 1 is not a usable backup before the failure point/,
        },
        {
          name: 'no backup before the failure point (the one step 1 takes is after it)',
          input: (w) =>
            w.input({
              failurePoint: { type: 'epoch', epoch: epochAt(w, 1) },
              backup: { dataDir: w.backupDataDir },
              indexDump: undefined,
              archiveDir: join(w.base, 'archive-step2'),
            }),
          expect:
            /no backup before the failure point \(epoch \d+, \d+\/\d+\); backups in \S+: 1 \(StopGCP \d+\), 2 \(StopGCP \d+\)/,
        },
        {
          name: 'epoch not in ndb_binlog_index',
          input: (w) => w.input({ failurePoint: { type: 'epoch', epoch: '999999/0' } }),
          expect: new RegExp(
            `epoch ${999999n << 32n} \\(999999/0\\) is not in mysql.ndb_binlog_index \\(it holds`,
          ),
        },
        {
          name: 'missing dump of ndb_binlog_index',
          input: (w) =>
            w.input({
              failurePoint: { type: 'epoch', epoch: epochAt(w, -4) },
              indexDump: join(w.base, 'no-such-dump.sql'),
            }),
          expect: /the ndb_binlog_index dump .*no-such-dump.sql does not exist/,
        },
        {
          name: 'malformed epoch',
          input: (w) => w.input({ failurePoint: { type: 'epoch', epoch: '12;DROP' } }),
          expect: /not an NDB epoch/,
        },
        {
          name: 'duplicate data node ids',
          input: async (w) => {
            const i = await w.input({ failurePoint: { type: 'epoch', epoch: epochAt(w, -4) } });
            return {
              ...i,
              cluster: {
                ...i.cluster,
                dataNodes: [
                  { id: 2, dataDir: '/x' },
                  { id: 2, dataDir: '/y' },
                ],
              },
            };
          },
          expect: /data node ids must be unique/,
        },
        {
          name: 'ndb_binlog_index File with a quote and a statement',
          input: (w) => w.input({ failurePoint: { type: 'epoch', epoch: w.hostileFile.epoch.toString() } }),
          expect:
            /returned an unusable File "mysql-bin\.000002'; DROP TABLE shop\.orders; -- ": not a plain binlog file name/,
        },
        {
          name: 'ndb_binlog_index next_file with a newline',
          input: (w) =>
            w.input({ failurePoint: { type: 'epoch', epoch: w.hostileNextFile.epoch.toString() } }),
          expect: /returned an unusable next_file "mysql-bin\.000002\\nSTART SLAVE"/,
        },
        {
          name: 'gap in the archive: the file the replay starts in is missing',
          input: async (w) => ({
            ...(await w.input({ failurePoint: { type: 'epoch', epoch: epochAt(w, -4) } })),
            archiveDir: await w.archiveCopy(['mysql-bin.000001']),
          }),
          expect: /the replay would start in mysql-bin\.000001, which is not in the archive/,
        },
        {
          name: 'an event body damaged in the replay window (only its CRC32 shows it)',
          input: async (w) => {
            const archiveDir = await w.archiveCopy();
            const files = (await readdir(archiveDir)).filter((f) => /^mysql-bin\.\d+$/.test(f)).sort();
            await flipBitInEventBody(join(archiveDir, files[0]!));
            // Two epochs before the hostile index rows (the last two), which other cases use.
            const epoch = w.ndb.epochs[w.ndb.epochs.indexOf(w.hostileFile) - 2]!.epoch.toString();
            return { ...(await w.input({ failurePoint: { type: 'epoch', epoch } })), archiveDir };
          },
          expect: /^locate-backup: archive file mysql-bin\.\d+ is damaged at offset \d+: CRC32 mismatch/,
        },
        {
          name: 'failure time beyond the archive',
          // A whole second after everything the world wrote (binlog time has whole seconds).
          input: async (w) => w.input({ failurePoint: { type: 'time', time: await secondBoundary() } }),
          expect: /is beyond the archive: its newest event is at/,
        },
        {
          name: 'failure position in a file the archive does not have',
          input: (w) =>
            w.input({ failurePoint: { type: 'position', file: 'mysql-bin.000099', position: 4 } }),
          expect: /mysql-bin\.000099 is not in the archive/,
        },
        {
          name: 'failure position that is not an event boundary',
          input: (w) =>
            w.input({ failurePoint: { type: 'position', file: 'mysql-bin.000002', position: 5 } }),
          expect: /mysql-bin\.000002:5 is not an event boundary/,
        },
        {
          name: 'unreachable SQL node (unknown socket)',
          input: async (w) => {
            const i = await w.input({ failurePoint: { type: 'epoch', epoch: epochAt(w, -4) } });
            return {
              ...i,
              cluster: { ...i.cluster, sqlNode: { socket: join(w.base, 'nope.sock'), user: 'root' } },
            };
          },
          expect: /nope\.sock/,
        },
        {
          name: 'SQL node password from an environment variable that is not set',
          input: async (w) => {
            const i = await w.input({ failurePoint: { type: 'epoch', epoch: epochAt(w, -4) } });
            return {
              ...i,
              cluster: { ...i.cluster, sqlNode: { ...w.endpoint, password: { env: UNSET_ENV } } },
            };
          },
          expect: new RegExp(`environment variable ${UNSET_ENV} is not set`),
        },
        {
          name: 'too many data nodes (49)',
          input: async (w) => {
            const i = await w.input({ failurePoint: { type: 'epoch', epoch: epochAt(w, -4) } });
            const dataNodes = Array.from({ length: 49 }, (_, k) => ({ id: k + 1, dataDir: `/ndb/${k + 1}` }));
            return { ...i, cluster: { ...i.cluster, dataNodes } };
          },
          expect: /cluster.dataNodes: .*48/,
        },
      ];
      catalogTests({ runbook: 'ndbPointInTimeRecovery', world: () => w, cases, ...common });
    });

    describe('ndbChannelFailover', { concurrency: false }, () => {
      let w: NdbFailoverCatalogWorld;
      before(async () => (w = await NdbFailoverCatalogWorld.build()));
      after(async () => w?.cleanup());
      const secrets = () => [w.replPassword];

      describe('against the world as built', { concurrency: true }, () => {
        const cases: CatalogCase<NdbFailoverCatalogWorld>[] = [
          {
            name: 'primary channel name with a quote and a statement',
            input: (w) => w.input({ primary: { channel: "primary'; STOP SLAVE; --" } }),
            expect: /primary\.channel: a channel name has only letters, digits/,
          },
          {
            name: 'secondary channel name with a newline',
            input: (w) => {
              const i = w.input();
              return { ...i, secondary: { ...i.secondary, channel: 'sec\nondary' } };
            },
            expect: /secondary\.channel: a channel name has only letters, digits/,
          },
          {
            name: 'the replication password given inline',
            input: (w) => {
              const i = w.input();
              return {
                ...i,
                secondary: { ...i.secondary, connect: { ...i.secondary.connect, password: w.replPassword } },
              };
            },
            expect: /secondary\.connect\.password: secrets are given by reference/,
          },
          {
            name: 'one channel named as both primary and secondary',
            input: (w) => {
              const i = w.input();
              return { ...i, secondary: { ...i.secondary, channel: 'Primary' } };
            },
            expect: /primary and secondary channels are both "Primary"/,
          },
          {
            name: 'the primary channel still running',
            input: (w) => w.input({ primary: { channel: '' } }, w.M2),
            expect:
              /^check-channels: the primary channel the default channel on root@.* is still running .*"stopPrimary": true/s,
          },
          {
            name: 'a primary channel that is not configured',
            input: (w) => w.input({ primary: { channel: 'primry' } }),
            expect:
              /^check-channels: there is no replication channel 'primry' on root@.* \(configured: 'primary'\)/,
          },
          {
            name: 'the wrong dialect',
            input: (w) => w.input({ dialect: 'mysql' }),
            expect: /runs 10\.11\.\d+-MariaDB.*, but the input says "dialect": "mysql"/,
          },
          {
            name: 'next-position on a replica that does not skip DDL-exists errors',
            input: (w) => w.input({ form: 'next-position' }),
            expect: /^check-channels: form "next-position" needs the replica to skip DDL-exists errors/,
          },
          {
            name: 'unreachable replica (unknown socket)',
            input: (w) =>
              w.input({ replica: { endpoint: { socket: join(w.base, 'nope.sock'), user: 'root' } } }),
            expect: /nope\.sock/,
          },
          {
            name: 'replication password from an environment variable that is not set',
            input: (w) => {
              const i = w.input();
              return {
                ...i,
                secondary: {
                  ...i.secondary,
                  connect: { ...i.secondary.connect, password: { env: UNSET_ENV } },
                },
              };
            },
            expect: new RegExp(`environment variable ${UNSET_ENV} is not set`),
          },
        ];
        catalogTests({ runbook: 'ndbChannelFailover', world: () => w, cases, ...common, secrets });
      });

      describe("with M''s ndb_binlog_index damaged (one at a time)", { concurrency: false }, () => {
        const damaged = (sql: string, params: () => unknown[]) => async (w: NdbFailoverCatalogWorld) => {
          await w.M2.query(`SET SESSION sql_log_bin = 0; ${sql}; SET SESSION sql_log_bin = 1`, params());
          await w.M2.endPool();
        };
        const latest = () => w.lastBeforeFailure.epoch.toString();
        const cases: CatalogCase<NdbFailoverCatalogWorld>[] = [
          {
            name: 'the latest applied epoch purged from the index (epoch-greater)',
            input: async (w) => {
              await damaged('DELETE FROM mysql.ndb_binlog_index WHERE epoch >= ?', () => [latest()])(w);
              return w.input();
            },
            restore: (w) => w.reindex(),
            expect: /^check-channels: no epoch after \d+ \(\d+\/\d+\) in mysql\.ndb_binlog_index/,
          },
          {
            name: 'the latest applied epoch purged from the index (next-position)',
            input: async (w) => {
              await damaged('DELETE FROM mysql.ndb_binlog_index WHERE epoch >= ?', () => [latest()])(w);
              return w.input({ form: 'next-position' }, w.R2);
            },
            restore: (w) => w.reindex(),
            expect: new RegExp(
              `^check-channels: epoch \\d+ \\(\\d+/\\d+\\), the latest the replica applied, is not in mysql\\.ndb_binlog_index`,
            ),
          },
          {
            name: 'ndb_binlog_index File with a quote and a statement',
            input: async (w) => {
              await damaged('UPDATE mysql.ndb_binlog_index SET File = ? WHERE epoch = ?', () => [
                `${w.M2.datadir}/mysql-bin.000002'; DROP TABLE shop.orders; -- `,
                w.firstAfterFailure.epoch.toString(),
              ])(w);
              return w.input();
            },
            restore: (w) => w.reindex(),
            expect:
              /^check-channels: mysql\.ndb_binlog_index returned File "mysql-bin\.000002'; DROP TABLE shop\.orders; -- " .*which is not a plain binlog file name/,
          },
          {
            name: 'ndb_binlog_index next_file with a newline',
            input: async (w) => {
              await damaged('UPDATE mysql.ndb_binlog_index SET next_file = ? WHERE epoch = ?', () => [
                'mysql-bin.000001\nSTART SLAVE',
                latest(),
              ])(w);
              return w.input({ form: 'next-position' }, w.R2);
            },
            restore: (w) => w.reindex(),
            expect:
              /returned next_file "mysql-bin\.000001\\nSTART SLAVE" \(after SUBSTRING_INDEX\(next_file, '\/', -1\)\)/,
          },
        ];
        catalogTests({ runbook: 'ndbChannelFailover', world: () => w, cases, ...common, secrets });
      });
    });

    // One at a time: the trepctl/thl stand-ins rewrite their state file in place, so concurrent calls
    // can read it half written.
    describe('tungstenExternalRestore', { concurrency: false }, () => {
      let w: TungstenCatalogWorld;
      before(async () => (w = await TungstenCatalogWorld.build()));
      after(async () => w?.cleanup());

      describe('against the world as built', { concurrency: false }, () => {
        const cases: CatalogCase<TungstenCatalogWorld>[] = [
          {
            name: 'a THL service the replicator does not know',
            input: (w) => w.input({ service: 'beta' }),
            expect:
              /^plan: the replication service "beta" is not known to trepctl.*Unknown service name: beta/,
          },
          {
            name: 'a service name with shell metacharacters',
            input: (w) => w.input({ service: 'alpha;rm -rf /' }),
            expect: /^invalid input: service: a Tungsten service name has only letters, digits and "_"/,
          },
          {
            name: 'a secret given inline',
            input: (w) => {
              const i = w.input();
              return {
                ...i,
                replica: { ...i.replica, connection: { socket: '/x.sock', password: 'hunter2' } },
              };
            },
            expect: /secrets are given by reference/,
          },
          {
            name: 'replica password from an environment variable that is not set',
            input: (w) => {
              const i = w.input();
              return {
                ...i,
                replica: {
                  ...i.replica,
                  connection: { ...i.replica.connection, password: { env: UNSET_ENV } },
                },
              };
            },
            expect: new RegExp(`environment variable ${UNSET_ENV} is not set`),
          },
          {
            name: 'replica password from a file that cannot be read',
            input: async (w) => {
              const file = w.dir('unreadable-secret');
              await writeFile(file, 'secret', { mode: 0o000 });
              const i = w.input();
              return {
                ...i,
                replica: {
                  ...i.replica,
                  connection: { ...i.replica.connection, password: { file: `${file}.missing` } },
                },
              };
            },
            expect: /cannot read .*unreadable-secret\.missing/,
          },
          {
            name: 'unreachable replica server (unknown socket)',
            input: (w) => {
              const i = w.input();
              return {
                ...i,
                replica: { ...i.replica, connection: { socket: w.dir('nope.sock'), user: 'root' } },
              };
            },
            expect: /nope\.sock/,
          },
          {
            name: 'a missing backup directory',
            input: (w) => w.input({ backup: { dir: w.dir('no-such-backup') } }),
            expect: /^plan: backup directory .*no-such-backup does not exist/,
          },
          {
            name: 'an unprepared backup',
            input: async (w) => {
              const dir = w.dir('unprepared');
              await execa('mariadb-backup', [
                '--no-defaults',
                '--backup',
                `--target-dir=${dir}`,
                `--socket=${w.sc.world.primary.socket}`,
                '--user=root',
              ]);
              return w.input({ backup: { dir } });
            },
            expect: /is not prepared .*--prepare/,
          },
          {
            name: 'a backup without the Tungsten schema',
            input: async (w) => {
              const dir = w.dir('no-tungsten');
              await cp(w.sc.backupDir, dir, { recursive: true });
              await rm(join(dir, 'tungsten_alpha'), { recursive: true });
              return w.input({ backup: { dir } });
            },
            expect: /does not contain tungsten_alpha\.trep_commit_seqno/,
          },
          {
            name: 'a 1 MB argument in the start command',
            input: (w) => {
              const i = w.input();
              return { ...i, replica: { ...i.replica, start: [...i.replica.start, `--comment=${ONE_MB}`] } };
            },
            expect: /replica\.start\.\d+: /,
          },
        ];
        catalogTests({
          runbook: 'tungstenExternalRestore',
          world: () => w,
          cases,
          ...common,
          secrets: () => ['hunter2'],
        });
      });

      describe('with the THL damaged (one at a time)', { concurrency: false }, () => {
        const repair = (w: TungstenCatalogWorld) => w.repairThl();
        const cases: CatalogCase<TungstenCatalogWorld>[] = [
          {
            name: "the Primary's THL no longer holds the backup's position",
            input: async (w) => {
              await w.damageThl((thl, at) => thl.filter((e) => e.seqno > at.seqno));
              return w.input();
            },
            restore: repair,
            expect:
              /^plan: no seqno for the backup's binlog position mysql-bin\.\d{6}:\d{16}: the Primary's THL \(service alpha, seqno \d+–\d+\) has no such event/,
          },
          {
            name: 'thl event id with a quote and a statement after the session id',
            input: async (w) => {
              await w.damageThl((_, at) => void (at.eventId = `${at.eventId}'; DROP DATABASE shop; --`));
              return w.input();
            },
            restore: repair,
            expect: /refusing the answer of `thl list -event .*not a Tungsten event id/,
          },
          {
            name: 'thl source id with a newline that smuggles a second EVENTID',
            input: async (w) => {
              await w.damageThl(
                (_, at) =>
                  void (at.sourceId = `${at.sourceId}\n- EVENTID = mysql-bin.000001:0000000000000256;-1`),
              );
              return w.input();
            },
            restore: repair,
            expect: /refusing the answer of `thl list .*repeats EVENTID/,
          },
          {
            name: 'thl dsctl line whose source id breaks out of its quotes',
            input: async (w) => {
              await w.damageThl((_, at) => void (at.sourceId = 'db1" -seqno "1'));
              return w.input({ thlLookup: 'dsctl' });
            },
            restore: repair,
            expect: /refusing the answer of `thl dsctl -event .*(unexpected thl dsctl output|source id)/,
          },
        ];
        catalogTests({ runbook: 'tungstenExternalRestore', world: () => w, cases, ...common });
      });
    });

    describe('vitessSnapshotRestore', { concurrency: true }, () => {
      let w: VitessCatalogWorld;
      let silent: Server;
      const sockets: Socket[] = [];
      before(async () => {
        // A "binlog server" that accepts connections and never answers.
        silent = createServer((s) => void sockets.push(s));
        await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
        w = await VitessCatalogWorld.build();
      });
      after(async () => {
        for (const s of sockets) s.destroy();
        await new Promise((r) => silent?.close(r));
        await w?.cleanup();
      });
      const cases: CatalogCase<VitessCatalogWorld>[] = [
        {
          name: 'snapshot time before every backup',
          input: (w) => w.input('refused_early', { snapshotTime: w.at.t0 }),
          expect:
            /^choose-backups: no usable backup of commerce\/0 earlier than \S+ in .*: finished at .* not before the snapshot time/,
        },
        {
          name: 'snapshot keyspace already exists',
          input: (w) => w.input(w.existingKeyspace),
          expect:
            /^check-keyspaces: snapshot keyspace existing_snapshot already exists \(SNAPSHOT of commerce at \S+\)/,
        },
        {
          name: 'base keyspace that does not exist (unknown cluster)',
          input: (w) => w.input('refused_nobase', { baseKeyspace: 'nosuchks' }),
          expect: /^check-keyspaces: base keyspace nosuchks does not exist in the topology of vtctld/,
        },
        {
          name: 'a shard with no backup in the storage',
          input: (w) => w.input('refused_noshard', {}, { name: '80-' }),
          expect: /^choose-backups: no backup of commerce\/80- in /,
        },
        {
          name: 'only an unprepared backup',
          input: (w) =>
            w.input('refused_unprepared', { backup: { fileBackupStorageRoot: w.unpreparedRoot } }),
          expect: /^choose-backups: no usable backup of commerce\/0 .*is not prepared/,
        },
        {
          name: 'GTID lookup timeout: nothing at or after the snapshot time',
          input: (w) => w.input('refused_timeout', { snapshotTime: w.at.t2, pitrGtidLookupTimeout: '5s' }),
          expect:
            /^find-snapshot-gtids: commerce\/0: no GTID for \S+ within the lookup timeout \(5s\): the binlog server .* (has no event at or after the snapshot time yet|did not answer in time)/,
        },
        {
          name: 'GTID lookup timeout: a binlog server that does not answer',
          input: (w) =>
            w.input(
              'refused_silent',
              { pitrGtidLookupTimeout: '1500ms' },
              {
                binlogSource: {
                  host: '127.0.0.1',
                  tls: { mode: 'disabled' },
                  port: (silent.address() as { port: number }).port,
                  user: 'vt_repl',
                  password: { env: 'VITESS_CATALOG_BINLOG_PW' },
                },
              },
            ),
          expect:
            /^find-snapshot-gtids: commerce\/0: no GTID for \S+ within the lookup timeout \(1500ms\): the binlog server .* did not answer/,
        },
        {
          name: 'wrong binlog server password',
          input: async (w) => {
            const file = w.dir('wrong-password');
            await writeFile(file, 'not-the-password');
            return w.input(
              'refused_wrongpw',
              {},
              {
                binlogSource: {
                  host: '127.0.0.1',
                  tls: { mode: 'disabled' },
                  port: w.source.server.port,
                  user: 'vt_repl',
                  password: { file },
                },
              },
            );
          },
          expect: /Access denied/,
        },
        {
          name: 'binlog server password from an environment variable that is not set',
          input: (w) =>
            w.input(
              'refused_nopw',
              { pitrGtidLookupTimeout: '3s' },
              {
                binlogSource: {
                  host: '127.0.0.1',
                  tls: { mode: 'disabled' },
                  port: w.source.server.port,
                  user: 'vt_repl',
                  password: { env: UNSET_ENV },
                },
              },
            ),
          expect: new RegExp(`environment variable ${UNSET_ENV} is not set`),
        },
        {
          name: 'a missing middle binlog file in the shard archive (gap)',
          input: async (w) => {
            const dir = w.dir('gappy-archive');
            await cp(w.source.archiveDir, dir, { recursive: true });
            await rm(join(dir, 'mysql-bin.000002'));
            return w.input(
              'refused_gap',
              {},
              {
                binlogSource: {
                  host: '127.0.0.1',
                  tls: { mode: 'disabled' },
                  port: w.source.server.port,
                  user: 'vt_repl',
                  password: { env: 'VITESS_CATALOG_BINLOG_PW' },
                  archive: { kind: 'fs', dir },
                },
              },
            );
          },
          expect: /missing between mysql-bin\.000001 and mysql-bin\.000003/,
        },
        {
          name: 'snapshot keyspace named as the base keyspace',
          input: (w) => w.input('commerce'),
          expect: /snapshotKeyspace: the snapshot keyspace must be a new keyspace/,
        },
        {
          name: 'snapshot time with an offset instead of UTC',
          input: (w) => w.input('refused_offset', { snapshotTime: '2026-01-01T10:00:00+02:00' }),
          expect: /snapshotTime: must be an RFC 3339 UTC time/,
        },
        {
          name: 'snapshot keyspace name with a path',
          input: (w) => w.input('../../etc'),
          expect: /snapshotKeyspace: a keyspace name has letters, digits/,
        },
        {
          name: 'thousands of shards (3000)',
          input: (w) => {
            const i = w.input('refused_many');
            const shard = i.shards[0]!;
            return {
              ...i,
              shards: Array.from({ length: 3000 }, (_, k) => ({
                ...shard,
                name: `s${k}`,
                tabletUid: 10_000 + k,
              })),
            };
          },
          expect: /shards: .*256/,
        },
        {
          name: 'a vschema over 1 MB',
          input: (w) => w.input('refused_vschema', { vschema: { tables: { t: { comment: ONE_MB } } } }),
          expect: /vschema: the vschema is larger than 1 MB/,
        },
      ];
      catalogTests({
        runbook: 'vitessSnapshotRestore',
        world: () => w,
        cases,
        ...common,
        secrets: () => [w.binlogPassword],
      });
    });
  },
);
