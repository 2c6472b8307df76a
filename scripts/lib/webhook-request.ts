// What the incident webhook accepts: the runbook kinds it can start (the registry's, each with the
// SAME zod schema its workflow validates with), the search attributes a run will carry, the request
// envelope, and the deterministic workflow id.
// Pure code (no I/O), shared by scripts/webhook.ts and its tests.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { PerconaPitrInput } from '../../workflows/schemas';
import { NdbPitrInput } from '../../workflows/schemas-ndb-pitr';
import { NdbChannelFailoverInput } from '../../workflows/schemas-ndb-failover';
import { TungstenExternalRestoreInput } from '../../workflows/schemas-tungsten';
import { VitessSnapshotRestoreInput } from '../../workflows/schemas-vitess';
import { describeTargetBrief } from '../../workflows/targets';
import { RUNBOOKS } from '../../workflows/registry';
import { PerconaRollbackInput } from '../../workflows/schemas-rollback';

/** The search attributes a run of this kind will carry, known before it starts (the workflow upserts the same). */
export interface RunbookFacts {
  cluster: string;
  target: string;
}

export interface RunbookKind {
  /** The workflow type, also the `:kind` of `POST /v1/runbooks/:kind`. */
  type: string;
  schema: z.ZodType;
  facts(input: unknown): RunbookFacts;
}

/** Typed by the kind's schema: `facts` reads the validated (defaulted) input. */
function facts<S extends z.ZodType>(_schema: S, f: (i: z.output<S>) => RunbookFacts) {
  return (i: unknown) => f(i as z.output<S>);
}

// Cluster and RecoveryTarget exactly as each workflow passes them to its Runbook (workflows/*.ts).
const FACTS = new Map<string, (input: unknown) => RunbookFacts>([
  [
    'perconaPointInTimeRecovery',
    facts(PerconaPitrInput, (i) => ({ cluster: i.cluster.name, target: describeTargetBrief(i.target) })),
  ],
  [
    'perconaRollback',
    facts(PerconaRollbackInput, (i) => ({ cluster: i.cluster.name, target: `rollback:${i.recoveryId}` })),
  ],
  [
    'ndbPointInTimeRecovery',
    facts(NdbPitrInput, (i) => {
      const fp = i.failurePoint;
      return {
        cluster: i.cluster.name,
        target:
          fp.type === 'epoch'
            ? `epoch:${fp.epoch}`
            : fp.type === 'time'
              ? `time:${fp.time}`
              : `position:${fp.file}:${fp.position}`,
      };
    }),
  ],
  [
    'ndbChannelFailover',
    facts(NdbChannelFailoverInput, (i) => ({
      cluster: i.cluster,
      target: `channel:${i.secondary.channel || 'default'}:${i.form}`,
    })),
  ],
  [
    'tungstenExternalRestore',
    facts(TungstenExternalRestoreInput, (i) => ({
      cluster: i.replica.name,
      target: `backup:${i.backup.dir}`,
    })),
  ],
  [
    'vitessSnapshotRestore',
    facts(VitessSnapshotRestoreInput, (i) => ({ cluster: i.baseKeyspace, target: `time:${i.snapshotTime}` })),
  ],
]);

// The runbooks of the registry (workflows/registry.ts), with the schema it names for each.
const BY_TYPE = new Map<string, RunbookKind>(
  RUNBOOKS.map((r) => {
    const f = FACTS.get(r.kind);
    if (!f)
      throw new Error(
        `webhook: no search attributes known for runbook ${r.kind} (scripts/lib/webhook-request.ts)`,
      );
    return [r.kind, { type: r.kind, schema: r.schema, facts: f }];
  }),
);
export const RUNBOOK_KINDS: readonly string[] = [...BY_TYPE.keys()];

export function runbookKind(type: string): RunbookKind | undefined {
  return BY_TYPE.get(type);
}

/**
 * The request body: `{ "incident": { "id": "INC-42", … }, "input": { …the runbook's input… } }`.
 * `incident` is optional when the X-Webhook-Id header names the delivery's incident instead; fields
 * besides `id`, `title` and `url` are allowed (and ignored), so incident tooling can send more.
 */
export const WebhookEnvelope = z
  .object({
    incident: z
      .object({
        id: z.string().min(1).max(200),
        title: z.string().max(1024).optional(),
        url: z.string().max(2048).optional(),
      })
      .loose()
      .optional(),
    input: z.unknown(),
  })
  .strict();
export type WebhookEnvelope = z.output<typeof WebhookEnvelope>;

/** zod issues as `field: message` lines; paths are prefixed (e.g. `input.target.gtid`). Values are never echoed. */
export function issueLines(error: z.ZodError, prefix: string[] = []): string[] {
  return error.issues.map((i) => {
    const path = [...prefix, ...i.path.map(String)];
    return `${path.length ? path.join('.') : '(body)'}: ${i.message}`;
  });
}

export type ParsedRequest =
  | { ok: true; incidentId: string; incidentTitle?: string; input: unknown; facts: RunbookFacts }
  | { ok: false; issues: string[] };

/** Validates a parsed JSON body for one kind; `headerId` is the X-Webhook-Id header, used when the body has no incident. */
export function parseRequest(kind: RunbookKind, body: unknown, headerId: string | undefined): ParsedRequest {
  const env = WebhookEnvelope.safeParse(body);
  if (!env.success) return { ok: false, issues: issueLines(env.error) };
  const input = kind.schema.safeParse(env.data.input);
  const issues = input.success ? [] : issueLines(input.error, ['input']);
  const incidentId = env.data.incident?.id ?? headerId?.trim();
  if (!incidentId)
    issues.unshift(
      'incident.id: required (or an X-Webhook-Id header): it names the run, so a repeated delivery starts no second run',
    );
  else if (incidentId.length > 200) issues.unshift('incident.id: at most 200 characters');
  if (issues.length || !incidentId || !input.success) return { ok: false, issues };
  return {
    ok: true,
    incidentId,
    ...(env.data.incident?.title ? { incidentTitle: env.data.incident.title } : {}),
    // The workflow gets the input as sent: it validates it again and applies the defaults itself.
    input: env.data.input,
    facts: kind.facts(input.data),
  };
}

/**
 * `<kind>-<incident id>`: the same incident always names the same run. Characters other than
 * letters, digits, `.`, `_` and `-` become `-`; when that (or truncation) changed the id, a short
 * hash of the original is appended, so `INC/42` and `INC:42` stay two runs.
 */
export function deriveWorkflowId(kind: string, incidentId: string): string {
  const clean = incidentId.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100);
  if (clean === incidentId && clean.length > 0) return `${kind}-${clean}`;
  const hash = createHash('sha256').update(incidentId).digest('hex').slice(0, 10);
  return `${kind}-${clean}${clean ? '-' : ''}${hash}`;
}
