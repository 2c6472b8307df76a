// The rates a host measured on its own recoveries (copy and download bytes/s, replay bytes/s and
// transactions/s per strategy, the seconds of every other step), kept in the worker's state
// directory as rates.json and written durably (write, fsync, rename, fsync the directory). Each key
// keeps its last RATE_SAMPLES samples; the estimate takes their median (workflows/rto-estimate.ts).
//
// An estimate is advice: a rates file that cannot be read, is not JSON or has the wrong shape is
// ignored with a note (the estimate uses defaults), and a rate that cannot be recorded is a note in
// the run's result. Neither ever fails a recovery.
import { readFile } from 'node:fs/promises';
import type { HostRates, MeasuredRate, RateKey } from '../../workflows/rto-estimate';
import { writeFileDurably } from './durable-file';
import { ensureStateDir, statePath } from './state-dir';

export const RATES_FILE = 'rates.json';
/** Samples kept per rate: the median of the last five runs. */
export const RATE_SAMPLES = 5;

interface RatesFile {
  version: 1;
  /** Per host name (one state directory may serve several agents on one machine), per rate: samples, oldest first. */
  hosts: Record<string, Record<RateKey, number[]>>;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

function isRatesFile(v: unknown): v is RatesFile {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as RatesFile;
  if (f.version !== 1 || typeof f.hosts !== 'object' || f.hosts === null) return false;
  return Object.values(f.hosts).every(
    (h) =>
      typeof h === 'object' &&
      h !== null &&
      Object.values(h).every(
        (xs) => Array.isArray(xs) && xs.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0),
      ),
  );
}

/** The file, or why it is not used (absent: an empty store, no note). */
async function load(): Promise<{ file: RatesFile; note?: string }> {
  const empty: RatesFile = { version: 1, hosts: {} };
  let text: string;
  try {
    text = await readFile(statePath(RATES_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file: empty };
    return {
      file: empty,
      note: `rates file ${statePath(RATES_FILE)} not read (${errorText(err)}): defaults used`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return {
      file: empty,
      note: `rates file ${statePath(RATES_FILE)} is not JSON (${errorText(err)}): ignored, defaults used; the next run writes it anew`,
    };
  }
  if (!isRatesFile(parsed))
    return {
      file: empty,
      note: `rates file ${statePath(RATES_FILE)} is not a rates file (version 1, positive numbers): ignored, defaults used; the next run writes it anew`,
    };
  return { file: parsed };
}

/** The host's rates (medians) for the plan's estimate. Never throws. */
export async function readRates(host: string): Promise<HostRates> {
  const { file, note } = await load().catch((err: unknown): { file: RatesFile; note?: string } => ({
    file: { version: 1, hosts: {} },
    note: `rates not read (${errorText(err)}): defaults used`,
  }));
  const samples = file.hosts[host] ?? {};
  const rates: Record<RateKey, MeasuredRate> = {};
  for (const [key, xs] of Object.entries(samples))
    if (xs.length) rates[key] = { value: median(xs), runs: xs.length };
  return { host, rates, ...(note ? { note } : {}) };
}

/**
 * Adds one run's samples to the host's rates (the last RATE_SAMPLES kept per rate). Never throws:
 * returns what it recorded, or why it could not.
 */
export async function recordRates(req: {
  host: string;
  samples: Record<RateKey, number>;
}): Promise<{ evidence: string[] }> {
  const valid = Object.entries(req.samples).filter(([, v]) => Number.isFinite(v) && v > 0);
  if (!valid.length) return { evidence: ['rates: nothing measured on this run'] };
  try {
    await ensureStateDir();
    const { file, note } = await load();
    const host = (file.hosts[req.host] ??= {});
    for (const [key, v] of valid) host[key] = [...(host[key] ?? []), v].slice(-RATE_SAMPLES);
    await writeFileDurably(statePath(RATES_FILE), `${JSON.stringify(file, null, 1)}\n`);
    return {
      evidence: [
        `rates: ${valid.length} rate(s) of host ${req.host} recorded in ${statePath(RATES_FILE)}${note ? ` (${note})` : ''}`,
      ],
    };
  } catch (err) {
    return { evidence: [`rates: not recorded (${errorText(err)}); the next plan uses the rates it had`] };
  }
}
