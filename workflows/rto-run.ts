// The RTO estimate in a Percona run: the plan's facts and the restore host's rates give the estimate
// (workflows/rto-estimate.ts) the plan shows; a run that completes compares it with its steps' own
// times and gives the host its new samples (activities/runtime/rates.ts). Workflow code: recording
// is an activity behind the patch `rto-rates`, so runs recorded before it replay unchanged, and it
// never changes how the run ends.
import { CancellationScope, log, patched } from '@temporalio/workflow';
import type { PerconaPlan } from '../activities/percona/percona';
import type { Runbook } from './kit';
import { quickOn } from './routing';
import {
  compareRto,
  estimateRto,
  ratesFromRun,
  type RtoComparison,
  type RtoEstimate,
  type RtoFacts,
} from './rto-estimate';

/** Workflow patch: a completed run records its rates on the restore host. */
export const RTO_RATES_PATCH = 'rto-rates';

/** What a plan and a run carry: the estimate; once run, estimate vs actual and what was recorded. */
export interface RtoRecord {
  estimate: RtoEstimate;
  actual?: RtoComparison;
  recorded?: string[];
}

/** The host a run's rates belong to (one machine: `local`). */
export const ratesHost = (host: string | undefined) => host ?? 'local';

/** The steps a Percona run takes and the figures its estimate needs. */
export function perconaRtoFacts(
  plan: Pick<PerconaPlan, 'sizes' | 'source' | 'replay'>,
  opts: { newServer: boolean; strategy: string },
): RtoFacts {
  const fetches = plan.source?.entry.form === 'xbstream';
  const steps = [
    'locate-binlogs',
    ...(fetches ? ['fetch-backup'] : []),
    ...(opts.newServer ? [] : ['pause-cluster']),
    'restore-backup',
    'start-temporary-mysqld',
    'replay-binlogs',
    'verify',
    'stop-temporary-mysqld',
    ...(opts.newServer ? ['start-new-server'] : ['unpause-cluster']),
  ];
  return {
    steps,
    restoreBytes: plan.sizes?.restoreBytes ?? 0,
    fetchBytes: fetches ? (plan.sizes?.fetchBytes ?? plan.source?.entry.bytes ?? null) : null,
    // Plans recorded before the window's facts were kept lack them: an estimate never fails a run.
    replayBytes: plan.replay?.bytes ?? 0,
    transactions: plan.replay?.window?.transactions ?? 0,
    strategy: opts.strategy,
  };
}

/** The plan's estimate from the rates its host returned (defaults for a plan recorded without them). */
export function perconaEstimate(
  plan: Pick<PerconaPlan, 'sizes' | 'source' | 'replay' | 'rates'>,
  opts: { newServer: boolean; strategy: string; host: string | undefined },
): RtoEstimate {
  return estimateRto(perconaRtoFacts(plan, opts), plan.rates ?? { host: ratesHost(opts.host), rates: {} });
}

/**
 * At the end of a completed run: estimate vs actual from the steps' times, and the run's rates added
 * to the restore host's (at most a minute; a failure to record is a note, never the run's failure).
 */
export async function finishRto(
  rb: Runbook,
  estimate: RtoEstimate,
  facts: RtoFacts,
  host: string | undefined,
): Promise<RtoRecord> {
  const steps = rb.progress().steps;
  const actual = compareRto(estimate, steps);
  if (!patched(RTO_RATES_PATCH)) return { estimate, actual };
  const samples = ratesFromRun(facts, steps);
  const recorded = await CancellationScope.withTimeout(60_000, () =>
    quickOn(host).recordRates({ host: ratesHost(host), samples }),
  ).then(
    (r) => r.evidence,
    (err: unknown) => {
      log.warn('rates not recorded', { error: err instanceof Error ? err.message : String(err) });
      return [`rates: not recorded (${err instanceof Error ? err.message : String(err)})`];
    },
  );
  return { estimate, actual, recorded };
}
