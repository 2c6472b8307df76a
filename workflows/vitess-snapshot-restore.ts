// Vitess point-in-time recovery into a SNAPSHOT keyspace (shared/procedures/vitess-point-in-time-recovery.txt).
// The procedure, and the step of this runbook that does each part of it:
//   1. vtctlclient CreateKeyspace -keyspace_type=SNAPSHOT -base_keyspace=<ks> -snapshot_time=<UTC> <restoreks>
//                                                           → create-snapshot-keyspace ⚠
//   2. the most recent usable backup of the base keyspace earlier than the snapshot time, per shard
//                                                           → choose-backups
//   3. restore each shard from that backup               → restore-shards ⚠: one child workflow
//                                                             vitessShardRestore per shard (below)
//   4. the GTID for the snapshot time from the binlog server, within -pitr_gtid_lookup_timeout (1m)
//                                                           → find-snapshot-gtids
//   5. apply the binlog events up to the snapshot time     → restore-shards (child step apply-binlogs)
//      then a vttablet per shard (-init_keyspace, -init_shard) serves it → child step start-tablet
// Who restores: the runbook, not vttablet's -restore_from_backup (MySQL-only SQL, and a PITR failure
// there is only a log line while the tablet serves the backup position): docs/vitess-snapshot-restore.md.
//   6. the base keyspace's vschema on the snapshot keyspace; require_explicit_routing when it is changed
//                                                           → copy-vschema
// Plan first: check-keyspaces, choose-backups and find-snapshot-gtids only read, and run before the
// keyspace is created, so every refusal (keyspace exists, no backup before the time, no GTID within the
// timeout) leaves the topology and the hosts as they were. `mode: "plan"` stops there.
import { executeChild, patched } from '@temporalio/workflow';
import type { ChosenBackup } from '../activities/vitess/backups';
import type { GtidLookup } from '../activities/vitess/gtid-lookup';
import type { TabletSpec } from '../activities/vitess/tablet';
import type { TabletState } from '../activities/vitess/tablet-process';
import type { ReplayResult } from '../activities/replay/replay';
import { VITESS_SNAPSHOT } from './runbooks';
import { Runbook, rootMessage, type RunbookResult, type StepState } from './kit';
import { openRunbook } from './request-input';
import { proveAndVerify } from './verify-step';
import { long, quickOn } from './routing';
import type { Archive, Dialect, Endpoint, SecretRef, TableFingerprint } from './schemas';
import { keyspaceLedgerDir, shardDir, tabletAlias, type VitessTopo } from './schemas-vitess';

const RESTORE_STEPS = [
  { name: 'restore-backup', destructive: true },
  { name: 'start-mysqld' },
  { name: 'apply-binlogs' },
  { name: 'verify' },
] as const;

/** One shard, as its child workflow restores it: the runbook restores, then vttablet serves the result. */
export const SHARD_STEPS = [...RESTORE_STEPS, { name: 'start-tablet' }] as const;

/** Runs recorded before TABLET_SERVES_RESTORED registered vttablet first (with -restore_from_backup). */
const SHARD_STEPS_BEFORE = [{ name: 'register-tablet' }, ...RESTORE_STEPS] as const;
type ShardStep = (typeof SHARD_STEPS)[number]['name'] | (typeof SHARD_STEPS_BEFORE)[number]['name'];

/** The patch that made vttablet a supervised server of the runbook's restore, started after verify. */
export const TABLET_SERVES_RESTORED = 'vitess-tablet-serves-restored';

export interface VitessShardPlan {
  shard: string;
  tablet: string;
  backup: Pick<ChosenBackup, 'name' | 'dir' | 'consistentAt' | 'dialect'> & { position: string };
  replay: GtidLookup['replay'];
  datadir: string;
}

export interface VitessShardResult {
  shard: string;
  tablet: string;
  /** The restored mysqld, left running as the tablet's database. */
  endpoint: Endpoint;
  replay: Pick<ReplayResult, 'stateBefore' | 'stateAfter' | 'transactionsApplied'>;
  tables: Record<string, TableFingerprint>;
  /** The supervised vttablet serving the restored mysqld (runs recorded before it have none). */
  vttablet?: TabletState;
  steps: StepState[];
}

export interface VitessResult extends RunbookResult<VitessShardPlan[]> {
  baseKeyspace: string;
  snapshotKeyspace: string;
  snapshotTime: string;
  shards?: VitessShardResult[];
  vschema?: { from: 'base' | 'input'; vschema: Record<string, unknown> };
}

