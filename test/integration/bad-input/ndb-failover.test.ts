// The bad-input catalog of ndbChannelFailover: every request it must refuse, run for real against its world
// and checked the same way as every runbook's (test/support/catalog-suite.ts, docs/bad-input.md).
import { after, before, describe } from 'node:test';
import { join } from 'node:path';
import { catalogTests, type CatalogCase } from '../../support/catalog-case';
import { catalogFile, UNSET_ENV } from '../../support/catalog-suite';
import { NdbFailoverCatalogWorld } from '../../support/catalog-ndb-failover';

const common = catalogFile();

describe(
  'bad-input catalog: refused with a readable, final error, and nothing changed',
  { concurrency: true },
  () => {
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
  },
);
