// Tests describe their worlds the way operators do: in the fleet catalog on the workers. A test that
// builds a whole runbook input registers its fixed part as a catalog entry of its own (a fresh name,
// so tests running at once never share one) and starts the run with the request that remains.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requestFields } from '../../workflows/requests';

// Each test process gets a catalog directory of its own (below the run's, set by run-tests), made
// when this module loads — before any worker starts — so the workers it starts in process or as
// children read it. A bad-input test's invalid entries then never stop another file's workers.
if (process.env.RUNBOOK_CATALOG && !process.env.RUNBOOK_CATALOG_OF_PROCESS) {
  process.env.RUNBOOK_CATALOG = mkdtempSync(join(process.env.RUNBOOK_CATALOG, 'p-'));
  process.env.RUNBOOK_CATALOG_OF_PROCESS = String(process.pid);
}

export function testCatalogDir(): string {
  const dir = process.env.RUNBOOK_CATALOG;
  if (!dir) throw new Error('RUNBOOK_CATALOG is not set: run the tests through scripts/run-tests.ts');
  return dir;
}

export interface CatalogOptions {
  /** The entry's name (default a fresh one). */
  name?: string;
  /** Approval required by the catalog (default false: a drill on the test's scratch servers). */
  approvalRequired?: boolean;
  /** The entry's whole approval policy (approvers by public key, quorum), instead. */
  approval?: Record<string, unknown>;
  /** Narrow what a request may set. */
  allow?: string[];
  /** Other runbooks this entry serves, with their fixed input. */
  alsoServes?: Record<string, Record<string, unknown>>;
}

/** Writes one catalog entry as given (tests of the catalog itself build odd ones). */
export async function writeCatalogEntry(name: string, entry: unknown): Promise<string> {
  const path = join(testCatalogDir(), `${name}.json`);
  await writeFile(path, JSON.stringify(entry, null, 2), { mode: 0o600 });
  return path;
}

/**
 * Splits a whole runbook input: what a request may set stays in the request; the rest becomes the
 * catalog entry. Returns the request. Anything that is not an object is returned as the request
 * itself (bad-input tests send such things).
 */
export async function catalogRequest(kind: string, input: unknown, o: CatalogOptions = {}): Promise<unknown> {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return input;
  const settable = new Set(requestFields(kind));
  const fixed: Record<string, unknown> = {};
  const request: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) (settable.has(k) ? request : fixed)[k] = v;
  const name = o.name ?? `t-${randomUUID().slice(0, 13)}`;
  await writeCatalogEntry(name, {
    runbooks: {
      [kind]: { input: fixed, ...(o.allow ? { allow: o.allow } : {}) },
      ...Object.fromEntries(Object.entries(o.alsoServes ?? {}).map(([k, i]) => [k, { input: i }])),
    },
    approval: o.approval ?? { required: o.approvalRequired ?? false },
  });
  return { cluster: name, ...request };
}
