// `runbook plan`, `start`, `rollback` and `cancel`: starting runs (a plan, a runbook, the rollback of a
// Percona recovery) and cancelling one.
import { WorkflowNotFoundError } from '@temporalio/client';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow';
import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { requestShapeIssues } from '../../workflows/requests';
import { requestDigest, signStart } from '../../workflows/approval-signature';
import { CliError, connect, loadInput, requireReadyNamespace, type GlobalOptions } from './connect';
import { failureMessage, printResult } from './status';
import { readSecretKey } from './approve';
import { runMetadata } from '../lib/run-summary';

const userName = () => process.env.USER ?? userInfo().username;
const newId = (kind: string, suffix = '') =>
  `${kind}${suffix}-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}`;

export function addPlanAndStartCommands(program: Command, g: () => GlobalOptions): void {
  program
    .command('plan <kind>')
    .description('run the plan only (touches nothing) and print it')
    .requiredOption('--input <file>', 'input JSON')
    .option('--id <workflowId>', 'workflow id')
    .action(async (kind: string, o: { input: string; id?: string }) => {
      const input = await loadInput(kind, o.input);
      const workflowId = o.id ?? newId(kind, '-plan');
      const { client, connection, namespace } = await connect(g());
      try {
        await requireReadyNamespace(connection, namespace);
        const handle = await client.workflow.start(kind, {
          taskQueue: g().taskQueue,
          workflowId,
          args: [{ ...input, mode: 'plan' }],
          ...runMetadata({
            kind,
            workflowId,
            request: { ...input, mode: 'plan' },
            startedBy: 'runbook plan',
          }),
        });
        const result = await handle.result().catch(async (err) => {
          throw new CliError(`plan refused: ${await failureMessage(err)}`, 1);
        });
        console.log(JSON.stringify(result, null, 2));
      } finally {
        await connection.close();
      }
    });

  program
    .command('start <kind>')
    .description('start a runbook')
    .requiredOption('--input <file>', 'input JSON')
    .option('--id <workflowId>', 'workflow id (default: <kind>-<time>)')
    .option('--wait', 'wait for the result and print it')
    .option('--incident <id>', 'the incident it answers (shown in the Web UI, e.g. INC-42)')
    .option(
      '--key <file>',
      'sign the start with your approval key: proves who started it (the starter may not approve)',
    )
    .option(
      '--approver <name>',
      'your name in the catalog (with --key)',
      process.env.USER ?? userInfo().username,
    )
    .action(
      async (
        kind: string,
        o: {
          input: string;
          id?: string;
          wait?: boolean;
          incident?: string;
          key?: string;
          approver: string;
        },
      ) => {
        const input = await loadInput(kind, o.input);
        const workflowId = o.id ?? newId(kind);
        if (o.key) {
          const expiresAt = new Date(Date.now() + 15 * 60_000).toISOString();
          const signature = signStart(await readSecretKey(o.key), {
            workflowId,
            kind,
            digest: requestDigest(input),
            expiresAt,
          });
          input.startedBy = { name: o.approver, expiresAt, signature };
        }
        const { client, connection, namespace } = await connect(g());
        try {
          await requireReadyNamespace(connection, namespace);
          const handle = await client.workflow.start(kind, {
            taskQueue: g().taskQueue,
            workflowId,
            args: [input],
            ...runMetadata({
              kind,
              workflowId,
              request: input,
              ...(o.incident ? { incident: { id: o.incident } } : {}),
              startedBy: o.key ? `runbook CLI (${o.approver}, signed)` : `runbook CLI (${userName()})`,
            }),
          });
          console.log(
            `started ${kind} ${handle.workflowId} (namespace ${namespace}, task queue ${g().taskQueue})`,
          );
          if (o.wait) await printResult(handle);
        } finally {
          await connection.close();
        }
      },
    );
}

export function addRollbackAndCancelCommands(program: Command, g: () => GlobalOptions): void {
  program
    .command('rollback <workflowId>')
    .description(
      'put production back as it was before a Percona recovery run, failed or completed (starts perconaRollback; approval-gated)',
    )
    .option('--id <workflowId>', 'workflow id of the rollback (default: <run>-rollback)')
    .option('--no-require-approval', 'move production without waiting for approvals')
    .option('--wait', 'wait for the result and print it')
    .action(async (id: string, o: { id?: string; requireApproval: boolean; wait?: boolean }) => {
      const { client, connection, namespace } = await connect(g());
      try {
        const run = client.workflow.getHandle(id);
        const d = await run.describe().catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) throw new CliError(`no run with workflow id ${id}`, 2);
          throw err;
        });
        if (d.type !== 'perconaPointInTimeRecovery')
          throw new CliError(`${id} is a ${d.type} run: rollback undoes perconaPointInTimeRecovery runs`, 2);
        // The run's own input (through the codec): the same cluster and restore datadir.
        const history = await run.fetchHistory();
        const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
        const original = (
          payload ? await decodeOptionalSinglePayload(client.options.loadedDataConverter, payload) : null
        ) as Record<string, unknown> | null;
        if (!original) throw new CliError(`cannot read the input of ${id} from its history`, 2);
        // The same catalog entry (it must serve perconaRollback too); a run from before the catalog
        // named its cluster inside its input.
        const cluster =
          typeof original.cluster === 'string'
            ? original.cluster
            : (original.cluster as { name?: unknown } | undefined)?.name;
        const request = {
          cluster,
          recoveryId: original.recoveryId ?? id,
          requireApproval: o.requireApproval,
          ...(original.heartbeatTimeout ? { heartbeatTimeout: original.heartbeatTimeout } : {}),
          ...(original.hostTimeout ? { hostTimeout: original.hostTimeout } : {}),
        };
        const issues = requestShapeIssues('perconaRollback', request);
        if (issues.length) throw new CliError(`cannot roll back ${id}: ${issues.join('; ')}`, 2);
        await requireReadyNamespace(connection, namespace);
        const rollbackId = o.id ?? `${id}-rollback`;
        const handle = await client.workflow.start('perconaRollback', {
          taskQueue: g().taskQueue,
          workflowId: rollbackId,
          args: [request],
          ...runMetadata({
            kind: 'perconaRollback',
            workflowId: rollbackId,
            request,
            startedBy: `runbook rollback (${userName()})`,
          }),
        });
        console.log(
          `started perconaRollback ${handle.workflowId} for ${id}` +
            (o.requireApproval
              ? ` — each move of production waits for: runbook approve ${handle.workflowId} --step <step> --reason <why>`
              : ''),
        );
        if (o.wait) await printResult(handle);
      } finally {
        await connection.close();
      }
    });

  program
    .command('cancel <workflowId>')
    .description('cancel a run (running steps are cancelled; finished ones stay done)')
    .action(async (id: string) => {
      const { client, connection } = await connect(g());
      try {
        await client.workflow.getHandle(id).cancel();
        console.log(`cancellation requested for ${id}`);
      } finally {
        await connection.close();
      }
    });
}
