// `npm run bench`: binlog replay speed, side by side on the same generated binlogs. For each workload
// every method starts from the same restored base backup (copied afresh) in the project's temporary
// server and must end with the same checksum. The methods run in interleaved rounds (so a change in
// the machine's load hits them alike) and the median counts. Speedup = by-hand wall ÷ this wall.
// BENCH_ONLY=replay skips the scale measurements that follow.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlPools } from '../activities/mysql/sql';
import { METHODS, measure, recordWorkload } from './lib/bench-replay';
import { runScaleBenches } from './lib/bench-scale';
import { runFinderBench } from './lib/bench-finder';
import { runRtoBench } from './bench-rto';
import { printTable } from './lib/text-table';

const GOALS = { pipe: 0.95, applier: 2 };
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => loadavg()[0]!.toFixed(1);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'bench-replay-'));
  const sql = new SqlPools();
  const rows: string[][] = [];
  const misses: string[] = [];
  let checksumMismatch = false;
  console.log(`replay bench: ${cpus().length} cores, load average ${load()}, ${ROUNDS} interleaved round(s)`);
  try {
    for (const name of ['bulk', 'small'] as const) {
      const t0 = Date.now();
      const w = await recordWorkload(name, join(base, name));
      console.log(
        `${name}: ${fmt(w.rowChanges)} row changes in ${fmt(w.transactions)} transactions, ` +
          `${w.plan.files.length} binlog file(s), ${(w.plan.bytes / 1e6).toFixed(1)} MB (recorded in ${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
      const walls = METHODS.map(() => [] as number[]);
      const checksums = new Set<string>();
      const loads: string[] = [];
      for (let round = 0; round < ROUNDS; round++)
        for (const [i, m] of METHODS.entries()) {
          const r = await measure(sql, w, m, round * METHODS.length + i);
          walls[i]!.push(r.wallMs);
          checksums.add(r.checksum);
          loads.push(load());
          console.log(
            `  round ${round + 1} ${m.name}: ${(r.wallMs / 1000).toFixed(2)} s, checksum ${r.checksum}`,
          );
        }
      if (checksums.size !== 1) checksumMismatch = true;
      const byHand = median(walls[0]!);
      for (const [i, m] of METHODS.entries()) {
        const wall = median(walls[i]!);
        const speedup = byHand / wall;
        const goal = m.kind === 'pipe' ? GOALS.pipe : m.kind === 'applier' ? GOALS.applier : null;
        if (goal !== null && speedup < goal) misses.push(`${name} / ${m.name} ${speedup.toFixed(2)}×`);
        rows.push([
          name,
          m.name,
          `${(wall / 1000).toFixed(2)} s`,
          walls[i]!.map((x) => (x / 1000).toFixed(1)).join('/'),
          fmt(w.rowChanges / (wall / 1000)),
          fmt(w.transactions / (wall / 1000)),
          `${speedup.toFixed(2)}×`,
          [...checksums].join(' ≠ '),
        ]);
      }
      console.log(`  load average during ${name}: ${loads.join(' ')}`);
    }
    printTable(
      'Binlog replay: same binlogs, same restored state; median of the rounds (speedup = by-hand wall ÷ this wall)',
      ['workload', 'method', 'wall', 'rounds (s)', 'rows/s', 'transactions/s', 'speedup', 'checksum'],
      rows,
    );
    console.log(
      `\ngoals: pipe speedup ≥ ${GOALS.pipe}, applier ≥ ${GOALS.applier} (aim 3); ` +
        (misses.length ? `missed: ${misses.join('; ')}` : 'all met') +
        `. Load average now ${load()} on ${cpus().length} cores.`,
    );
    if (checksumMismatch) {
      console.log('CHECKSUM MISMATCH: the methods did not end with the same data');
      process.exitCode = 1;
    }
  } finally {
    await sql.closeAll();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
// Then planning at scale, orchestration overhead and concurrency (`npm run bench:scale` alone).
if (process.env.BENCH_ONLY !== 'replay')
  await runScaleBenches().catch((err: unknown) => {
    console.error(`bench:scale: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
// Then the RTO estimate against the actual on repeated full recoveries (`npm run bench:rto` alone).
if (process.env.BENCH_ONLY !== 'replay') {
  const ok = await runRtoBench().catch((err: unknown) => {
    console.error(`bench:rto: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  });
  if (!ok) process.exitCode = 1;
}
// Then the accident finder's scan speed against cat and mariadb-binlog (`npm run bench:find` alone).
if (process.env.BENCH_ONLY !== 'replay') {
  const ok = await runFinderBench().catch((err: unknown) => {
    console.error(`bench:find: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  });
  if (!ok) process.exitCode = 1;
}
process.exit(process.exitCode ?? 0); // leftover pool timers must not keep the run alive
