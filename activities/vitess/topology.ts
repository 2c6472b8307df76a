// Vitess topology through vtctlclient (argv only; never a shell): the base and snapshot keyspaces
// (procedure step 1), their vschemas (step 6), and reading tablets.
import type { StepOutcome } from '../../workflows/kit';
import { CommandError, runCommand } from '../runtime/command';
import { Ledger } from '../runtime/ledger';
import { failure } from '../../workflows/failures';

export function vtctlclientArgv(server: string, command: string, ...args: string[]): string[] {
  return ['vtctlclient', '-server', server, command, ...args];
}

const NO_NODE = /node doesn't exist/;

/** Runs a vtctlclient command that reads a topology object; null when the object does not exist. */
export async function vtctlRead(server: string, command: string, ...args: string[]): Promise<string | null> {
  try {
    return (await runCommand(vtctlclientArgv(server, command, ...args))).stdout;
  } catch (err) {
    if (err instanceof CommandError && NO_NODE.test(err.message)) return null;
    throw err;
  }
}

export interface KeyspaceInfo {
  type: 'NORMAL' | 'SNAPSHOT';
  baseKeyspace: string | null;
  /** RFC 3339 UTC, to the second. */
  snapshotTime: string | null;
}

/** GetKeyspace's JSON (protojson of topodata.Keyspace: enum by name or number, Time as seconds). */
export function parseKeyspace(json: string): KeyspaceInfo {
  const k = JSON.parse(json) as {
    keyspace_type?: string | number;
    base_keyspace?: string;
    snapshot_time?: { seconds?: string | number } | null;
  };
  const snapshot = k.keyspace_type === 'SNAPSHOT' || k.keyspace_type === 1;
  const seconds = k.snapshot_time?.seconds;
  return {
    type: snapshot ? 'SNAPSHOT' : 'NORMAL',
    baseKeyspace: k.base_keyspace || null,
    snapshotTime:
      seconds === undefined ? null : new Date(Number(seconds) * 1000).toISOString().replace('.000Z', 'Z'),
  };
}

/** GetTablet's JSON: the keyspace and shard a tablet belongs to. */
export function parseTablet(json: string): { keyspace: string; shard: string } {
  const t = JSON.parse(json) as { keyspace?: string; shard?: string };
  return { keyspace: t.keyspace ?? '', shard: t.shard ?? '' };
}

export interface KeyspaceRequest {
  recoveryId: string;
  server: string;
  baseKeyspace: string;
  snapshotKeyspace: string;
  snapshotTime: string;
  /** Where this recovery's topology checkpoint lives on the vtctlclient host. */
  ledgerDir: string;
  tablets: { alias: string; shard: string }[];
}

const ledgerOf = (dir: string) => new Ledger(dir);

/** Is the existing snapshot keyspace the one this recovery created (its ledger says so, and it matches)? */
async function ours(req: KeyspaceRequest, k: KeyspaceInfo): Promise<string | null> {
  const all = await ledgerOf(req.ledgerDir).readAll(req.recoveryId);
  const mark = all['create-snapshot-keyspace'] ?? all['create-snapshot-keyspace-started'];
  const same =
    k.type === 'SNAPSHOT' && k.baseKeyspace === req.baseKeyspace && k.snapshotTime === req.snapshotTime;
  return mark && same ? mark.at : null;
}

function describeKeyspace(k: KeyspaceInfo): string {
  return k.type === 'SNAPSHOT' ? `SNAPSHOT of ${k.baseKeyspace} at ${k.snapshotTime}` : 'a NORMAL keyspace';
}

/** Read only: the base keyspace exists; the snapshot keyspace and the recovery tablets do not (or are ours). */
export async function checkVitessTopology(req: KeyspaceRequest): Promise<StepOutcome> {
  const evidence: string[] = [];
  const base = await vtctlRead(req.server, 'GetKeyspace', req.baseKeyspace);
  if (base === null)
    throw failure(
      'NoBaseKeyspace',
      `base keyspace ${req.baseKeyspace} does not exist in the topology of vtctld ${req.server}`,
    );
  evidence.push(`base keyspace ${req.baseKeyspace}: ${describeKeyspace(parseKeyspace(base))}`);
  const snap = await vtctlRead(req.server, 'GetKeyspace', req.snapshotKeyspace);
  if (snap !== null) {
    const k = parseKeyspace(snap);
    const at = await ours(req, k);
    if (!at)
      throw failure(
        'KeyspaceExists',
        `snapshot keyspace ${req.snapshotKeyspace} already exists (${describeKeyspace(k)}); CreateKeyspace would fail with "node already exists". ` +
          `Choose another snapshot keyspace name, or remove it first (vtctlclient DeleteKeyspace -recursive ${req.snapshotKeyspace})`,
      );
    evidence.push(`snapshot keyspace ${req.snapshotKeyspace} was created by this recovery at ${at}`);
  } else evidence.push(`snapshot keyspace ${req.snapshotKeyspace} does not exist yet`);
  for (const t of req.tablets) {
    const tablet = await vtctlRead(req.server, 'GetTablet', t.alias);
    if (tablet === null) continue;
    const p = parseTablet(tablet);
    if (p.keyspace !== req.snapshotKeyspace || p.shard !== t.shard)
      throw failure(
        'TabletExists',
        `tablet ${t.alias} already exists (keyspace ${p.keyspace}, shard ${p.shard}): choose another tabletUid for shard ${t.shard}`,
      );
    evidence.push(`tablet ${t.alias} is already registered for ${req.snapshotKeyspace}/${t.shard}`);
  }
  return { evidence };
}

