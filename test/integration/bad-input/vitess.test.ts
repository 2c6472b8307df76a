// The bad-input catalog of vitessSnapshotRestore: every request it must refuse, run for real against its world
// and checked the same way as every runbook's (test/support/catalog-suite.ts, docs/bad-input.md).
import { after, before, describe } from 'node:test';
import { createServer, type Server, type Socket } from 'node:net';
import { cp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { catalogTests, type CatalogCase } from '../../support/catalog-case';
import { catalogFile, ONE_MB, UNSET_ENV } from '../../support/catalog-suite';
import { VitessCatalogWorld } from '../../support/catalog-vitess';

const common = catalogFile();

describe(
  'bad-input catalog: refused with a readable, final error, and nothing changed',
  { concurrency: true },
  () => {
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
          // vttablet exits at once without a topology server (go/vt/topo/server.go): refused before anything runs.
          name: 'a catalog entry that names no topology server for vttablet',
          input: (w) => w.input('refused_notopo', { vtctld: { server: 'localhost:15999' } }),
          expect: /vtctld\.topo: the topology server vttablet registers in .* is missing/,
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