export async function vitessSnapshotRestore(raw: unknown): Promise<VitessResult> {
  const { input, rb } = await openRunbook(VITESS_SNAPSHOT, raw);
  const recoveryId = rb.recoveryId;
  const dbName = input.dbName ?? `vt_${input.baseKeyspace}`;
  const vtctl = quickOn(input.vtctld.host);
  const root = input.tablets.root;
  const shards = input.shards.map((s) => {
    const dir = shardDir(root, input.snapshotKeyspace, s.name);
    return {
      ...s,
      alias: tabletAlias(input.tablets.cell, s.tabletUid),
      datadir: `${dir}/data`,
      staging: `${dir}/binlogs`,
    };
  });
  const topology = {
    recoveryId,
    server: input.vtctld.server,
    baseKeyspace: input.baseKeyspace,
    snapshotKeyspace: input.snapshotKeyspace,
    snapshotTime: input.snapshotTime,
    ledgerDir: keyspaceLedgerDir(root, input.snapshotKeyspace),
    tablets: shards.map((s) => ({ alias: s.alias, shard: s.name })),
  };

  await rb.step('check-keyspaces', () => vtctl.checkVitessTopology(topology));

  const { backups } = await rb.step('choose-backups', () =>
    // The file backup storage is mounted on the shards' hosts (they copy back from it).
    quickOn(input.backup.host ?? input.shards[0]?.host).chooseVitessBackups({
      fileBackupStorageRoot: input.backup.fileBackupStorageRoot,
      baseKeyspace: input.baseKeyspace,
      shards: shards.map((s) => s.name),
      snapshotTime: input.snapshotTime,
    }),
  );
  const backupOf = (shard: string): ChosenBackup => backups[shard]!;

  const lookups = await rb.step('find-snapshot-gtids', async () => {
    const found = await Promise.all(
      shards.map((s) =>
        long(s.host, input.heartbeatTimeout).findSnapshotGtid({
          recoveryId,
          keyspace: input.baseKeyspace,
          shard: s.name,
          snapshotTime: input.snapshotTime,
          timeout: input.pitrGtidLookupTimeout,
          backup: backupOf(s.name),
          source: s.binlogSource,
          stagingDir: s.staging,
        }),
      ),
    );
    return { found, evidence: found.flatMap((f) => f.evidence ?? []) };
  });
  const lookupOf = (i: number): GtidLookup => lookups.found[i]!;

  const plan: VitessShardPlan[] = shards.map((s, i) => {
    const b = backupOf(s.name);
    return {
      shard: s.name,
      tablet: s.alias,
      backup: {
        name: b.name,
        dir: b.dir,
        consistentAt: b.consistentAt,
        dialect: b.dialect,
        position: b.manifest.Position,
      },
      replay: lookupOf(i).replay,
      datadir: s.datadir,
    };
  });
  const result = (): VitessResult => ({
    ...rb.result(plan),
    baseKeyspace: input.baseKeyspace,
    snapshotKeyspace: input.snapshotKeyspace,
    snapshotTime: input.snapshotTime,
  });
  if (input.mode === 'plan') return result();

  await rb.destructive('create-snapshot-keyspace', () => vtctl.createSnapshotKeyspace(topology));

  const restored = await rb.destructive('restore-shards', async () => {
    const runs = await Promise.allSettled(
      shards.map((s, i) => {
        const b = backupOf(s.name);
        const lookup = lookupOf(i);
        const child: VitessShardRestoreInput = {
          recoveryId,
          baseKeyspace: input.baseKeyspace,
          snapshotKeyspace: input.snapshotKeyspace,
          snapshotTime: input.snapshotTime,
          shard: s.name,
          host: s.host,
          vtctldServer: input.vtctld.server,
          ...(input.vtctld.topo ? { topo: input.vtctld.topo } : {}),
          heartbeatTimeout: input.heartbeatTimeout,
          hostTimeout: input.hostTimeout,
          tablet: {
            alias: s.alias,
            snapshotKeyspace: input.snapshotKeyspace,
            shard: s.name,
            dbName,
            fileBackupStorageRoot: input.backup.fileBackupStorageRoot,
            binlog: {
              host: s.binlogSource.host,
              port: s.binlogSource.port,
              user: s.binlogSource.user,
              password: s.binlogSource.password,
              ...(s.binlogSource.tls ? { tls: s.binlogSource.tls } : {}),
            },
            pitrGtidLookupTimeout: input.pitrGtidLookupTimeout,
          },
          backup: b,
          dialect: b.dialect,
          datadir: s.datadir,
          serverId: s.tabletUid,
          user: input.tablets.user,
          password: input.tablets.password,
          replay: lookup.replay,
          archive: lookup.archive,
          stagingDir: lookup.stagingDir,
          schemas: [dbName],
        };
        // One child per snapshot keyspace and shard at any time: a second recovery of the same shard
        // cannot start while one runs (Temporal refuses the duplicate id), and a new run continues it.
        return executeChild(vitessShardRestore, {
          workflowId: `vitessShardRestore:${input.snapshotKeyspace}/${s.name}`,
          args: [child],
        });
      }),
    );
    const failed = runs.flatMap((r, i) =>
      r.status === 'rejected' ? [`${shards[i]!.name}: ${rootMessage(r.reason)}`] : [],
    );
    if (failed.length)
      throw new Error(
        `${failed.length} of ${shards.length} shard(s) failed (${failed.join('; ')}); the others are restored. ` +
          'Fix the cause and start the recovery again with the same recoveryId: restored shards are skipped',
      );
    const done = runs.map((r) => (r as PromiseFulfilledResult<VitessShardResult>).value);
    return {
      done,
      evidence: done.map(
        (d) =>
          `${input.snapshotKeyspace}/${d.shard}: tablet ${d.tablet} on ${d.endpoint.socket}, GTID ${d.replay.stateAfter || '(empty)'}, ${Object.keys(d.tables).length} table(s) verified`,
      ),
    };
  });

  const vschema = await rb.step('copy-vschema', () =>
    vtctl.copySnapshotVSchema({
      server: input.vtctld.server,
      baseKeyspace: input.baseKeyspace,
      snapshotKeyspace: input.snapshotKeyspace,
      override: input.vschema,
    }),
  );

  return {
    ...result(),
    shards: restored.done,
    vschema: { from: vschema.from, vschema: vschema.vschema },
  };
}

