// The kubernetes adapter: the Percona Operator for MySQL's PerconaServerMySQL resource, read and
// patched with kubectl. What it relies on, from the operator's source (percona-server-mysql-operator):
// - status.state (api/v1/perconaservermysql_types.go StatefulAppState): "" (not reconciled yet),
//   initializing, stopping, paused, ready, error. `error` is what reconcileCRStatus
//   (pkg/controller/ps/status.go) writes when a reconcile fails, with a condition of type "Error"
//   holding the reconcile error: nothing this runbook does cures it, so it is final at once.
// - Members: spec.mysql.size; each member's datadir is the StatefulSet claim datadir-<cr>-mysql-<n>
//   (pkg/mysql/mysql.go: DataVolumeName "datadir", Name() "<cr>-mysql"), labelled with the StatefulSet's
//   selector (mysql.MatchLabels: app.kubernetes.io/instance=<cr>, part-of=percona-server, … in every
//   operator version; name/component changed at 1.0.0, so only these two are selected on).
// - The operator's own restore deletes every such claim but mysql-0's before it unpauses
//   (pkg/controller/psrestore/controller.go deletePVCs), so the other members re-clone from the
//   restored one. This runbook restores one datadir and does not: it refuses a cluster with more.
import type { Cluster } from '../../workflows/schemas';
import type { StepOutcome } from '../../workflows/kit';
import { runCommand } from '../runtime/command';
import { waitUntil } from '../runtime/processes';
import { ApplicationFailure } from '@temporalio/common';
import { failure } from '../../workflows/failures';

export type KubernetesCluster = Extract<Cluster, { adapter: 'kubernetes' }>;

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

interface ClusterView {
  pause: boolean;
  state: string;
  /** spec.mysql.size, and status.mysql.size (what runs now), when they are numbers. */
  size: number | null;
  runningSize: number | null;
  conditions: Condition[];
}

/** The states the operator writes; anything else is a shape this adapter does not know. */
const STATES = ['', 'initializing', 'stopping', 'paused', 'ready', 'error'];

export function kubectl(c: KubernetesCluster, ...args: string[]): string[] {
  return [
    'kubectl',
    ...(c.kubeconfig ? [`--kubeconfig=${c.kubeconfig}`] : []),
    ...(c.context ? [`--context=${c.context}`] : []),
    `--namespace=${c.namespace}`,
    ...args,
  ];
}

const what = (c: KubernetesCluster) => `perconaservermysql/${c.resource} (namespace ${c.namespace})`;
function parseJson(text: string, from: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw failure('BadToolOutput', `${from} --output=json answered with text that is not JSON`);
  }
}
const count = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null);

async function readCluster(c: KubernetesCluster): Promise<ClusterView> {
  const { stdout } = await runCommand(kubectl(c, 'get', 'perconaservermysql', c.resource, '--output=json'));
  const obj = parseJson(stdout, 'kubectl get perconaservermysql') as {
    spec?: { pause?: boolean; mysql?: { size?: unknown } };
    status?: { state?: unknown; mysql?: { size?: unknown }; conditions?: Condition[] };
  };
  const state = obj.status?.state ?? '';
  if (typeof state !== 'string' || !STATES.includes(state))
    throw failure(
      'BadToolOutput',
      `${what(c)} reports status.state ${JSON.stringify(state)}, which this runbook does not know (the operator writes ${STATES.filter(Boolean).join(', ')}); nothing was changed by this read`,
    );
  return {
    pause: obj.spec?.pause === true,
    state,
    size: count(obj.spec?.mysql?.size),
    runningSize: count(obj.status?.mysql?.size),
    conditions: Array.isArray(obj.status?.conditions) ? obj.status.conditions : [],
  };
}

/** The operator's own words for an error state: its "Error" condition (pkg/controller/ps/status.go). */
function errorReason(v: ClusterView): string {
  const errs = v.conditions.filter((k) => k.status === 'True' && /^error$/i.test(k.type ?? ''));
  const said = errs.map((k) => `${k.message || '(no message)'}${k.reason ? ` (reason ${k.reason})` : ''}`);
  return said.length ? said.join('; ') : 'the operator gave no Error condition';
}

/** A cluster the operator reports in error is a final failure at once; `world` says what this run changed. */
function refuseBroken(c: KubernetesCluster, v: ClusterView, world: string): void {
  if (v.state === 'error')
    throw failure('ClusterError', `${what(c)} is in state error: ${errorReason(v)}. ${world}`);
}

