// How long a recovery should take (its RTO), step by step, from the plan's facts and the rates this
// host measured on earlier runs (activities/runtime/rates.ts keeps them in the worker's state
// directory). Pure: the workflow computes the estimate from an activity's result, and compares it
// with the steps' own times once the run has ended.
//
//   fetch-backup    the stream's bytes ÷ the host's download rate
//   restore-backup  the bytes copied back ÷ the host's copy rate
//   replay-binlogs  the window's bytes ÷ bytes/s and its transactions ÷ transactions/s of the
//                   strategy; the slower of the two
//   verify          the window's bytes ÷ the host's verify rate (the proof reads the window twice:
//                   the archive's files and the restored binlog); its own time when nothing is replayed
//   every other     its own time on earlier runs (median)
// A rate is the median of the host's last runs; a rate the host has never measured is a stated
// default. Measured rates are step rates: they include the step's own fixed cost (starting the copy
// tool, the replay source), so a much larger backup than the ones measured is estimated on the long side.

export type RateKey = string;

/** A rate as the host measured it: the median of its last `runs` samples. */
export interface MeasuredRate {
  value: number;
  runs: number;
}

/** What the plan reads from the restore host's rates file. */
export interface HostRates {
  host: string;
  rates: Record<RateKey, MeasuredRate>;
  /** Why the file was not used (unreadable, not JSON, wrong shape): the estimate then uses defaults. */
  note?: string;
}

export interface RtoFacts {
  /** The steps the run will take, in order (skipped ones left out). */
  steps: readonly string[];
  /** Bytes copied back into the datadir. */
  restoreBytes: number;
  /** Bytes downloaded by fetch-backup (a stream of the catalog), null when nothing is fetched. */
  fetchBytes: number | null;
  replayBytes: number;
  transactions: number;
  strategy: string;
}

export interface StepEstimate {
  step: string;
  seconds: number;
  /** How the figure was made, e.g. "17 MiB at 85 MiB/s (measured over 3 runs)". */
  basis: string;
}

export interface RtoEstimate {
  totalSeconds: number;
  steps: StepEstimate[];
  /** The rates this estimate took as defaults (never measured on this host). */
  defaults: string[];
  host: string;
  note?: string;
}

export interface StepActual {
  step: string;
  estimatedSeconds: number | null;
  actualSeconds: number;
}

/** Estimate vs actual, once the run has ended. */
export interface RtoComparison {
  estimatedSeconds: number;
  actualSeconds: number;
  /** (estimated − actual) ÷ actual, in percent: negative when the run took longer than estimated. */
  errorPercent: number;
  steps: StepActual[];
}

const MiB = 1024 * 1024;

/** Used until the host has measured its own (each named in the estimate when used). */
export const DEFAULT_RATES: Record<string, number> = {
  copy: 100 * MiB,
  fetch: 50 * MiB,
  'replay.pipe.bytes': 5 * MiB,
  'replay.pipe.transactions': 2_500,
  'replay.applier.bytes': 10 * MiB,
  'replay.applier.transactions': 20_000,
  verify: 5 * MiB,
  step: 2,
};

/** Steps whose time is data over a rate; every other step is its own time on earlier runs. */
export const DATA_STEPS = new Set(['fetch-backup', 'restore-backup', 'replay-binlogs', 'verify']);

export const rateKeys = {
  copy: 'copy',
  fetch: 'fetch',
  verify: 'verify',
  replayBytes: (strategy: string) => `replay.${strategy}.bytes`,
  replayTransactions: (strategy: string) => `replay.${strategy}.transactions`,
  step: (name: string) => `step.${name}`,
};

const mib = (bytes: number) => {
  const m = bytes / MiB;
  return `${m >= 10 ? Math.round(m) : Number(m.toFixed(1))} MiB`;
};
/** Whole seconds at 10 s and more, tenths below. */
export const roundSeconds = (s: number) => (s >= 10 ? Math.round(s) : Math.round(s * 10) / 10);

class Rates {
  readonly defaults: string[] = [];
  constructor(private readonly measured: Record<RateKey, MeasuredRate>) {}

  get(key: RateKey, defaultKey: string = key): { value: number; source: string } {
    const m = this.measured[key];
    if (m && Number.isFinite(m.value) && m.value > 0)
      return { value: m.value, source: `measured over ${m.runs} run${m.runs === 1 ? '' : 's'}` };
    if (!this.defaults.includes(key)) this.defaults.push(key);
    return { value: DEFAULT_RATES[defaultKey]!, source: 'default' };
  }
}

function estimateStep(step: string, f: RtoFacts, rates: Rates): StepEstimate {
  if (step === 'restore-backup' || step === 'fetch-backup') {
    const bytes = step === 'restore-backup' ? f.restoreBytes : (f.fetchBytes ?? 0);
    const r = rates.get(step === 'restore-backup' ? rateKeys.copy : rateKeys.fetch);
    return { step, seconds: bytes / r.value, basis: `${mib(bytes)} at ${mib(r.value)}/s (${r.source})` };
  }
  if (step === 'replay-binlogs') {
    if (!f.transactions && !f.replayBytes) return { step, seconds: 0, basis: 'nothing to replay' };
    const b = rates.get(rateKeys.replayBytes(f.strategy), `replay.${known(f.strategy)}.bytes`);
    const t = rates.get(rateKeys.replayTransactions(f.strategy), `replay.${known(f.strategy)}.transactions`);
    const byBytes = f.replayBytes / b.value;
    const byTransactions = f.transactions / t.value;
    const basis =
      byBytes >= byTransactions
        ? `${mib(f.replayBytes)} at ${mib(b.value)}/s (${f.strategy}, ${b.source})`
        : `${f.transactions} transactions at ${Math.round(t.value)}/s (${f.strategy}, ${t.source})`;
    return { step, seconds: Math.max(byBytes, byTransactions), basis };
  }
  if (step === 'verify' && f.replayBytes > 0) {
    const r = rates.get(rateKeys.verify);
    return {
      step,
      seconds: f.replayBytes / r.value,
      basis: `${mib(f.replayBytes)} at ${mib(r.value)}/s (${r.source})`,
    };
  }
  const r = rates.get(rateKeys.step(step), 'step');
  return { step, seconds: r.value, basis: `${roundSeconds(r.value)} s (${r.source})` };
}