/** Procedure step 1: `CreateKeyspace -keyspace_type=SNAPSHOT`. Intent, act, then the checkpoint. */
export async function createSnapshotKeyspace(req: KeyspaceRequest): Promise<StepOutcome> {
  const ledger = ledgerOf(req.ledgerDir);
  const existing = await vtctlRead(req.server, 'GetKeyspace', req.snapshotKeyspace);
  if (existing !== null) {
    const k = parseKeyspace(existing);
    const at = await ours(req, k);
    if (!at)
      throw failure(
        'KeyspaceExists',
        `snapshot keyspace ${req.snapshotKeyspace} already exists (${describeKeyspace(k)}), created by someone else`,
      );
    await ledger.write(req.recoveryId, 'create-snapshot-keyspace', { keyspace: req.snapshotKeyspace });
    return {
      skipped: true,
      evidence: [`${req.snapshotKeyspace} (${describeKeyspace(k)}) was created by this recovery at ${at}`],
    };
  }
  // The intent goes in first, so a retry after a crash right after CreateKeyspace recognises its own keyspace.
  await ledger.write(req.recoveryId, 'create-snapshot-keyspace-started', { keyspace: req.snapshotKeyspace });
  const argv = vtctlclientArgv(
    req.server,
    'CreateKeyspace',
    '-keyspace_type=SNAPSHOT',
    `-base_keyspace=${req.baseKeyspace}`,
    `-snapshot_time=${req.snapshotTime}`,
    req.snapshotKeyspace,
  );
  await runCommand(argv);
  await ledger.write(req.recoveryId, 'create-snapshot-keyspace', { keyspace: req.snapshotKeyspace });
  return { evidence: [argv.join(' ')] };
}

export interface VSchemaRequest {
  server: string;
  baseKeyspace: string;
  snapshotKeyspace: string;
  /** The input's vschema, replacing the base keyspace's. */
  override?: Record<string, unknown>;
}

/** JSON with sorted keys: two vschemas are the same when their canonical texts are. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** The snapshot keyspace's vschema: the base's (or the input's), always with require_explicit_routing. */
export function snapshotVSchema(
  base: Record<string, unknown>,
  override?: Record<string, unknown>,
): Record<string, unknown> {
  return { ...(override ?? base), require_explicit_routing: true };
}

/** Procedure step 6. CreateKeyspace may already have copied it: then only checked. */
export async function copySnapshotVSchema(
  req: VSchemaRequest,
): Promise<StepOutcome & { vschema: Record<string, unknown>; from: 'base' | 'input' }> {
  const baseText = await vtctlRead(req.server, 'GetVSchema', req.baseKeyspace);
  const base = baseText === null ? {} : (JSON.parse(baseText) as Record<string, unknown>);
  const want = snapshotVSchema(base, req.override);
  const from = req.override ? 'input' : 'base';
  const nowText = await vtctlRead(req.server, 'GetVSchema', req.snapshotKeyspace);
  const what = from === 'input' ? "the input's vschema" : `${req.baseKeyspace}'s vschema`;
  if (nowText !== null && canonicalJson(JSON.parse(nowText)) === canonicalJson(want))
    return {
      skipped: true,
      vschema: want,
      from,
      evidence: [`${req.snapshotKeyspace} already has ${what} with require_explicit_routing=true`],
    };
  await runCommand(
    vtctlclientArgv(req.server, 'ApplyVSchema', `-vschema=${JSON.stringify(want)}`, req.snapshotKeyspace),
  );
  return {
    vschema: want,
    from,
    evidence: [`applied ${what} to ${req.snapshotKeyspace} with require_explicit_routing=true`],
  };
}
