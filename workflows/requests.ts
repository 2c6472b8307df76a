// What a request may say. Whoever starts a run does not own the hosts: a request names a cluster of
// the fleet catalog (on the workers, activities/trust/fleet-catalog.ts), a target and the options below;
// everything that becomes argv, a path, an endpoint or a secret reference comes from the catalog.
// Pure code: used by the catalog resolver, the CLI and the webhook.
import { RUNBOOKS } from './runbooks';

/** Options every runbook's request may set (none of them names a host, a path or a secret). */
export const COMMON_REQUEST_FIELDS = [
  'recoveryId',
  'mode',
  'requireApproval',
  'approvalTimeout',
  'heartbeatTimeout',
  'hostTimeout',
  // The starter's signature (workflows/approval-signature.ts): proves who started the run.
  'startedBy',
] as const;

/** Per runbook: the target and the options of the procedure a request may choose (workflows/runbooks.ts). */
export const RUNBOOK_REQUEST_FIELDS: Record<string, readonly string[]> = Object.fromEntries(
  RUNBOOKS.map((r) => [r.kind, r.requestFields]),
);

/** The fields a request for `kind` may set, narrowed by a catalog entry's own `allow` list when it has one. */
export function requestFields(kind: string, allow?: readonly string[]): string[] {
  const own = RUNBOOK_REQUEST_FIELDS[kind];
  if (!own) return [];
  const all = [...COMMON_REQUEST_FIELDS, ...own];
  return allow ? all.filter((f) => allow.includes(f)) : all;
}

/** A catalog entry name, as a request names it: a file name on the workers, so a slug. */
export const CATALOG_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/**
 * The problems of a request's shape (not of its values, which the runbook's schema checks once the
 * catalog's part is merged): it must be an object naming a catalog entry, with no field a request
 * may not set. Each problem names the field.
 */
export function requestShapeIssues(kind: string, request: unknown, allow?: readonly string[]): string[] {
  if (!RUNBOOK_REQUEST_FIELDS[kind]) return [`(kind): no runbook ${JSON.stringify(kind.slice(0, 80))}`];
  if (!request || typeof request !== 'object' || Array.isArray(request))
    return ['(request): must be an object: { "cluster": "<catalog name>", … }'];
  const issues: string[] = [];
  const { cluster, ...rest } = request as Record<string, unknown>;
  if (typeof cluster !== 'string' || !CATALOG_NAME.test(cluster))
    issues.push('cluster: the name of a cluster in the fleet catalog (letters, digits, ".", "_", "-")');
  const allowed = new Set(requestFields(kind, allow));
  for (const field of Object.keys(rest))
    if (!allowed.has(field))
      issues.push(
        RUNBOOK_REQUEST_FIELDS[kind]!.includes(field) ||
          (COMMON_REQUEST_FIELDS as readonly string[]).includes(field)
          ? `${field}: this cluster's catalog entry does not let a request set it`
          : `${field}: set by the fleet catalog on the workers, not by a request`,
      );
  return issues;
}
