// The Percona world of the bad-input catalog: the recorded accident (percona-scenario.ts) on a real
// MariaDB source with its archive and a prepared backup, and the stand-in Kubernetes cluster. Nothing
// changed = the restore datadir (and its ledger) never created, the source running as the same
// process with the same tables and GTID position, the cluster not paused.
import assert from 'node:assert/strict';
import { cp, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gtidPos, fingerprint } from '../../scripts/lib/scenario';
import type { CatalogWorld } from './catalog-case';
import { addStandInCluster, recordAccident, standInCluster, type Accident } from './percona-scenario';

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

export class PerconaCatalogWorld implements CatalogWorld {
  private n = 0;
  /** Directories that existed before a case named them as the datadir: their identity and entries. */
  private readonly kept = new Map<string, string>();
  private constructor(
    readonly acc: Accident,
    readonly kubectlState: string,
    private readonly baseline: { pid: number | null; gtid: string; tables: unknown; cluster: string },
  ) {}

  static async build(): Promise<PerconaCatalogWorld> {
    const acc = await recordAccident({ afterBackup: 500 });
    const kubectlState = await standInCluster(join(acc.base, 'k8s'), 'shop');
    // Two clusters the runbook must refuse: three members, and one the operator reports in error.
    await addStandInCluster(kubectlState, 'shop3', 'ready', { size: 3 });
    await addStandInCluster(kubectlState, 'shop-broken', 'ready', {
      reconcileError: 'get orchestrator statefulset: etcdserver: request timed out',
    });
    return new PerconaCatalogWorld(acc, kubectlState, {
      pid: await acc.source.server.pid(),
      gtid: await gtidPos(acc.source.server),
      tables: await fingerprint(acc.source.sql, acc.source.endpoint),
      cluster: await readFile(kubectlState, 'utf8'),
    });
  }

  /** A request that would restore into a fresh datadir of its own, pausing the stand-in cluster. */
  input(target: object, extra: Record<string, unknown> = {}) {
    this.n++;
    return {
      cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'shop' },
      backup: { dir: this.acc.backupDir },
      restore: { datadir: join(this.acc.base, `restore-${this.n}`, 'data') },
      archive: { kind: 'fs', dir: this.acc.source.archiveDir },
      verify: { schemas: ['shop'] },
      heartbeatTimeout: '10s',
      target,
      ...extra,
    };
  }

  private catalog: string | undefined;
  /** A backup catalog (backup.catalog) holding one copy of the world's prepared backup, `full`. */
  async backupCatalog() {
    if (!this.catalog) {
      this.catalog = this.dir('backup-catalog');
      await cp(this.acc.backupDir, join(this.catalog, 'full'), { recursive: true });
    }
    return { catalog: { kind: 'fs', dir: this.catalog } };
  }

  /** Notes an existing directory a case names as the datadir: afterwards it must be exactly as it was. */
  async keep(dir: string): Promise<string> {
    this.kept.set(dir, await this.identity(dir));
    return dir;
  }

  private async identity(dir: string): Promise<string> {
    const st = await stat(dir);
    return `${st.dev}:${st.ino}:${(await readdir(dir)).sort().join(',')}`;
  }

  /** A directory of this world's own (for a case's prepared backup or archive). */
  dir(name: string): string {
    return join(this.acc.base, name);
  }

  async nothingChanged(input: unknown): Promise<string[]> {
    const datadir = (input as { restore?: { datadir?: unknown } }).restore?.datadir;
    const checks: string[] = [];
    const kept = typeof datadir === 'string' ? this.kept.get(datadir) : undefined;
    if (typeof datadir === 'string' && kept) {
      assert.equal(await this.identity(datadir), kept, `${datadir} was changed (moved, or its entries)`);
      const parent = dirname(datadir.replace(/\/+$/, ''));
      const moved = (await readdir(parent)).filter((e) => /\.(before|restored|moved)-/.test(e));
      assert.deepEqual(moved, [], `something was moved aside beside ${datadir}`);
      checks.push('the named directory unchanged, nothing moved aside');
    } else if (typeof datadir === 'string' && datadir.startsWith('/')) {
      assert.equal(await exists(datadir), false, `the restore datadir ${datadir} was created`);
      assert.equal(await exists(`${datadir}.runbook-ledger`), false, 'a ledger was written');
      checks.push('restore datadir and ledger absent');
    }
    const s = this.acc.source;
    assert.equal(await s.server.pid(), this.baseline.pid, 'the source was restarted');
    assert.equal(await gtidPos(s.server), this.baseline.gtid, 'the source moved on');
    assert.deepEqual(await fingerprint(s.sql, s.endpoint), this.baseline.tables);
    checks.push('source up (same pid, GTID, table checksums)');
    assert.equal(await readFile(this.kubectlState, 'utf8'), this.baseline.cluster, 'the cluster changed');
    checks.push('cluster not paused');
    return checks;
  }

  async cleanup(): Promise<void> {
    await this.acc.cleanup();
  }
}
