// A worker does only what its own fleet catalog allows. The workflows ask for argv, pid files,
// datadirs, endpoints and secret references that came from the catalog; but anyone who can reach the
// Temporal namespace could run workflow code of their own on our task queues and ask a host agent
// for anything. So before each activity, the worker checks the values that decide what happens on
// a host against the catalog it reads itself, and refuses (non-retryable) what the catalog never named.
import { loadCatalog } from './fleet-catalog';
import { failure } from '../../workflows/failures';

/** Keys whose value must be one the catalog names, exactly. */
const EXACT = ['start', 'pidFile', 'kubeconfig', 'tungstenBin', 'binary', 'connectstring'] as const;
/** Keys under which the catalog names directories a datadir may be (or lie under). */
const DATA_ROOTS = ['datadir', 'dataDir', 'root'];

interface Allowed {
  exact: Map<string, Set<string>>;
  secretRefs: Set<string>;
  tcpServers: Set<string>;
  s3Endpoints: Set<string>;
  datadirs: Set<string>;
  dataRoots: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === 'object' && !Array.isArray(v);
/** `{ "env": … }` or `{ "file": … }`: a secret reference. */
const isSecretRef = (v: Record<string, unknown>) => {
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === 'env' || keys[0] === 'file') && typeof v[keys[0]] === 'string';
};
const ENDPOINT_KEYS = new Set(['host', 'port', 'socket', 'user', 'password', 'archive']);
/**
 * A MySQL endpoint over TCP (an object of an Endpoint's or a binlog source's keys only, with a
 * host): where a password goes.
 */
const tcpServer = (v: Record<string, unknown>) =>
  typeof v.host === 'string' && Object.keys(v).every((k) => ENDPOINT_KEYS.has(k))
    ? `${v.host}:${Number(v.port ?? 3306)}`
    : undefined;
/** A value that decides what runs: argv is an array (a binlog position under `start` is not). */
const decides = (key: string, v: unknown) => (key === 'start' ? Array.isArray(v) : typeof v === 'string');

/** Visits every value with the key it is under (array elements under their array's key). */
function walk(value: unknown, visit: (key: string, v: unknown) => void, key = ''): void {
  visit(key, value);
  if (Array.isArray(value)) for (const v of value) walk(v, visit, key);
  else if (isObject(value)) for (const [k, v] of Object.entries(value)) walk(v, visit, k);
}

async function allowedByCatalog(): Promise<Allowed> {
  const a: Allowed = {
    exact: new Map(EXACT.map((k) => [k, new Set<string>()])),
    secretRefs: new Set(),
    tcpServers: new Set(),
    s3Endpoints: new Set(),
    datadirs: new Set(),
    dataRoots: [],
  };
  for (const entry of (await loadCatalog(undefined, { usableOnly: true })).values())
    for (const spec of Object.values(entry.runbooks))
      walk(spec?.input, (key, v) => {
        if (decides(key, v)) a.exact.get(key)?.add(JSON.stringify(v));
        if (isObject(v) && isSecretRef(v)) a.secretRefs.add(JSON.stringify(v));
        if (isObject(v) && tcpServer(v)) a.tcpServers.add(tcpServer(v)!);
        if (key === 'endpoint' && typeof v === 'string') a.s3Endpoints.add(v);
        if (key === 'datadir' && typeof v === 'string') a.datadirs.add(v);
        if (DATA_ROOTS.includes(key) && typeof v === 'string') a.dataRoots.push(v.replace(/\/+$/, ''));
      });
  return a;
}

/** What in these activity arguments the catalog never named (empty: the activity may run). */
export async function outsideCatalog(args: unknown[]): Promise<string[]> {
  const a = await allowedByCatalog();
  const problems: string[] = [];
  walk(args, (key, v) => {
    const exact = a.exact.get(key);
    if (exact && decides(key, v) && !exact.has(JSON.stringify(v)))
      problems.push(`${key} ${JSON.stringify(v).slice(0, 200)}`);
    if (isObject(v) && isSecretRef(v) && !a.secretRefs.has(JSON.stringify(v)))
      problems.push(`secret reference ${JSON.stringify(v).slice(0, 200)}`);
    const server = isObject(v) ? tcpServer(v) : undefined;
    if (server && !a.tcpServers.has(server)) problems.push(`MySQL server ${server.slice(0, 200)}`);
    if (key === 'endpoint' && typeof v === 'string' && !a.s3Endpoints.has(v))
      problems.push(`S3 endpoint ${v.slice(0, 200)}`);
    if (
      key === 'datadir' &&
      typeof v === 'string' &&
      !a.datadirs.has(v) &&
      !a.dataRoots.some((root) => v.startsWith(`${root}/`))
    )
      problems.push(`datadir ${v.slice(0, 200)}`);
  });
  return [...new Set(problems)];
}

/** Wraps activities so each first checks its arguments against the catalog. */
export function guardedByCatalog<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
  exempt: readonly string[],
): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      exempt.includes(name)
        ? fn
        : async (...args: never[]) => {
            const problems = await outsideCatalog(args);
            if (problems.length)
              throw failure(
                'NotInCatalog',
                `${name} refused: not in this worker's fleet catalog: ${problems.join('; ')}. Nothing was done`,
              );
            return fn(...args);
          },
    ]),
  ) as T;
}
