// Refuses a namespace that lacks the runbooks' search attributes (workflows/search-attributes.ts). On
// such a namespace every run's first workflow task fails on its search-attribute upsert and is retried
// forever: the run hangs silently. The controller worker and the `runbook` CLI ask the namespace once,
// at start, and stop with the missing names and the command that registers them.
import type { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

export class NamespaceNotReady extends Error {
  override name = 'NamespaceNotReady';
}

/** The part of the operator service this check calls (a Connection's or a NativeConnection's). */
export interface SearchAttributeLister {
  listSearchAttributes(request: {
    namespace: string;
  }): Promise<temporal.api.operatorservice.v1.IListSearchAttributesResponse>;
}

/** The command that registers the search attributes on `namespace`. */
export function setupCommand(namespace: string): string {
  return `npm run runbook -- setup-namespace${namespace === 'default' ? '' : ` --namespace ${namespace}`}`;
}

/** The project's search attributes that `namespace` does not have (empty: ready). */
export async function missingSearchAttributes(
  operator: SearchAttributeLister,
  namespace: string,
): Promise<string[]> {
  const have = await operator.listSearchAttributes({ namespace });
  const custom = have.customAttributes ?? {};
  return SEARCH_ATTRIBUTES.filter((name) => !(name in custom));
}

/**
 * Throws NamespaceNotReady naming the missing attributes and the fix. A namespace that cannot be asked
 * is refused too (fail closed), with the server's answer.
 */
export async function requireSearchAttributes(
  operator: SearchAttributeLister,
  namespace: string,
): Promise<void> {
  let missing: string[];
  try {
    missing = await missingSearchAttributes(operator, namespace);
  } catch (err) {
    throw new NamespaceNotReady(
      `cannot check the search attributes of namespace ${namespace} (${(err as Error).message}): ` +
        `runs need ${SEARCH_ATTRIBUTES.join(', ')}; if they are missing, every run hangs at its first step. ` +
        `Register them with: ${setupCommand(namespace)}`,
    );
  }
  if (missing.length)
    throw new NamespaceNotReady(
      `namespace ${namespace} lacks the search attribute(s) ${missing.join(', ')}: every run would hang at ` +
        `its first step. Register them once, then start again: ${setupCommand(namespace)}`,
    );
}
