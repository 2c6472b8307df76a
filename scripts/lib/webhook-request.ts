// What the incident webhook accepts: the runbook kinds it can start (as declared in
// workflows/runbooks.ts, each with the schema its workflow validates with and the search attributes a
// run will carry from its input as the fleet catalog resolves it), the signed envelope, and the
// deterministic workflow id.
// Pure code (no I/O), shared by scripts/webhook.ts and its tests.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { requestShapeIssues } from '../../workflows/requests';
import { RUNBOOKS, type RunbookFacts } from '../../workflows/runbooks';

export type { RunbookFacts } from '../../workflows/runbooks';

export interface RunbookKind {
  /** The workflow type, also the `:kind` of `POST /v1/runbooks/:kind`. */
  type: string;
  schema: z.ZodType;
  facts(input: unknown): RunbookFacts;
}

// The runbooks as declared once (workflows/runbooks.ts): schema and search-attribute facts included.
const BY_TYPE = new Map<string, RunbookKind>(
  RUNBOOKS.map((r) => [r.kind, { type: r.kind, schema: r.schema, facts: (i: unknown) => r.facts(i) }]),
);
export const RUNBOOK_KINDS: readonly string[] = [...BY_TYPE.keys()];

export function runbookKind(type: string): RunbookKind | undefined {
  return BY_TYPE.get(type);
}

/** How long after it was signed a delivery is accepted, and how far ahead of this clock it may be. */
export const DEFAULT_MAX_AGE_MS = 5 * 60_000;
export const MAX_CLOCK_AHEAD_MS = 60_000;

/**
 * The body: `{ "incident": { "id": "INC-42", … }, "sentAt": "<ISO time>", "request": { "cluster": … } }`.
 * Everything is signed with it: the incident names the run, `sentAt` bounds how long a captured
 * delivery can be replayed, the request names a catalog cluster and the fields a request may set.
 * Incident fields besides `id`, `title` and `url` are allowed (and ignored).
 */
export const WebhookEnvelope = z
  .object({
    incident: z
      .object({
        id: z.string().min(1).max(200),
        title: z.string().max(1024).optional(),
        url: z.string().max(2048).optional(),
      })
      .loose(),
    sentAt: z.iso.datetime({ offset: true }),
    request: z.unknown(),
  })
  .strict();
export type WebhookEnvelope = z.output<typeof WebhookEnvelope>;

/** zod issues as `field: message` lines; paths are prefixed (e.g. `request.target`). Values are never echoed. */
export function issueLines(error: z.ZodError, prefix: string[] = []): string[] {
  return error.issues.map((i) => {
    const path = [...prefix, ...i.path.map(String)];
    return `${path.length ? path.join('.') : '(body)'}: ${i.message}`;
  });
}

export type ParsedDelivery =
  | {
      ok: true;
      incidentId: string;
      incidentTitle?: string;
      request: Record<string, unknown>;
      cluster: string;
    }
  | { ok: false; issues: string[] };

/** Checks a parsed JSON body for one kind: the envelope, the signed time, the request's shape. */
export function parseDelivery(
  kind: RunbookKind,
  body: unknown,
  now: number,
  maxAgeMs = DEFAULT_MAX_AGE_MS,
): ParsedDelivery {
  const env = WebhookEnvelope.safeParse(body);
  if (!env.success) return { ok: false, issues: issueLines(env.error) };
  const sent = Date.parse(env.data.sentAt);
  if (now - sent > maxAgeMs)
    return {
      ok: false,
      issues: [
        `sentAt: older than ${maxAgeMs / 1000} s; a delivery is accepted only that long after it is signed`,
      ],
    };
  if (sent - now > MAX_CLOCK_AHEAD_MS)
    return { ok: false, issues: ["sentAt: in the future; check the sender's clock"] };
  const issues = requestShapeIssues(kind.type, env.data.request).map((i) => `request.${i}`);
  if (issues.length) return { ok: false, issues };
  const request = env.data.request as Record<string, unknown>;
  return {
    ok: true,
    incidentId: env.data.incident.id,
    ...(env.data.incident.title ? { incidentTitle: env.data.incident.title } : {}),
    request,
    cluster: String(request.cluster),
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
