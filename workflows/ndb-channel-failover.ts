// NDB Cluster replication: failover to the secondary replication channel (MySQL Cluster manual,
// "Implementing Failover with MySQL Cluster Replication"), step by step:
//   1. check-channels          read only: the primary channel must not run (unless stopPrimary); the
//                              secondary channel is free (or already runs from the secondary source);
//                              the next-position form needs DDL-exists errors skipped; a preview of 3–4
//   2. stop-primary-channel ⚠  only with stopPrimary and a running primary channel: STOP SLAVE on it,
//                              shown stopped
//   3. find-latest-epoch       procedure 1: SELECT MAX(epoch) FROM mysql.ndb_apply_status on the replica (S')
//   4. find-start-position     procedure 2: on the secondary source (M'), from mysql.ndb_binlog_index,
//                              SUBSTRING_INDEX(File, '/', -1), Position WHERE epoch > @latest ORDER BY epoch LIMIT 1
//                              or SUBSTRING_INDEX(next_file, '/', -1), next_position WHERE epoch = @latest
//   5. change-master ⚠         procedure 3: CHANGE MASTER 'secondary' TO …, MASTER_LOG_FILE=?, MASTER_LOG_POS=?
//   6. start-slave             procedure 4: START SLAVE 'secondary'; both threads running
//   7. verify-replication      the lag; waits until the channel applied all the source had binlogged
// Two channels never run at once: the primary channel is checked again right before steps 5 and 6.
import type { BinlogPosition, ChannelStatus } from '../activities/ndb/channel-status';
import type { ReplicationReport } from '../activities/ndb/channel-ops';
import type { StartPoint } from '../activities/ndb/failover-start';
import { formatEpoch } from './epoch';
import { NDB_FAILOVER } from './runbooks';
import type { RunbookResult } from './kit';
import { openRunbook } from './request-input';
import { long, quick, sqlRunsOn } from './routing';
import { failure } from './failures';

export interface FailoverPlan {
  primary: ChannelStatus;
  secondary: ChannelStatus;
  /** The secondary channel already runs from the secondary source: steps 3–6 have nothing to do. */
  alreadyFailedOver: boolean;
  skipErrors: string;
  /** Preview of steps 3–4; read again after the primary channel is stopped. */
  latestEpoch?: string;
  start?: StartPoint;
}

export interface NdbFailoverResult extends RunbookResult<FailoverPlan> {
  /** The primary channel as this run left it. */
  primaryAfter?: ChannelStatus;
  latestEpoch?: string;
  start?: StartPoint;
  replication?: ReplicationReport;
}

const refuse = (message: string) => failure('FailoverRefused', message);
const chName = (c: string) => (c ? `'${c}'` : 'the default channel');

