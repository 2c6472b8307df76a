// `npm run bench:scale`: planning at scale, orchestration overhead and concurrency (scripts/lib/bench-scale.ts).
import { runScaleBenches } from './lib/bench-scale';

runScaleBenches().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench:scale failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