/** The datadir claims of the cluster's MySQL members (the StatefulSet's, by its selector and name). */
async function dataClaims(c: KubernetesCluster): Promise<string[]> {
  const selector = `app.kubernetes.io/instance=${c.resource},app.kubernetes.io/part-of=percona-server`;
  const { stdout } = await runCommand(
    kubectl(c, 'get', 'persistentvolumeclaims', `--selector=${selector}`, '--output=json'),
  );
  const list = parseJson(stdout, 'kubectl get persistentvolumeclaims') as {
    items?: { metadata?: { name?: string } }[];
  };
  if (!Array.isArray(list.items))
    throw failure('BadToolOutput', `kubectl get persistentvolumeclaims answered without an items list`);
  const member = new RegExp(`^datadir-${c.resource}-mysql-\\d+$`);
  return list.items
    .map((i) => i.metadata?.name ?? '')
    .filter((n) => member.test(n))
    .sort();
}

/**
 * Refuses a cluster with more than one MySQL member (or whose member count is unknown, or with other
 * members' datadirs left from a scale-down): restoring one datadir would leave the others diverged.
 */
async function refuseMembers(c: KubernetesCluster, v: ClusterView, world: string): Promise<string> {
  const claims = await dataClaims(c);
  const first = `datadir-${c.resource}-mysql-0`;
  const others = claims.filter((n) => n !== first);
  if (v.size === null)
    throw failure(
      'MultiMemberCluster',
      `${what(c)} has no spec.mysql.size: this runbook cannot tell how many MySQL members it has, and restores only one. ${world}`,
    );
  const members = Math.max(v.size, v.runningSize ?? 0);
  if (members <= 1 && !others.length)
    return `1 MySQL member (${claims.join(', ') || 'no datadir claim yet'})`;
  throw failure(
    'MultiMemberCluster',
    `${what(c)} has ${members > 1 ? `${members} MySQL members (spec.mysql.size ${v.size}, running ${v.runningSize ?? '?'})` : `the datadir claims of other members left from a scale-down`}` +
      ` (claims: ${claims.join(', ') || 'none'}). This runbook restores one datadir: the other members would come back` +
      ` with their old data, diverged from the restored one (the operator's own restore deletes ${others.join(', ') || 'their claims'}` +
      ` before it unpauses, so they re-clone from ${first}; this runbook does not delete them). ${world}` +
      ` To recover this cluster: restore with the operator's PerconaServerMySQLRestore (spec.pitr); or scale it to one` +
      ` member (spec.mysql.size: 1, unsafeFlags.mysqlSize: true), set persistentVolumeReclaimPolicy: Retain on the` +
      ` other members' volumes and delete their claims, run this recovery, then scale back up so they re-clone.`,
  );
}

/** The plan's check: reachable, not in error, one member. Touches nothing. */
export async function checkKubernetesCluster(c: KubernetesCluster): Promise<string> {
  const v = await readCluster(c).catch((err: Error) => {
    if (err instanceof ApplicationFailure) throw err;
    throw failure('Unreachable', `cluster ${c.name} unreachable: ${err.message}`);
  });
  const untouched = 'Nothing was changed.';
  refuseBroken(c, v, untouched);
  const members = await refuseMembers(c, v, untouched);
  return `perconaservermysql/${c.resource}: ${v.state || '(not reconciled yet)'}, ${members}`;
}

/** Sets spec.pause and waits for the operator to report paused/ready; error is final at once. */
export async function setKubernetesPause(c: KubernetesCluster, pause: boolean): Promise<StepOutcome> {
  const want = pause ? 'paused' : 'ready';
  const now = await readCluster(c);
  const untouched = `Nothing was changed by this step: spec.pause is still ${now.pause}.`;
  refuseBroken(c, now, untouched);
  const members = await refuseMembers(c, now, untouched);
  if (now.pause === pause && now.state === want)
    return { skipped: true, evidence: [`perconaservermysql/${c.resource} already ${want} (${members})`] };
  if (now.pause !== pause)
    await runCommand(
      kubectl(
        c,
        'patch',
        'perconaservermysql',
        c.resource,
        '--type=merge',
        `--patch=${JSON.stringify({ spec: { pause } })}`,
      ),
    );
  await waitUntil(
    `perconaservermysql/${c.resource} to be ${want}`,
    async () => {
      const v = await readCluster(c);
      refuseBroken(
        c,
        v,
        `spec.pause is ${v.pause} (this run set it to ${pause}); the cluster is not ${want}.`,
      );
      return v.state === want;
    },
    30 * 60_000,
    1000,
  );
  return { evidence: [`perconaservermysql/${c.resource} spec.pause=${pause}, status ${want} (${members})`] };
}
