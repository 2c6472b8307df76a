// The bad-input catalog of tungstenExternalRestore: every request it must refuse, run for real against its world
// and checked the same way as every runbook's (test/support/catalog-suite.ts, docs/bad-input.md).
import { after, before, describe } from 'node:test';
import { cp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { catalogTests, type CatalogCase } from '../../support/catalog-case';
import { catalogFile, ONE_MB, UNSET_ENV } from '../../support/catalog-suite';
import { TungstenCatalogWorld } from '../../support/catalog-tungsten';

const common = catalogFile();

describe(
  'bad-input catalog: refused with a readable, final error, and nothing changed',
  { concurrency: true },
  () => {
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

      describe('on a Tungsten release whose tools the runbook does not speak', { concurrency: false }, () => {
        const restore = (w: TungstenCatalogWorld) => w.setRelease();
        const cases: CatalogCase<TungstenCatalogWorld>[] = [
          {
            // 5.x has no `thl list -event` and no `thl dsctl`: refused as such, not as "no seqno".
            name: 'a Tungsten 5.x replicator',
            input: async (w) => {
              await w.setRelease('Tungsten Replicator 5.3.0 build 38');
              return w.input();
            },
            restore,
            expect:
              /^plan: Tungsten Replicator 5\.3\.0 build 38 on the Replica is not supported: this runbook supports Tungsten 6\.x and 7\.x .*Nothing was changed\.$/,
          },
          {
            name: 'a Tungsten 5.x replicator, with thl dsctl asked for',
            input: async (w) => {
              await w.setRelease('Tungsten Replicator 5.3.0 build 38');
              return w.input({ thlLookup: 'dsctl' });
            },
            restore,
            expect: /^plan: Tungsten Replicator 5\.3\.0 build 38 on the Replica is not supported/,
          },
          {
            name: 'a release the runbook has not been checked against (8.x)',
            input: async (w) => {
              await w.setRelease('Tungsten Replicator 8.0.1 build 12');
              return w.input();
            },
            restore,
            expect: /^plan: Tungsten Replicator 8\.0\.1 build 12 on the Replica is not supported/,
          },
          {
            name: 'a trepctl version that prints no release',
            input: async (w) => {
              await w.setRelease('null');
              return w.input();
            },
            restore,
            expect: /^plan: cannot tell the Tungsten release on the Replica: trepctl version printed "null"/,
          },
        ];
        catalogTests({ runbook: 'tungstenExternalRestore', world: () => w, cases, ...common });
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
  },
);