const known = (strategy: string) => (strategy === 'pipe' ? 'pipe' : 'applier');

/** The run's estimate: per step, the total, and which rates were defaults. */
export function estimateRto(facts: RtoFacts, host: HostRates): RtoEstimate {
  const rates = new Rates(host.rates);
  const steps = facts.steps.map((s) => estimateStep(s, facts, rates));
  for (const s of steps) s.seconds = roundSeconds(s.seconds);
  return {
    totalSeconds: roundSeconds(steps.reduce((n, s) => n + s.seconds, 0)),
    steps,
    defaults: rates.defaults,
    host: host.host,
    ...(host.note ? { note: host.note } : {}),
  };
}

/** The one line the plan's evidence carries. */
export function describeEstimate(e: RtoEstimate): string {
  const part = (step: string, label: string) => {
    const s = e.steps.find((x) => x.step === step);
    return s ? `${label} ${s.seconds} s from ${s.basis}` : null;
  };
  const others = e.steps.filter((s) => !DATA_STEPS.has(s.step));
  const rest = roundSeconds(others.reduce((n, s) => n + s.seconds, 0));
  const parts = [
    part('fetch-backup', 'fetch'),
    part('restore-backup', 'restore'),
    part('replay-binlogs', 'replay'),
    part('verify', 'verify'),
    others.length ? `${others.length} other step(s) ${rest} s` : null,
  ].filter(Boolean);
  const stepDefaults = e.defaults.filter((d) => d.startsWith('step.')).length;
  const named = [
    ...e.defaults.filter((d) => !d.startsWith('step.')),
    ...(stepDefaults ? [`${stepDefaults} step time(s) at ${DEFAULT_RATES.step} s`] : []),
  ];
  const defaults = named.length ? `; defaults: ${named.join(', ')}` : '';
  const note = e.note ? `; ${e.note}` : '';
  return `estimate: ~${e.totalSeconds} s on host ${e.host} (${parts.join(', ')}${defaults}${note})`;
}

interface TimedStep {
  name: string;
  status: string;
  startedAt?: string;
  endedAt?: string;
}

/** Seconds a step ran (its approval wait excluded: the kit starts the clock once approved). */
export function stepSeconds(s: TimedStep): number | null {
  if (!s.startedAt || !s.endedAt || s.status === 'pending') return null;
  return Math.max(0, (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000);
}

/** Estimate vs actual per step and in total (the steps that ran, whether estimated or not). */
export function compareRto(e: RtoEstimate, steps: readonly TimedStep[]): RtoComparison {
  const rows: StepActual[] = [];
  for (const s of steps) {
    const actual = stepSeconds(s);
    if (actual === null) continue;
    const est = e.steps.find((x) => x.step === s.name);
    rows.push({ step: s.name, estimatedSeconds: est?.seconds ?? null, actualSeconds: roundSeconds(actual) });
  }
  const actualSeconds = roundSeconds(rows.reduce((n, r) => n + r.actualSeconds, 0));
  return {
    estimatedSeconds: e.totalSeconds,
    actualSeconds,
    errorPercent:
      actualSeconds > 0 ? Math.round(((e.totalSeconds - actualSeconds) / actualSeconds) * 1000) / 10 : 0,
    steps: rows,
  };
}

/**
 * The samples a successful run gives its host: each data step's rate (only when the step did its
 * work: one found done by a checkpoint moved no data), every other step's seconds (also when it found
 * its work done, e.g. a cluster already stopped: that is what the step takes for this cluster).
 */
export function ratesFromRun(
  facts: Omit<RtoFacts, 'steps'>,
  steps: readonly TimedStep[],
): Record<RateKey, number> {
  const out: Record<RateKey, number> = {};
  for (const s of steps) {
    const secs = stepSeconds(s);
    if (secs === null || (s.status !== 'done' && s.status !== 'skipped-by-checkpoint')) continue;
    if (!DATA_STEPS.has(s.name) || (s.name === 'verify' && !(facts.replayBytes > 0))) {
      out[rateKeys.step(s.name)] = Math.max(secs, 0.01); // a rate is positive: 10 ms at least
      continue;
    }
    if (s.status !== 'done' || secs <= 0) continue;
    if (s.name === 'restore-backup') {
      if (facts.restoreBytes > 0) out[rateKeys.copy] = facts.restoreBytes / secs;
    } else if (s.name === 'fetch-backup') {
      if (facts.fetchBytes) out[rateKeys.fetch] = facts.fetchBytes / secs;
    } else if (s.name === 'replay-binlogs') {
      if (facts.replayBytes > 0) out[rateKeys.replayBytes(facts.strategy)] = facts.replayBytes / secs;
      if (facts.transactions > 0)
        out[rateKeys.replayTransactions(facts.strategy)] = facts.transactions / secs;
    } else if (s.name === 'verify') out[rateKeys.verify] = facts.replayBytes / secs;
  }
  return out;
}