/** What the parent hands each shard's child: everything already planned. */
export interface VitessShardRestoreInput {
  recoveryId: string;
  baseKeyspace: string;
  snapshotKeyspace: string;
  snapshotTime: string;
  shard: string;
  host?: string;
  vtctldServer: string;
  /** The topology server vttablet registers in (absent in runs recorded before it). */
  topo?: VitessTopo;
  heartbeatTimeout: string;
  /** Absent in runs started before host agents existed. */
  hostTimeout?: string;
  /** The recovery tablet; its -db_socket is the restored mysqld's, known on the shard's host. */
  tablet: Omit<TabletSpec, 'socket'>;
  backup: ChosenBackup;
  dialect: Dialect;
  datadir: string;
  serverId: number;
  user: string;
  password?: SecretRef;
  replay: GtidLookup['replay'];
  archive: Archive;
  stagingDir: string;
  schemas: string[];
}

/**
 * One shard of the snapshot keyspace (procedure steps 3 and 5): copies the chosen backup back into
 * the shard's own datadir, starts mysqld on it (private socket, GTID state seeded from the backup),
 * applies the binlogs through the snapshot GTID, proves and fingerprints the result, and only then
 * starts the recovery tablet serving it (supervised; verified at the proven GTID state). Started by
 * vitessSnapshotRestore only.
 */
export async function vitessShardRestore(input: VitessShardRestoreInput): Promise<VitessShardResult> {
  const servesRestored = patched(TABLET_SERVES_RESTORED);
  const rb = new Runbook<ShardStep>(
    'vitessShardRestore',
    {
      recoveryId: input.recoveryId,
      mode: 'run',
      requireApproval: false, // the parent's restore-shards step was the approval
      approvalTimeout: '1m',
      cluster: `${input.baseKeyspace}/${input.shard}`,
      target: `time:${input.snapshotTime}`,
      hostTimeout: input.hostTimeout,
    },
    servesRestored ? SHARD_STEPS : SHARD_STEPS_BEFORE,
  );
  const host = long(input.host, input.heartbeatTimeout);
  const server = {
    recoveryId: input.recoveryId,
    datadir: input.datadir,
    binlogBasename: `vt-${String(input.serverId).padStart(10, '0')}-bin`,
    serverId: input.serverId,
    dialect: input.dialect,
    user: input.user,
    password: input.password,
  };
  // Recorded runs only: the activity now refuses (vttablet would restore over the runbook's datadir).
  if (!servesRestored) await rb.step('register-tablet', () => quickOn(input.host).registerVitessTablet());
  await rb.destructive('restore-backup', () =>
    host.restoreBackup({ recoveryId: input.recoveryId, backup: input.backup.info, datadir: input.datadir }),
  );
  const { endpoint } = await rb.step('start-mysqld', () =>
    host.startTemporaryServer({ ...server, backupGtid: input.backup.info.gtid }),
  );
  const replay = await rb.step('apply-binlogs', () =>
    host.replayBinlogs(input.archive, {
      recoveryId: input.recoveryId,
      dialect: input.dialect,
      endpoint,
      plan: input.replay,
      backupPosition: { file: input.backup.info.file, position: input.backup.info.position },
      force: false,
      stagingDir: input.stagingDir,
      server: { ...server, backupGtid: input.backup.info.gtid },
    }),
  );
  const verification = await rb.step('verify', () =>
    proveAndVerify(
      host,
      input.archive,
      { plan: input.replay, stagingDir: input.stagingDir, server, endpoint },
      { schemas: input.schemas },
      endpoint,
    ),
  );
  const started = !servesRestored
    ? null
    : await rb.step('start-tablet', () =>
        host.startVitessTablet({
          vtctldServer: input.vtctldServer,
          alias: input.tablet.alias,
          keyspace: input.snapshotKeyspace,
          shard: input.shard,
          dbName: input.tablet.dbName,
          ...(input.topo ? { topo: input.topo } : {}),
          datadir: input.datadir,
          endpoint,
          dialect: input.dialect,
          expectGtid: replay.stateAfter,
        }),
      );
  return {
    shard: input.shard,
    tablet: input.tablet.alias,
    endpoint,
    ...(started ? { vttablet: started.tablet } : {}),
    replay: {
      stateBefore: replay.stateBefore,
      stateAfter: replay.stateAfter,
      transactionsApplied: replay.transactionsApplied,
    },
    tables: verification.tables,
    steps: rb.progress().steps,
  };
}
