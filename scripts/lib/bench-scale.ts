// Measurements at scale (issue 7): planning over 100,000 archived binlog files, the orchestration
// overhead of one full point-in-time recovery, and 20 recoveries at once on one worker.
// Prints three tables; `npm run bench:scale` runs them alone, scripts/bench.ts after the replay timings.
import { availableParallelism, loadavg } from 'node:os';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { benchPlanning } from './bench-plan-scale';
import { benchRecoveries } from './bench-recoveries';
import { projectRoot } from './tools';

export const loadLine = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${availableParallelism()} cores`;

export async function runScaleBenches(): Promise<void> {
  const base = join(projectRoot, '.run', 'bench-scale');
  await rm(base, { recursive: true, force: true });
  await mkdir(base, { recursive: true });
  console.log(`bench:scale — ${loadLine()}`);
  const planned = await benchPlanning(base);
  console.log(`(${loadLine()})`);
  const recovered = await benchRecoveries(base);
  console.log(`(${loadLine()})`);
  await rm(base, { recursive: true, force: true });
  if (!planned || !recovered)
    throw new Error('a scale benchmark missed its goal or gave a wrong result (see above)');
}
