// Where the project finds the external programs it installs itself (see scripts/bootstrap.sh).
import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const toolsDir = join(projectRoot, '.tools');

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return null;
}

/** `temporal` CLI: $TEMPORAL_CLI, then PATH, then the project-local wheel. */
export function temporalCli(): string {
  const candidates = [process.env.TEMPORAL_CLI, onPath('temporal'), join(toolsDir, 'temporal/bin/temporal')];
  const found = candidates.find((p): p is string => !!p && existsSync(p));
  if (!found) throw new Error('Temporal CLI not found: run `npm run bootstrap` (or set TEMPORAL_CLI)');
  return found;
}

/** SeaweedFS `weed`: $WEED_BIN, then PATH, then the project-local wheel. */
export function weedBin(): string {
  const candidates = [process.env.WEED_BIN, onPath('weed'), join(toolsDir, 'seaweedfs/bin/weed')];
  const found = candidates.find((p): p is string => !!p && existsSync(p));
  if (!found) throw new Error('SeaweedFS (weed) not found: run `npm run bootstrap` (or set WEED_BIN)');
  return found;
}
