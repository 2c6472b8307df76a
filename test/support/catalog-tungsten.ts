// The Tungsten world of the bad-input catalog: the dataservice of scripts/lib/worlds/tungsten.ts (a real
// Primary and Replica, a real backup of the Primary, the stand-in replicator with its THL). Nothing changed =
// the replicator still ONLINE with its THL, no offline/online/purge/dsctl set ever called, the Replica
// running as the same process with the same trep_commit_seqno and tables, and no ledger beside it.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CatalogWorld } from './catalog-case';
import {
  TUNGSTEN_RELEASE,
  tungstenScenario,
  type ThlEntry,
  type TungstenScenario,
} from '../../scripts/lib/worlds/tungsten';

const MUTATIONS = ['offline', 'online', 'purge', 'set'];

export class TungstenCatalogWorld implements CatalogWorld {
  private constructor(
    readonly sc: TungstenScenario,
    private baseline: {
      pid: number | null;
      commit: unknown;
      tables: unknown;
      thlMax: number | null;
      calls: number;
    },
  ) {}

  static async build(): Promise<TungstenCatalogWorld> {
    const sc = await tungstenScenario();
    const w = sc.world;
    return new TungstenCatalogWorld(sc, {
      pid: await w.replica.pid(),
      commit: await w.commitRow(w.replica),
      tables: await w.fingerprint(w.replica),
      thlMax: (await w.readState()).services.alpha!.localThl?.max ?? null,
      calls: (await w.calls()).length,
    });
  }

  input(extra: Record<string, unknown> = {}) {
    const r = this.sc.world.replica;
    return {
      service: 'alpha',
      replica: {
        name: 'db2',
        datadir: r.datadir,
        pidFile: r.pidFile,
        start: r.argv,
        connection: this.sc.world.replicaEndpoint,
      },
      backup: { dir: this.sc.backupDir },
      verify: { schemas: ['shop'] },
      heartbeatTimeout: '10s',
      onlineTimeout: '2m',
      ...extra,
    };
  }

  dir(name: string): string {
    return join(this.sc.world.base, name);
  }

  private savedThl: ThlEntry[] | null = null;

  /** Edits the stand-in's THL entry at the backup's position (the Primary's THL as a broken or hostile thl prints it). */
  async damageThl(edit: (entries: ThlEntry[], atBackup: ThlEntry) => ThlEntry[] | void): Promise<void> {
    const w = this.sc.world;
    const st = await w.readState();
    const svc = st.services.alpha!;
    this.savedThl = structuredClone(svc.thl);
    const atBackup = svc.thl.find((e) => e.seqno === this.sc.atBackup.seqno)!;
    svc.thl = edit(svc.thl, atBackup) ?? svc.thl;
    await w.writeState(st);
  }

  /** What the stand-ins' `trepctl version` prints (and which tools thl has); none: the default 7.x. */
  async setRelease(release = TUNGSTEN_RELEASE): Promise<void> {
    const w = this.sc.world;
    const st = await w.readState();
    st.services.alpha!.release = release;
    await w.writeState(st);
  }

  /** Puts the THL back as it was; the replicator's own fields are left to nothingChanged(). */
  async repairThl(): Promise<void> {
    if (!this.savedThl) return;
    const w = this.sc.world;
    const st = await w.readState();
    st.services.alpha!.thl = this.savedThl;
    await w.writeState(st);
    this.savedThl = null;
  }

  async nothingChanged(): Promise<string[]> {
    const w = this.sc.world;
    const svc = (await w.readState()).services.alpha!;
    assert.equal(svc.state, 'ONLINE', 'the replicator is not ONLINE');
    assert.equal(svc.localThl?.max ?? null, this.baseline.thlMax, 'the THL was purged');
    const mutations = (await w.calls(this.baseline.calls)).filter((c) => MUTATIONS.includes(c[3] ?? ''));
    assert.deepEqual(mutations, [], 'a replicator command that changes state was run');
    assert.equal(await w.replica.pid(), this.baseline.pid, 'the Replica was restarted');
    assert.deepEqual(await w.commitRow(w.replica), this.baseline.commit, 'trep_commit_seqno changed');
    assert.deepEqual(await w.fingerprint(w.replica), this.baseline.tables, 'the Replica tables changed');
    assert.equal(
      await stat(`${w.replica.datadir}.runbook-ledger`).catch(() => null),
      null,
      'a ledger was written',
    );
    return [
      'replicator ONLINE, THL not purged, no offline/online/purge/set call',
      'Replica up (same pid, trep_commit_seqno, table checksums), no ledger',
    ];
  }

  async cleanup(): Promise<void> {
    await this.sc.world.cleanup();
  }
}
