// The fleet catalog: what each cluster is, on the workers, not in requests. One JSON file per cluster
// in a directory (RUNBOOK_CATALOG, default /etc/mysql-runbooks/catalog.d), `<name>.json`:
//
//   { "runbooks": { "perconaPointInTimeRecovery": { "input": { …the fixed part of the input… },
//                                                    "allow": ["target", "verify"] } },
//     "approval": { "required": true } }
//
// A request names the cluster (`<name>`), and sets only the fields its runbook lets a request set
// (workflows/requests.ts), narrowed by `allow`; the entry's `input` gives everything else: argv, pid
// files, datadirs, endpoints, archives, secret references. Files are read at each use (an edit takes
// effect on the next run) and validated when a worker starts. A catalog anyone but its owner may
// write, or owned by another user than root or the worker's, is refused: it decides what runs as root.
import { ApplicationFailure } from '@temporalio/common';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { parsePublicKey } from '../../workflows/approval-signature';
import {
  CATALOG_NAME,
  requestFields,
  requestShapeIssues,
  RUNBOOK_REQUEST_FIELDS,
} from '../../workflows/requests';
import { describeIssues } from '../../workflows/schemas';
import { runbookOf } from '../../workflows/runbooks';
import { failure } from '../../workflows/failures';
import { DrillSpec, drillIssues, type DrillEntryView } from '../../workflows/schemas-drill';

export const DEFAULT_CATALOG_DIR = '/etc/mysql-runbooks/catalog.d';

/** Checks of an input beyond its schema (kept out of the schema so recorded runs still replay). */
const inputIssues = (kind: string, input: unknown) => runbookOf(kind)?.inputChecks?.(input) ?? [];

const RunbookKind = z.enum(Object.keys(RUNBOOK_REQUEST_FIELDS) as [string, ...string[]]);

const Approver = z
  .object({
    name: z.string().regex(CATALOG_NAME, 'letters, digits, ".", "_", "-"'),
    /** Ed25519: an OpenSSH public key line (`ssh-ed25519 AAAA…`) or the raw 32 bytes in base64. */
    publicKey: z
      .string()
      .max(1000)
      .refine((k) => {
        try {
          parsePublicKey(k);
          return true;
        } catch {
          return false;
        }
      }, 'not an Ed25519 public key (ssh-ed25519 AAAA… or 32 bytes in base64)'),
  })
  .strict();

export const ApprovalPolicy = z
  .object({
    /** Destructive steps wait for approval (default); `false` only for drills on scratch servers. */
    required: z.boolean().default(true),
    /** Who may approve, each by public key: an approval is their signature, not a typed name. */
    approvers: z.array(Approver).max(100).default([]),
    /** How many distinct approvers each destructive step needs. */
    quorum: z.number().int().min(1).max(100).default(1),
    /** Whether an approver who signed the run's start may approve it too (default no). */
    starterMayApprove: z.boolean().default(false),
  })
  .strict()
  .refine((p) => !p.required || p.approvers.length >= p.quorum, {
    message:
      'approval is required, so the catalog names at least `quorum` approvers by public key (an approval is a signature, never a typed name)',
  })
  .refine((p) => new Set(p.approvers.map((a) => a.name)).size === p.approvers.length, {
    message: 'two approvers share a name',
  })
  .default({ required: true, approvers: [], quorum: 1, starterMayApprove: false });
export type ApprovalPolicy = z.output<typeof ApprovalPolicy>;

export const CatalogEntry = z
  .object({
    runbooks: z.partialRecord(
      RunbookKind,
      z
        .object({
          input: z.record(z.string(), z.unknown()),
          allow: z.array(z.string()).optional(),
        })
        .strict(),
    ),
    approval: ApprovalPolicy,
    /** Scheduled restore drills into one of the entry's scratch servers (docs/restore-drills.md). */
    drill: DrillSpec.optional(),
  })
  .strict();
export type CatalogEntry = z.output<typeof CatalogEntry>;

export class CatalogError extends Error {
  override name = 'CatalogError';
}

