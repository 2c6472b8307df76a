// `npm run bench:rto`: the RTO estimate against the actual on repeated full recoveries (scripts/lib/bench-rto.ts).
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { benchRto } from './lib/bench-rto';
import { loadLine } from './lib/bench-scale';
import { projectRoot } from './lib/tools';

export async function runRtoBench(): Promise<boolean> {
  const base = join(projectRoot, '.run', 'bench-rto');
  await rm(base, { recursive: true, force: true });
  await mkdir(base, { recursive: true });
  console.log(`\nbench:rto — ${loadLine()}`);
  try {
    return await benchRto(base);
  } finally {
    console.log(`(${loadLine()})`);
    await rm(base, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  runRtoBench().then(
    (ok) => process.exit(ok ? 0 : 1),
    (err: unknown) => {
      console.error(`bench:rto failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
