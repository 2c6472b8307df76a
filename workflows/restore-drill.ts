// A restore drill (docs/restore-drills.md), started by the cluster's Temporal Schedule:
//   1. prepare   refuse a scratch server that is production; measure the archive's lag (RPO); write
//                a marker transaction on the source and fingerprint the drill's schemas at its GTID;
//                wait until the archive holds it
//   2. recover   perconaPointInTimeRecovery as a child, into the scratch server (restoreTo), from the
//                newest backup to the marker's GTID, verified against the source's fingerprints
//   3. check     CHECK TABLE on every restored table of the drill's schemas
//   4. record    the result, the measured RTO and the RPO, durably on the controller; a failed drill
//                is alerted through the catalog's signed webhook
//   5. teardown  the scratch server stopped and emptied for the next drill
// It is asked for by cluster name only: everything else comes from the workers' fleet catalog.
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  executeChild,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { failure, isFailureType } from './failures';
import { rootMessage } from './kit';
import type { PerconaResult } from './percona-point-in-time-recovery';
import { quickOn, type SqlActivities } from './routing';
import { SLUG_PATTERN, type TableFingerprint } from './schemas';
import type { DrillRecord } from './schemas-drill';

/** The drill's controller work: the marker's wait for the archive may last `archiveWait`, so it heartbeats. */
const controller = proxyActivities<Pick<SqlActivities, 'prepareDrill' | 'recordDrill' | 'alertDrill'>>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});
type Host = Pick<Activities, 'checkDrillTables' | 'teardownDrill'>;

/**
 * The drill's recovery id (and its child's workflow id): the cluster and the drill's start time, both
 * in its history (a saved history replays under another workflow id), as a valid slug.
 */
export function drillRecoveryId(cluster: string, startedAt: Date): string {
  const t = startedAt.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `drill-${cluster.slice(0, 70)}-${t}`;
}

/** Differences between the restored fingerprints and the source's at the marker. */
export function fingerprintDiffs(
  restored: Record<string, TableFingerprint> | undefined,
  source: Record<string, TableFingerprint>,
): string[] {
  const got = restored ?? {};
  const out: string[] = [];
  for (const [t, want] of Object.entries(source)) {
    const g = got[t];
    if (!g) out.push(`${t} is missing on the scratch server`);
    else if (g.rows !== want.rows || g.checksum !== want.checksum)
      out.push(
        `${t}: ${g.rows} rows, checksum ${g.checksum} restored; the source had ${want.rows} rows, checksum ${want.checksum}`,
      );
  }
  for (const t of Object.keys(got)) if (!(t in source)) out.push(`${t} exists only on the scratch server`);
  return out;
}

const typeOf = (err: unknown): string | undefined => {
  let e: unknown = err;
  while (e instanceof ActivityFailure || e instanceof ChildWorkflowFailure) e = e.cause;
  return e instanceof ApplicationFailure ? (e.type ?? undefined) : undefined;
};

export async function restoreDrill(raw: unknown): Promise<DrillRecord> {
  const cluster = (raw as { cluster?: unknown } | null)?.cluster;
  if (typeof cluster !== 'string' || !SLUG_PATTERN.test(cluster))
    throw failure('InvalidInput', 'invalid drill request: give {"cluster": "<fleet catalog entry>"}');
  const { workflowId, startTime } = workflowInfo();
  const recoveryId = drillRecoveryId(cluster, startTime);
  const record: DrillRecord = {
    cluster,
    workflowId,
    recoveryId,
    at: startTime.toISOString(),
    result: 'failed',
  };
  let failType = 'DrillFailed';
  let host: Host | undefined;
  let recovered = false;
  try {
    const point = await controller.prepareDrill({ cluster, drillId: workflowId });
    record.rpoSeconds = point.rpoSeconds;
    record.gtid = point.gtid;
    host = quickOn(point.scratchHost ?? undefined);
    const t0 = Date.now();
    recovered = true;
    const r = await executeChild<(raw: unknown) => Promise<PerconaResult>>('perconaPointInTimeRecovery', {
      workflowId: recoveryId,
      args: [
        {
          cluster,
          recoveryId,
          restoreTo: point.scratch,
          target: { type: 'gtid', gtid: point.gtid },
          verify: { schemas: point.schemas, expected: point.fingerprints },
        },
      ],
    });
    const checked = await host.checkDrillTables({ cluster, schemas: point.schemas });
    record.rtoMs = Date.now() - t0;
    const problems = [...fingerprintDiffs(r.tables, point.fingerprints), ...checked.problems];
    if (!r.proof) problems.push('the recovery returned no replay proof');
    if (problems.length) record.why = problems.join('; ');
    else {
      record.result = 'passed';
      record.tables = checked.tables;
    }
  } catch (err) {
    const type = typeOf(err);
    if (type === 'DrillRefused' || type === 'InvalidInput') failType = type;
    record.why = rootMessage(err);
  }
  if (recovered && host) {
    try {
      const t = await host.teardownDrill({ cluster, recoveryId });
      const left = t.evidence.filter((e) => e.endsWith('left as it is'));
      if (left.length) record.why = [record.why, ...left].filter(Boolean).join('; ');
    } catch (err) {
      record.why = [record.why, `teardown: ${rootMessage(err)}`].filter(Boolean).join('; ');
    }
  }
  if (record.result === 'failed') {
    try {
      const sent = await controller.alertDrill(record);
      record.alert = `delivered to ${sent.url} (HTTP ${sent.status})`;
    } catch (err) {
      record.alert = `not delivered: ${rootMessage(err)}`;
    }
  }
  await controller.recordDrill(record);
  if (record.result === 'failed')
    throw failure(
      isFailureType(failType) ? failType : 'DrillFailed',
      `drill of ${cluster} failed: ${record.why}`,
    );
  return record;
}