export function catalogDir(): string {
  return process.env.RUNBOOK_CATALOG || DEFAULT_CATALOG_DIR;
}

const uid = () => process.getuid?.() ?? 0;

/** Only root or the worker's own user may own it, and nobody else may write it. */
async function checkTrusted(path: string): Promise<void> {
  const st = await stat(path);
  if (st.uid !== 0 && st.uid !== uid())
    throw new CatalogError(`${path} belongs to uid ${st.uid}, neither root nor this worker (uid ${uid()})`);
  if (st.mode & 0o022)
    throw new CatalogError(
      `${path} is writable by others (mode ${(st.mode & 0o777).toString(8)}): it decides what runs on the hosts; chmod go-w it`,
    );
}

function invalid(message: string): ApplicationFailure {
  return failure('InvalidInput', message);
}

/** Problems of one entry as a worker can judge them without a request (the request's fields are absent). */
export function entryIssues(name: string, raw: unknown): string[] {
  const parsed = CatalogEntry.safeParse(raw);
  if (!parsed.success) return [`catalog entry ${name}: ${describeIssues(parsed.error)}`];
  const issues: string[] = [];
  for (const [kind, spec] of Object.entries(parsed.data.runbooks)) {
    if (!spec) continue;
    const settable = new Set(requestFields(kind));
    for (const f of spec.allow ?? [])
      if (!settable.has(f)) issues.push(`catalog entry ${name}: ${kind}.allow: ${f} is not a request field`);
    const r = runbookOf(kind)!.schema.safeParse(spec.input);
    // The request's own fields are missing here by design; anything else wrong is the catalog's.
    for (const i of r.success ? [] : r.error.issues)
      if (!settable.has(String(i.path[0])))
        issues.push(`catalog entry ${name}: ${kind}.input.${i.path.join('.')}: ${i.message}`);
    for (const i of inputIssues(kind, spec.input)) issues.push(`catalog entry ${name}: ${kind}.input.${i}`);
  }
  const drill = parsed.data.drill;
  if (drill)
    for (const i of drillIssues(drill, parsed.data.runbooks.perconaPointInTimeRecovery as DrillEntryView))
      issues.push(`catalog entry ${name}: ${i}`);
  const a = parsed.data.approval;
  if (drill && a.required && a.approvers.length && !a.starterMayApprove && a.approvers.length <= a.quorum)
    issues.push(
      `catalog entry ${name}: drill: a drill starts its recovery unsigned, which this approval policy refuses (name one more approver than the quorum, or starterMayApprove)`,
    );
  return issues;
}

/** Reads one entry; `full` also judges its inputs (a worker at start), else only its structure. */
async function readEntry(dir: string, name: string, full = true): Promise<CatalogEntry | null> {
  const path = join(dir, `${name}.json`);
  let text: string;
  try {
    await checkTrusted(dir);
    await checkTrusted(path);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CatalogError(`catalog entry ${path} is not valid JSON`);
  }
  const parsed = CatalogEntry.safeParse(raw);
  if (!parsed.success) throw new CatalogError(`catalog entry ${name}: ${describeIssues(parsed.error)}`);
  const issues = full ? entryIssues(name, raw) : [];
  if (issues.length) throw new CatalogError(issues.join('; '));
  return parsed.data;
}

/**
 * Every entry of the catalog, each checked; throws naming every problem (a worker does not start on
 * them). `usableOnly` leaves out the entries that cannot be used instead (a catalog directory others
 * could write still throws).
 */
