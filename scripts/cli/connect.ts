// The runbook CLI's connection to Temporal, its usage errors, and the reading of request files.
import { Client, Connection } from '@temporalio/client';
import { connectClient, loadTemporalTarget, type TemporalTarget } from '../../workers/temporal-connection';
import { readFile } from 'node:fs/promises';
import { RUNBOOKS, runbookOf } from '../../workflows/runbooks';
import { requestShapeIssues } from '../../workflows/requests';
import { dataConverterFromEnv } from '../../workers/codec';
import { NamespaceNotReady, requireSearchAttributes } from '../../workers/namespace-check';

export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

export interface GlobalOptions {
  address?: string;
  namespace?: string;
  taskQueue: string;
}

export async function connect(
  o: GlobalOptions,
): Promise<{ client: Client; connection: Connection; namespace: string }> {
  // The workers' configuration (workers/temporal-connection.ts); --address/--namespace override it.
  let target: TemporalTarget;
  let dataConverter: ReturnType<typeof dataConverterFromEnv>;
  try {
    target = loadTemporalTarget({
      ...process.env,
      ...(o.address ? { TEMPORAL_ADDRESS: o.address } : {}),
      ...(o.namespace ? { TEMPORAL_NAMESPACE: o.namespace } : {}),
    });
    dataConverter = dataConverterFromEnv(); // RUNBOOK_CODEC_KEY: payloads encrypted like the workers'
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  try {
    const connection = await connectClient(target);
    return {
      client: new Client({ connection, namespace: target.namespace, dataConverter }),
      connection,
      namespace: target.namespace,
    };
  } catch (err) {
    throw new CliError((err as Error).message, 3);
  }
}

/**
 * Before anything starts a run: the namespace has the runbooks' search attributes (else the run would
 * hang at its first step). Exit 2, nothing started, the missing names and `setup-namespace` named.
 */
export async function requireReadyNamespace(connection: Connection, namespace: string): Promise<void> {
  try {
    await requireSearchAttributes(connection.operatorService, namespace);
  } catch (err) {
    if (err instanceof NamespaceNotReady) throw new CliError(err.message, 2);
    throw err;
  }
}

/**
 * Reads a request file and checks its shape: a cluster of the fleet catalog and only the fields a
 * request may set (the workers merge the catalog's part and validate the whole). Nothing starts on
 * a bad request.
 */
export async function loadInput(kind: string, file: string): Promise<Record<string, unknown>> {
  const spec = runbookOf(kind);
  if (!spec)
    throw new CliError(
      `unknown runbook ${JSON.stringify(kind)}; known: ${RUNBOOKS.map((r) => r.kind).join(', ')}`,
      2,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot read the input ${file}: ${(err as Error).message}`, 2);
  }
  const issues = requestShapeIssues(kind, raw);
  if (issues.length) throw new CliError(`invalid request for ${kind}: ${issues.join('; ')}`, 2);
  return raw as Record<string, unknown>;
}