export async function ndbChannelFailover(raw: unknown): Promise<NdbFailoverResult> {
  const { input, rb } = await openRunbook(NDB_FAILOVER, raw);
  const { dialect, form } = input;
  const replica = input.replica;
  const primaryNode = input.primary.replica ?? replica;
  const samePrimaryNode = !input.primary.replica;
  const source = input.secondary.source;
  // SQL only: from the controller, or on a node's host when it is reached by its unix socket.
  const onReplica = quick(sqlRunsOn(replica.host, replica.endpoint));
  const onPrimary = quick(sqlRunsOn(primaryNode.host, primaryNode.endpoint));
  const onSource = quick(sqlRunsOn(source.host, source.endpoint));
  const pCh = input.primary.channel;
  const sCh = input.secondary.channel;
  const { connect } = input.secondary;

  /** The guard: the primary channel's state, read now. */
  const primaryStatus = async () => {
    const r = await onPrimary.inspectReplicaNode({
      dialect,
      endpoint: primaryNode.endpoint,
      channels: [pCh],
    });
    return { server: r.server, configured: r.configured, status: r.channels[0]! };
  };
  const assertPrimaryStopped = async () => {
    const p = await primaryStatus();
    if (p.status.running)
      throw refuse(
        `the primary channel ${chName(pCh)} on ${p.server} runs again (${p.status.description}); ` +
          'running two channels at once duplicates rows, so the secondary channel was not changed',
      );
  };

  // 1. Read only: the state of both channels, the guard, and a preview of the start point.
  const plan: FailoverPlan = await rb.step('check-channels', async () => {
    const node = await onReplica.inspectReplicaNode({
      dialect,
      endpoint: replica.endpoint,
      channels: samePrimaryNode ? [sCh, pCh] : [sCh],
      // change-master resolves the replication password on this worker: checked now, before step 2.
      refsToCheck: { secondary: { connect } },
    });
    const secondary = node.channels[0]!;
    const p = samePrimaryNode
      ? { server: node.server, configured: node.configured, status: node.channels[1]! }
      : await primaryStatus();
    const primary = p.status;
    const evidence = [...node.evidence];
    if (!samePrimaryNode) evidence.push(`primary on ${p.server}: ${primary.description}`);

    if (!primary.exists)
      throw refuse(
        `there is no replication channel ${chName(pCh)} on ${p.server} (configured: ${p.configured.map(chName).join(', ') || 'none'}); ` +
          'name the primary channel as it is configured, so the runbook can make sure it is not running',
      );
    if (primary.running && !input.stopPrimary)
      throw refuse(
        `the primary channel ${chName(pCh)} on ${p.server} is still running (${primary.description}). ` +
          'Running two replication channels at once duplicates rows, so nothing was changed. Once you are sure the ' +
          'primary channel failed, stop it, or start this runbook with "stopPrimary": true to have it stopped behind the approval gate.',
      );
    const alreadyFailedOver =
      secondary.running && secondary.sourceHost === connect.host && secondary.sourcePort === connect.port;
    if (secondary.running && !alreadyFailedOver)
      throw refuse(
        `the secondary channel ${chName(sCh)} on ${node.server} already runs from ${secondary.sourceHost}:${secondary.sourcePort}, ` +
          `not from the secondary source ${connect.host}:${connect.port} (${secondary.description}); nothing was changed`,
      );
    if (form === 'next-position' && node.ddlSkipMissing.length)
      throw refuse(
        `form "next-position" needs the replica to skip DDL-exists errors, but ${node.server} has ` +
          `${dialect === 'mysql' ? 'replica' : 'slave'}_skip_errors=${node.skipErrors} (not skipped: ${node.ddlSkipMissing.join(', ')}); ` +
          'DDL between the latest epoch and the next would be applied twice and stop the channel. Restart the replica with ' +
          '--slave-skip-errors=ddl_exist_errors (MySQL) or --slave-skip-errors=1007,1008,1050,1051,1054,1060,1061,1068,1094,1146, ' +
          'or use form "epoch-greater". Nothing was changed.',
      );
    if (alreadyFailedOver) {
      evidence.push(
        `the secondary channel already runs from ${connect.host}:${connect.port}: failed over earlier`,
      );
      return { primary, secondary, alreadyFailedOver, skipErrors: node.skipErrors, evidence };
    }
    const latest = await onReplica.readLatestAppliedEpoch(replica.endpoint);
    const found = await onSource.locateFailoverStart({
      source: source.endpoint,
      form,
      latestEpoch: latest.epoch,
    });
    evidence.push(
      `plan${primary.running ? ' (read again once the primary channel is stopped)' : ''}: ` +
        `latest epoch ${latest.epoch} (${formatEpoch(latest.epoch)}) → ${chName(sCh)} from ${found.start.file}:${found.start.position}`,
    );
    return {
      primary,
      secondary,
      alreadyFailedOver,
      skipErrors: node.skipErrors,
      latestEpoch: latest.epoch,
      start: found.start,
      evidence,
    };
  });

  const ahead = rb
    .destructiveSteps()
    .filter((s) => (s === 'stop-primary-channel' ? plan.primary.running : !plan.alreadyFailedOver));
  const result = () =>
    rb.result<FailoverPlan>(
      {
        primary: plan.primary,
        secondary: plan.secondary,
        alreadyFailedOver: plan.alreadyFailedOver,
        skipErrors: plan.skipErrors,
        latestEpoch: plan.latestEpoch,
        start: plan.start,
      },
      ahead,
    );
  if (input.mode === 'plan') return result();

  // 2. Only a running primary channel is stopped, and only when the input asks for it.
  let primaryAfter: ChannelStatus = plan.primary;
  if (plan.primary.running) {
    const stopped = await rb.destructive('stop-primary-channel', () =>
      onPrimary.stopReplicationChannel({ dialect, endpoint: primaryNode.endpoint, channel: pCh }),
    );
    primaryAfter = stopped.status;
  } else rb.skip('stop-primary-channel', `not running: ${plan.primary.description}`);

  let latestEpoch: string | undefined;
  let start: StartPoint | undefined;
  if (plan.alreadyFailedOver) {
    const why = `the secondary channel already runs from ${connect.host}:${connect.port}: ${plan.secondary.description}`;
    for (const s of ['find-latest-epoch', 'find-start-position', 'change-master', 'start-slave'] as const)
      rb.skip(s, why);
  } else {
    // 3–4. The decisive reads, now that no other channel can move MAX(epoch).
    latestEpoch = (
      await rb.step('find-latest-epoch', () => onReplica.readLatestAppliedEpoch(replica.endpoint))
    ).epoch;
    const epoch = latestEpoch;
    start = (
      await rb.step('find-start-position', () =>
        onSource.locateFailoverStart({ source: source.endpoint, form, latestEpoch: epoch }),
      )
    ).start;
    const from: BinlogPosition = { file: start.file, position: start.position };

    // 5. Repoint the secondary channel (gated), the primary checked again after any wait.
    await rb.destructive('change-master', async () => {
      await assertPrimaryStopped();
      return onReplica.repointSecondaryChannel({
        dialect,
        replica: replica.endpoint,
        channel: sCh,
        connect,
        start: from,
      });
    });

    // 6. Start it.
    await rb.step('start-slave', async () => {
      await assertPrimaryStopped();
      if (form === 'next-position') {
        const node = await onReplica.inspectReplicaNode({
          dialect,
          endpoint: replica.endpoint,
          channels: [],
        });
        if (node.ddlSkipMissing.length)
          throw refuse(
            `${node.server} no longer skips DDL-exists errors (${node.skipErrors}); the channel was not started`,
          );
      }
      const src = await onSource.readSourceBinlogPosition({ dialect, source: source.endpoint });
      return onReplica.startSecondaryChannel({
        dialect,
        replica: replica.endpoint,
        channel: sCh,
        sourceServerId: src.serverId,
      });
    });
  }

  // 7. Both threads run; the lag; caught up with what the source had binlogged when this step began.
  const verified = await rb.step('verify-replication', async () => {
    const target = await onSource.readSourceBinlogPosition({ dialect, source: source.endpoint });
    return long(sqlRunsOn(replica.host, replica.endpoint), input.heartbeatTimeout).awaitSecondaryCaughtUp({
      dialect,
      replica: replica.endpoint,
      channel: sCh,
      target: { file: target.file, position: target.position },
      wait: input.waitForCatchUp,
      timeout: input.catchUpTimeout,
    });
  });

  return { ...result(), primaryAfter, latestEpoch, start, replication: verified.replication };
}
