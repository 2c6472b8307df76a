// What a drill leaves: its record, appended durably to <state dir>/drills/<cluster>.jsonl (what
// `runbook drills <cluster>` reads on the controller), and, for a failed drill, an alert: a POST of
// the record to the catalog's alert URL, signed with HMAC-SHA256 over the exact body under the
// catalog's secret (`X-Signature: sha256=<hex>`, the format the project's own webhook verifies,
// scripts/lib/signature.ts). The secret is resolved here and never leaves this process.
import { readFile } from 'node:fs/promises';
import { signBody } from '../../scripts/lib/signature';
import { failure } from '../../workflows/failures';
import { SLUG_PATTERN } from '../../workflows/schemas';
import type { DrillRecord } from '../../workflows/schemas-drill';
import { writeFileDurably } from '../runtime/durable-file';
import { ensureStateDir, statePath } from '../runtime/state-dir';
import { resolveSecret } from '../trust/secrets';
import { drillContext } from './drill-entry';

/** At most this many drills are kept per cluster (the oldest go first). */
export const KEPT_DRILLS = 1000;

export function drillLogPath(cluster: string): string {
  if (!SLUG_PATTERN.test(cluster))
    throw failure('InvalidInput', `not a cluster name: ${JSON.stringify(cluster)}`);
  return statePath('drills', `${cluster}.jsonl`);
}

/** Every recorded drill of `cluster`, oldest first (none: an empty list). */
export async function readDrills(cluster: string): Promise<DrillRecord[]> {
  const text = await readFile(drillLogPath(cluster), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as DrillRecord);
}

/** Appends the record (once per workflow id: a retried activity does not record twice). */
export async function recordDrill(record: DrillRecord): Promise<{ evidence: string[] }> {
  await ensureStateDir('drills');
  const all = (await readDrills(record.cluster)).filter((r) => r.workflowId !== record.workflowId);
  all.push(record);
  await writeFileDurably(
    drillLogPath(record.cluster),
    all
      .slice(-KEPT_DRILLS)
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n',
  );
  return { evidence: [`recorded in ${drillLogPath(record.cluster)}`] };
}

/** POSTs the failed drill's record, signed; a refused or unreachable receiver is retried by Temporal. */
export async function alertDrill(record: DrillRecord): Promise<{ status: number; url: string }> {
  const { drill } = await drillContext(record.cluster);
  const secret = await resolveSecret(drill.alert.secret);
  const body = JSON.stringify({
    kind: 'restoreDrillFailed',
    sentAt: new Date().toISOString(),
    drill: record,
  });
  const url = drill.alert.url;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': `sha256=${signBody(secret!, body)}` },
      body,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw failure(
      'AlertUndelivered',
      `the drill alert to ${url} was not delivered: ${(err as Error).message}`,
    );
  }
  await res.body?.cancel();
  if (res.status < 200 || res.status >= 300)
    throw failure('AlertUndelivered', `the drill alert to ${url} was refused: HTTP ${res.status}`);
  return { status: res.status, url };
}
