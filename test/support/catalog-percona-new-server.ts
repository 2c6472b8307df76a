// Bad input of perconaPointInTimeRecovery's restore to a new server (docs/percona-pitr.md#restore-to-a-new-server),
// run by the Percona bad-input catalog (test/integration/bad-input/percona.test.ts) against its world.
import type { CatalogCase } from './catalog-case';
import type { PerconaCatalogWorld } from './catalog-percona';

export const newServerCases: CatalogCase<PerconaCatalogWorld>[] = [
  {
    name: 'restoreTo a new server the catalog does not list',
    input: (w) => w.input({ type: 'latest' }, { restoreTo: 'mine' }),
    expect:
      /restoreTo: no new server named mine in this cluster's fleet catalog entry \(it offers: in-place\)/,
  },
  {
    // Production is sacred: a new server must never be the cluster's own datadir.
    name: "a new server whose datadir is the cluster's",
    input: (w) => {
      const i = w.input({ type: 'latest' });
      return {
        ...i,
        newServers: { n: { datadir: i.restore.datadir, port: 1, serverId: 9 } },
        restoreTo: 'n',
      };
    },
    expect: /^locate-binlogs: refusing .* as a datadir: it overlaps the cluster's datadir/,
  },
  {
    name: 'a new server whose default socket path is too long for a unix socket',
    input: (w) =>
      w.input({ type: 'latest' }, { newServers: { n: { datadir: `/srv/${'d'.repeat(120)}`, serverId: 9 } } }),
    expect: /newServers.n.socket: the default socket <datadir>\/mysql.sock would exceed 107 bytes/,
  },
];