export async function loadCatalog(
  dir = catalogDir(),
  o: { usableOnly?: boolean } = {},
): Promise<Map<string, CatalogEntry>> {
  const entries = new Map<string, CatalogEntry>();
  let names: string[];
  try {
    await checkTrusted(dir);
    names = (await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return entries; // no catalog: every request is refused
    throw err;
  }
  const problems: string[] = [];
  for (const name of names) {
    if (!CATALOG_NAME.test(name)) {
      problems.push(`${join(dir, `${name}.json`)}: not a catalog name (letters, digits, ".", "_", "-")`);
      continue;
    }
    try {
      const entry = await readEntry(dir, name);
      if (entry) entries.set(name, entry);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length && !o.usableOnly)
    throw new CatalogError(`the fleet catalog ${dir} is invalid: ${problems.join('; ')}`);
  return entries;
}

/**
 * The runbook input a request stands for: the catalog entry's part, then the request's own fields.
 * Refused (non-retryable, before any step) when the cluster is unknown, the entry does not serve this
 * runbook, the request sets a field it may not, or the merged input is invalid — each naming the field.
 */
export interface ResolvedRequest {
  input: Record<string, unknown>;
  /** Who may approve this run's destructive steps, and how many of them each needs. */
  approval: { approvers: { name: string; publicKey: string }[]; quorum: number; starterMayApprove: boolean };
}

export async function resolveRequest(kind: string, request: unknown): Promise<ResolvedRequest> {
  const shape = requestShapeIssues(kind, request);
  const name = (request as { cluster?: unknown } | null)?.cluster;
  if (typeof name !== 'string' || !CATALOG_NAME.test(name))
    throw invalid(`invalid request: ${shape.join('; ')}`);
  const dir = catalogDir();
  let entry: CatalogEntry | null;
  try {
    // Its input is judged below, merged with the request, naming each field as the runbook does.
    entry = await readEntry(dir, name, false);
  } catch (err) {
    throw invalid(`the fleet catalog entry for ${name} cannot be used: ${(err as Error).message}`);
  }
  if (!entry) throw invalid(`cluster: ${name} is not in the fleet catalog (${dir})`);
  const spec = entry.runbooks[kind];
  if (!spec)
    throw invalid(
      `cluster: the catalog entry ${name} does not serve ${kind} (it serves ${Object.keys(entry.runbooks).join(', ') || 'nothing'})`,
    );
  const issues = requestShapeIssues(kind, request, spec.allow);
  // startedBy is the workflow's to verify (workflows/request-input.ts), never part of the input.
  const { cluster: _name, startedBy, ...asked } = request as Record<string, unknown>;
  if (entry.approval.required && asked.requireApproval === false)
    issues.push(`requireApproval: the catalog requires approval for ${name}; a request cannot waive it`);
  if (issues.length) throw invalid(`invalid request: ${issues.join('; ')}`);
  // The catalog's requirement wins; a waived one leaves the request (or the runbook's default) to say.
  const input = { ...spec.input, ...asked, ...(entry.approval.required ? { requireApproval: true } : {}) };
  const r = runbookOf(kind)!.schema.safeParse(input);
  if (!r.success) {
    const settable = new Set(requestFields(kind));
    const fromCatalog = [...new Set(r.error.issues.map((i) => String(i.path[0])))].filter(
      (f) => f !== 'undefined' && !settable.has(f),
    );
    throw invalid(
      `invalid input: ${describeIssues(r.error)}` +
        (fromCatalog.length ? ` (${fromCatalog.join(', ')} from the fleet catalog entry ${name})` : ''),
    );
  }
  const beyond = inputIssues(kind, input);
  if (beyond.length)
    throw invalid(`invalid input: ${beyond.join('; ')} (from the fleet catalog entry ${name})`);
  const { approvers, quorum, starterMayApprove } = entry.approval;
  // An unsigned start proves nobody: the starter may be any approver, so the run needs one approval
  // more than the quorum (workflows/kit.ts). Refused now when the catalog cannot give that many.
  const parsed = r.data as { mode?: string; requireApproval?: boolean };
  const gated = parsed.mode !== 'plan' && parsed.requireApproval === true && approvers.length > 0;
  if (gated && startedBy === undefined && !starterMayApprove && approvers.length <= quorum)
    throw invalid(
      `startedBy: ${name} needs ${quorum} approval(s) by someone other than the starter, and an unsigned start does not say who started it, so it would need ${quorum + 1} distinct approvers while the catalog names ${approvers.length}: start it signed (runbook start --key FILE --approver NAME) or name one more approver in the catalog; nothing was done`,
    );
  return { input, approval: { approvers, quorum, starterMayApprove } };
}
