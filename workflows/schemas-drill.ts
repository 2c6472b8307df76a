// Scheduled restore drills (issue 17): the fleet catalog's `drill` section of an entry, the record a
// drill leaves, and the rule that a drill never targets production. Pure code: the catalog's
// validation (activities/trust/fleet-catalog.ts), the drill's activities at run time, the workflow
// and the CLI all judge an entry with the same functions.
import { z } from 'zod';
import { Duration, SecretRef, Slug, type NewServer } from './schemas';

/** A five-field cron expression (minute hour day-of-month month day-of-week), as Temporal Schedules take it. */
const Cron = z
  .string()
  .max(200)
  .regex(/^\s*(\S+\s+){4}\S+\s*$/, 'a cron expression of five fields, e.g. "0 3 * * *"');

export const DrillSpec = z
  .object({
    /** When Temporal starts a drill: a cron expression, or an interval ("6h", "1d"). */
    schedule: z.union([z.object({ cron: Cron }).strict(), z.object({ every: Duration }).strict()], {
      error: 'drill.schedule must be {"cron": "0 3 * * *"} or {"every": "1d"}',
    }),
    /** One of the entry's perconaPointInTimeRecovery `newServers`, by name: a scratch server. */
    scratch: Slug,
    /** The schemas whose tables are fingerprinted on the source and checked on the scratch server. */
    schemas: z.array(Slug).min(1).max(100),
    /** Where a failed drill is reported: a signed POST (HMAC-SHA256 of the body under the secret). */
    alert: z.object({ url: z.url({ protocol: /^https?$/ }), secret: SecretRef }).strict(),
    /** How long the drill waits for the archive to hold its marker before it fails. */
    archiveWait: Duration.default('10m'),
  })
  .strict();
export type DrillSpec = z.output<typeof DrillSpec>;

/** The schema and table the drill writes its marker transaction into (created by the drill). */
export const MARKER_SCHEMA = 'runbook_drill';
export const MARKER_TABLE = 'marker';
/** The marker table's comment: how the drill knows the table is its own before it writes there. */
export const MARKER_COMMENT = 'mysql-recovery-runbooks restore drill marker (safe to drop)';

/** One drill as recorded (the worker's state dir) and shown by `runbook drills`. */
export interface DrillRecord {
  cluster: string;
  workflowId: string;
  /** The drill's recovery: the perconaPointInTimeRecovery child's workflow id and recoveryId. */
  recoveryId?: string;
  /** When the drill started (ISO, UTC). */
  at: string;
  result: 'passed' | 'failed';
  /** Recovery time measured: the child recovery's start to the checks' end (ms); absent when it never ran. */
  rtoMs?: number;
  /** Archive lag at the drill's start (s): 0 when the archive held the source's position, else now − newest archived event. */
  rpoSeconds?: number | null;
  /** The marker's GTID: the point restored to and compared at. */
  gtid?: string;
  /** Tables fingerprinted equal on the source and the scratch server, and checked by CHECK TABLE. */
  tables?: number;
  /** Why it failed (the first problem), absent when it passed. */
  why?: string;
  /** The alert: delivered (HTTP status) or why not. */
  alert?: string;
}

/** The parts of a cluster that a scratch server must not share. */
export interface ClusterPlace {
  datadir: string;
  /** argv of a process cluster (its --datadir/--port/--socket), if any. */
  start?: string[];
  connection?: { host?: string; port?: number; socket?: string };
}

const norm = (p: string) => p.replace(/\/+$/, '') || '/';
const within = (a: string, b: string) => a === b || a.startsWith(`${b}/`);

/** The value of `--name=value` or `--name value` in argv. */
function argvValue(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
    if (a === `--${name}`) return argv[i + 1];
  }
  return undefined;
}

/**
 * Why the scratch server would be production (empty: it is not). Its datadir must not be the
 * cluster's (nor inside it, nor contain it), its port and its socket must not be the cluster's.
 */
export function productionOverlap(
  scratchName: string,
  s: Pick<NewServer, 'datadir' | 'port' | 'socket'>,
  c: ClusterPlace,
): string[] {
  const out: string[] = [];
  const datadirs = [c.datadir, ...(c.start ? [argvValue(c.start, 'datadir')] : [])].filter(
    (d): d is string => !!d,
  );
  const sd = norm(s.datadir);
  for (const d of datadirs.map(norm))
    if (within(sd, d) || within(d, sd))
      out.push(`its datadir ${s.datadir} is the cluster's datadir ${d} or overlaps it`);
  const ports = [c.connection?.port, Number(argvValue(c.start ?? [], 'port')) || undefined].filter(
    (p): p is number => !!p,
  );
  if (s.port && ports.includes(s.port)) out.push(`its port ${s.port} is the cluster's`);
  const socket = s.socket ?? `${s.datadir}/mysql.sock`;
  const sockets = [c.connection?.socket, argvValue(c.start ?? [], 'socket')].filter((x): x is string => !!x);
  if (sockets.includes(socket)) out.push(`its socket ${socket} is the cluster's`);
  return [...new Set(out)].map((w) => `drill.scratch ${scratchName} is production: ${w}`);
}

/** The request fields a drill's recovery sets: the entry's `allow` must let them through. */
export const DRILL_REQUEST_FIELDS = ['target', 'restoreTo', 'verify', 'recoveryId'] as const;

/** The fixed input of the entry's Percona recovery, as far as the drill reads it. */
export interface DrillEntryView {
  input: {
    cluster?: { start?: string[]; connection?: ClusterPlace['connection'] };
    restore?: { datadir?: string };
    newServers?: Record<string, Pick<NewServer, 'datadir' | 'port' | 'socket'> & { approvalFree?: boolean }>;
  };
  allow?: string[];
}

/** Problems of an entry's drill section against its Percona recovery (empty: a drill may run). */
export function drillIssues(drill: DrillSpec, pitr: DrillEntryView | undefined): string[] {
  if (!pitr) return ['drill: the entry does not serve perconaPointInTimeRecovery, which a drill runs'];
  const ns = pitr.input.newServers?.[drill.scratch];
  if (!ns)
    return [
      `drill.scratch: no new server named ${drill.scratch} in perconaPointInTimeRecovery.input.newServers (it offers: ${Object.keys(pitr.input.newServers ?? {}).join(', ') || 'none'})`,
    ];
  const issues: string[] = [];
  if (!ns.approvalFree)
    issues.push(
      `drill.scratch ${drill.scratch} is not a scratch server (approvalFree: true): a drill restores only into a server whose restore needs no approval`,
    );
  const datadir = pitr.input.restore?.datadir;
  if (datadir)
    issues.push(
      ...productionOverlap(drill.scratch, ns, {
        datadir,
        start: pitr.input.cluster?.start,
        connection: pitr.input.cluster?.connection,
      }),
    );
  const barred = DRILL_REQUEST_FIELDS.filter((f) => pitr.allow && !pitr.allow.includes(f));
  if (barred.length)
    issues.push(
      `drill: perconaPointInTimeRecovery.allow must allow ${barred.join(', ')} (a drill's recovery sets them)`,
    );
  return issues;
}
