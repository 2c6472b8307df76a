// The bad-input catalog of perconaPointInTimeRecovery: every request it must refuse, run for real against its world
// and checked the same way as every runbook's (test/support/catalog-suite.ts, docs/bad-input.md).
import { after, before, describe } from 'node:test';
import { cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { catalogTests, type CatalogCase } from '../../support/catalog-case';
import { catalogFile, ONE_MB, UNSET_ENV } from '../../support/catalog-suite';
import { PerconaCatalogWorld } from '../../support/catalog-percona';
import { newServerCases } from '../../support/catalog-percona-new-server';
import { startMariadbServer } from '../../../scripts/lib/mariadb-server';
import { cutInsideAnEvent, editEventKeepingChecksum, flipBitInEventBody } from '../../support/damage';

const common = catalogFile();
const TEN_MB = 'x'.repeat(10 * 1024 * 1024);

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
          name: 'a backup catalog whose every backup is newer than the target',
          input: async (w) =>
            w.input({ type: 'time', time: '2001-01-01T00:00:00Z' }, { backup: await w.backupCatalog() }),
          expect: /older than every usable backup of the backup catalog .* the oldest is full/,
        },
        {
          name: 'a backupName the backup catalog does not hold',
          input: async (w) =>
            w.input({ type: 'latest' }, { backup: await w.backupCatalog(), backupName: 'full-1999' }),
          expect: /holds no backup named full-1999 \(it holds: full\)/,
        },
        {
          name: 'a backupName that is a path',
          input: async (w) =>
            w.input({ type: 'latest' }, { backup: await w.backupCatalog(), backupName: '../backup' }),
          expect: /backupName: a backup name as `runbook backups` lists it/,
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
          // Restoring one datadir would leave the other two members with their old data (issue 19, item 11).
          name: 'a Kubernetes cluster of three MySQL members',
          input: (w) => ({
            ...w.input({ type: 'latest' }),
            cluster: { adapter: 'kubernetes', name: 'shop3', namespace: 'db', resource: 'shop3' },
          }),
          expect:
            /^locate-binlogs: perconaservermysql\/shop3 \(namespace db\) has 3 MySQL members .*diverged from the restored one.*Nothing was changed/,
        },
        {
          // The operator's error state is final at once, not waited on for 30 minutes (issue 19, item 12).
          name: 'a Kubernetes cluster the operator reports in error',
          input: (w) => ({
            ...w.input({ type: 'latest' }),
            cluster: { adapter: 'kubernetes', name: 'shop-broken', namespace: 'db', resource: 'shop-broken' },
          }),
          expect: /^locate-binlogs: perconaservermysql\/shop-broken .* is in state error: .*ErrorReconcile/,
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
        ...newServerCases,
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
  },
);
