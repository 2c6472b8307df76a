// `npm run temporal -- <args>`: the Temporal CLI the project uses (scripts/lib/tools.ts: $TEMPORAL_CLI,
// `temporal` on PATH, else the one `npm run bootstrap` put in .tools/), so nobody needs to know where it
// is. The address is the CLI's own TEMPORAL_ADDRESS; when it is unset and `npm run dev` is up, the dev
// server's (from .run/dev/env).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, temporalCli } from './lib/tools';

function devAddress(): string | undefined {
  try {
    return /^export TEMPORAL_ADDRESS=(\S+)$/m.exec(
      readFileSync(join(projectRoot, '.run/dev/env'), 'utf8'),
    )?.[1];
  } catch {
    return undefined;
  }
}

const env = { ...process.env };
env.TEMPORAL_ADDRESS ??= devAddress();
if (!env.TEMPORAL_ADDRESS) delete env.TEMPORAL_ADDRESS;
const r = spawnSync(temporalCli(), process.argv.slice(2), { stdio: 'inherit', env });
if (r.error) console.error(`temporal: ${r.error.message}`);
process.exit(r.status ?? 1);
