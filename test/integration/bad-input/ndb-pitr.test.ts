// The bad-input catalog of ndbPointInTimeRecovery: every request it must refuse, run for real against its world
// and checked the same way as every runbook's (test/support/catalog-suite.ts, docs/bad-input.md).
import { after, before, describe } from 'node:test';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { catalogTests, type CatalogCase } from '../../support/catalog-case';
import { catalogFile, UNSET_ENV } from '../../support/catalog-suite';
import { NdbPitrCatalogWorld } from '../../support/catalog-ndb-pitr';
import { secondBoundary } from '../../../scripts/lib/scenario';
import { flipBitInEventBody } from '../../support/damage';

const common = catalogFile();

describe(
  'bad-input catalog: refused with a readable, final error, and nothing changed',
  { concurrency: true },
  () => {
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
  },
);
