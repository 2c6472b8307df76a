// `runbook`: start, watch and steer the recovery runbooks from a terminal.
// Exit codes: 0 done, 1 the run failed, 2 bad usage or input (nothing started), 3 Temporal unreachable.
import {
  Client,
  Connection,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { connectClient, loadTemporalTarget, type TemporalTarget } from '../workers/temporal-connection';
import { FAILURES, isFailureType, type FailureType } from '../workflows/failures';
import { Command, CommanderError } from 'commander';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { ed25519 } from '@noble/curves/ed25519.js';
import { userInfo } from 'node:os';
import {
  approveUpdate,
  progressQuery,
  SEARCH_ATTRIBUTES,
  type Approval,
  type RunbookProgress,
  type StepState,
} from '../workflows/kit';
import { RUNBOOKS, runbookOf } from '../workflows/runbooks';
import { TASK_QUEUE } from '../workflows/routing';
import { requestShapeIssues } from '../workflows/requests';
import { requestDigest, signApproval, signStart } from '../workflows/approval-signature';
import { dataConverterFromEnv } from '../workers/codec';
import { renderBar, renderSteps, sampleFrom, type ProgressSample } from './lib/progress-view';

class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

interface GlobalOptions {
  address?: string;
  namespace?: string;
  taskQueue: string;
}

async function connect(
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
 * Reads a request file and checks its shape: a cluster of the fleet catalog and only the fields a
 * request may set (the workers merge the catalog's part and validate the whole). Nothing starts on
 * a bad request.
 */
/** An Ed25519 secret key file (runbook keygen: 32 bytes in base64); a loose file is refused. */
async function readSecretKey(file: string): Promise<Uint8Array> {
  const st = await stat(file).catch(() => null);
  if (!st) throw new CliError(`cannot read the key ${file}`, 2);
  if (st.mode & 0o077) throw new CliError(`the key ${file} is readable by others (chmod 600 it)`, 2);
  const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
  if (key.length !== 32) throw new CliError(`${file} is not an Ed25519 secret key (32 bytes in base64)`, 2);
  return new Uint8Array(key);
}

async function loadInput(kind: string, file: string): Promise<Record<string, unknown>> {
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

const newId = (kind: string, suffix = '') =>
  `${kind}${suffix}-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}`;

async function failureMessage(err: unknown): Promise<string> {
  if (err instanceof WorkflowFailedError) {
    let cause: unknown = err.cause;
    while (cause instanceof Error && !('type' in cause) && cause.cause) cause = cause.cause;
    const message = cause instanceof Error ? cause.message : err.message;
    const next = nextAction(err);
    return next ? `${message}\nnext: ${next}` : message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The operator's next action for the innermost catalogued failure type (workflows/failures.ts). */
export function nextAction(err: unknown): string | undefined {
  let found: FailureType | undefined;
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const type = (e as { type?: string | null }).type;
    if (isFailureType(type)) found = type;
  }
  return found ? FAILURES[found].next : undefined;
}

/** The steps of a run: from the progress query while it runs, from its result once it is over. */
async function progressOf(
  handle: WorkflowHandle,
): Promise<{ progress: RunbookProgress | null; status: string; failure?: string }> {
  const d = await handle.describe();
  const status = d.status.name;
  if (status === 'RUNNING') return { progress: await handle.query(progressQuery), status };
  try {
    const result = (await handle.result()) as {
      steps?: StepState[];
      recoveryId?: string;
      mode?: 'run' | 'plan';
    };
    const progress = result?.steps
      ? {
          kind: d.type,
          recoveryId: result.recoveryId ?? d.workflowId,
          mode: result.mode ?? 'run',
          currentStep: null,
          steps: result.steps,
        }
      : null;
    return { progress, status };
  } catch (err) {
    const progress = await handle.query(progressQuery).catch(() => null);
    return { progress, status, failure: await failureMessage(err) };
  }
}

/** Heartbeat details of the activities running now (replay progress and the like). */
async function heartbeats(handle: WorkflowHandle): Promise<unknown[]> {
  const d = await handle.describe();
  return Promise.all(
    (d.raw.pendingActivities ?? []).map(async (a) => {
      const p = a.heartbeatDetails?.payloads?.[0];
      // Through the client's codec: with RUNBOOK_CODEC_KEY the details are encrypted like everything else.
      return p ? decodeOptionalSinglePayload(handle.client.options.loadedDataConverter, p) : null;
    }),
  );
}

/** Waits for a run's result and prints it; a failed run exits 1 with its message. */
async function printResult(handle: WorkflowHandle): Promise<void> {
  const result = await handle.result().catch(async (err) => {
    throw new CliError(`${handle.workflowId} failed: ${await failureMessage(err)}`, 1);
  });
  console.log(JSON.stringify(result, null, 2));
}

async function status(handle: WorkflowHandle, watch: boolean, intervalMs: number): Promise<number> {
  let first: ProgressSample | null = null;
  for (;;) {
    const { progress, status: st, failure } = await progressOf(handle);
    const lines = [
      progress
        ? renderSteps(progress, Date.now(), process.stdout.columns || 120)
        : `${handle.workflowId}: ${st}`,
    ];
    for (const details of st === 'RUNNING' ? await heartbeats(handle) : []) {
      const sample = sampleFrom(details, Date.now());
      if (sample) {
        first ??= sample;
        lines.push(renderBar(sample, first));
      } else if (details) lines.push(`  ${JSON.stringify(details)}`);
    }
    lines.push(`status: ${st}${failure ? ` — ${failure}` : ''}`);
    if (watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
    process.stdout.write(`${lines.join('\n')}\n${watch && !process.stdout.isTTY ? '\n' : ''}`);
    if (!watch || st !== 'RUNNING')
      return st === 'FAILED' || st === 'TERMINATED' || st === 'TIMED_OUT' ? 1 : 0;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function buildCli(): Command {
  const program = new Command('runbook')
    .description('Durable MySQL recovery runbooks on Temporal')
    .option('--address <host:port>', 'Temporal frontend (default: TEMPORAL_ADDRESS or localhost:7233)')
    .option('--namespace <name>', 'Temporal namespace (default: TEMPORAL_NAMESPACE or default)')
    .option(
      '--task-queue <name>',
      'task queue of the runbook workers',
      process.env.RUNBOOK_TASK_QUEUE ?? TASK_QUEUE,
    )
    .exitOverride()
    .showHelpAfterError();
  const g = () => program.opts<GlobalOptions>();

  program
    .command('list')
    .description('the runbooks, their inputs and their destructive steps')
    .action(() => {
      for (const r of RUNBOOKS) {
        const shape =
          (
            r.schema as {
              shape?: Record<string, unknown>;
              def?: { in?: { shape?: Record<string, unknown> } };
            }
          ).shape ?? {};
        console.log(`${r.kind} — ${r.procedure}`);
        console.log(
          `  steps:       ${r.steps.map((s) => (s.destructive ? `${s.name}⚠` : s.name)).join(' → ')}`,
        );
        console.log(
          `  destructive: ${
            r.steps
              .filter((s) => s.destructive)
              .map((s) => s.name)
              .join(', ') || 'none'
          }`,
        );
        if (Object.keys(shape).length) console.log(`  input:       ${Object.keys(shape).join(', ')}`);
      }
    });

  program
    .command('plan <kind>')
    .description('run the plan only (touches nothing) and print it')
    .requiredOption('--input <file>', 'input JSON')
    .option('--id <workflowId>', 'workflow id')
    .action(async (kind: string, o: { input: string; id?: string }) => {
      const input = await loadInput(kind, o.input);
      const { client, connection } = await connect(g());
      try {
        const handle = await client.workflow.start(kind, {
          taskQueue: g().taskQueue,
          workflowId: o.id ?? newId(kind, '-plan'),
          args: [{ ...input, mode: 'plan' }],
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
        o: { input: string; id?: string; wait?: boolean; key?: string; approver: string },
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
          const handle = await client.workflow.start(kind, {
            taskQueue: g().taskQueue,
            workflowId,
            args: [input],
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

  program
    .command('status <workflowId>')
    .description('the steps of a run; --watch follows it live, with replay progress')
    .option('--watch', 'refresh until the run ends')
    .option('--interval <ms>', 'refresh interval', '1000')
    .action(async (id: string, o: { watch?: boolean; interval: string }) => {
      const { client, connection } = await connect(g());
      try {
        const code = await status(client.workflow.getHandle(id), !!o.watch, Number(o.interval) || 1000);
        if (code) throw new CliError('', code);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new CliError(`no run with workflow id ${id}`, 2);
        throw err;
      } finally {
        await connection.close();
      }
    });

  program
    .command('approve <workflowId>')
    .description(
      'approve a destructive step while it waits; with --key, signed (what a cluster whose catalog names approvers requires)',
    )
    .requiredOption('--step <name>', 'the step to approve')
    .requiredOption('--reason <text>', 'why (e.g. the incident number)')
    .option(
      '--approver <name>',
      'who approves (your name in the catalog)',
      process.env.USER ?? userInfo().username,
    )
    .option('--key <file>', 'your Ed25519 secret key (runbook keygen)')
    .option('--valid-for <minutes>', 'how long the signature counts', '15')
    .option(
      '--print',
      'print the signed Update input (for temporal workflow update execute) instead of sending it',
    )
    .action(
      async (
        id: string,
        o: {
          step: string;
          reason: string;
          approver: string;
          key?: string;
          validFor: string;
          print?: boolean;
        },
      ) => {
        const { client, connection } = await connect(g());
        try {
          const handle = client.workflow.getHandle(id);
          const approval: Approval = { step: o.step, approver: o.approver, reason: o.reason };
          if (o.key) {
            // The signature binds this run, this step and the digest of what it waits on, until expiresAt.
            const d = await handle.describe();
            const waiting = (await handle.query(progressQuery)).steps.find((s) => s.name === o.step);
            if (!waiting?.approvalDigest)
              throw new CliError(`step ${o.step} of ${id} is not waiting for a signed approval`, 2);
            approval.expiresAt = new Date(Date.now() + Number(o.validFor) * 60_000).toISOString();
            approval.signature = signApproval(await readSecretKey(o.key), {
              workflowId: id,
              runId: d.raw.workflowExecutionInfo?.firstRunId ?? d.runId,
              step: o.step,
              digest: waiting.approvalDigest,
              expiresAt: approval.expiresAt,
              reason: o.reason,
            });
          }
          if (o.print) {
            console.log(JSON.stringify(approval));
            return;
          }
          await handle.executeUpdate(approveUpdate, { args: [approval] });
          console.log(`approved ${o.step} of ${id} (${o.approver}${o.key ? ', signed' : ''}: ${o.reason})`);
        } catch (err) {
          if (err instanceof CliError) throw err;
          const e = err as Error;
          throw new CliError(
            `approval refused: ${e.cause instanceof Error ? e.cause.message : e.message}`,
            2,
          );
        } finally {
          await connection.close();
        }
      },
    );

  program
    .command('keygen <file>')
    .description(
      'a new Ed25519 approval key: the secret into <file> (0600), the public key for the catalog printed',
    )
    .action(async (file: string) => {
      const secret = ed25519.utils.randomSecretKey();
      await writeFile(file, `${Buffer.from(secret).toString('base64')}\n`, { mode: 0o600, flag: 'wx' }).catch(
        (err: NodeJS.ErrnoException) => {
          throw new CliError(`cannot write ${file}: ${err.code === 'EEXIST' ? 'it exists' : err.message}`, 2);
        },
      );
      const publicKey = Buffer.from(ed25519.getPublicKey(secret)).toString('base64');
      console.log(JSON.stringify({ name: userInfo().username, publicKey }));
      console.log(`secret key written to ${file}; put the line above in the catalog's approval.approvers`);
    });

  program
    .command('rollback <workflowId>')
    .description(
      'put production back as it was before a Percona recovery run, failed or completed (starts perconaRollback; approval-gated)',
    )
    .option('--id <workflowId>', 'workflow id of the rollback (default: <run>-rollback)')
    .option('--no-require-approval', 'move production without waiting for approvals')
    .option('--wait', 'wait for the result and print it')
    .action(async (id: string, o: { id?: string; requireApproval: boolean; wait?: boolean }) => {
      const { client, connection } = await connect(g());
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
        const handle = await client.workflow.start('perconaRollback', {
          taskQueue: g().taskQueue,
          workflowId: o.id ?? `${id}-rollback`,
          args: [request],
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

  program
    .command('history <workflowId>')
    .description('save the run history (JSON that the replay suite reads)')
    .requiredOption('--out <file>', 'where to write it')
    .action(async (id: string, o: { out: string }) => {
      const { client, connection } = await connect(g());
      try {
        const history = await client.workflow.getHandle(id).fetchHistory();
        await writeFile(o.out, `${historyToJSON(history)}\n`);
        console.log(`saved ${history.events?.length ?? 0} events of ${id} to ${o.out}`);
      } finally {
        await connection.close();
      }
    });

  program
    .command('setup-namespace')
    .description(`register the search attributes (${SEARCH_ATTRIBUTES.join(', ')}) on the namespace`)
    .action(async () => {
      const { connection, namespace } = await connect(g());
      try {
        const have = await connection.operatorService.listSearchAttributes({ namespace });
        const missing = SEARCH_ATTRIBUTES.filter((n) => !(n in (have.customAttributes ?? {})));
        if (missing.length)
          await connection.operatorService.addSearchAttributes({
            namespace,
            searchAttributes: Object.fromEntries(missing.map((n) => [n, 2 /* INDEXED_VALUE_TYPE_KEYWORD */])),
          });
        console.log(
          missing.length
            ? `registered ${missing.join(', ')} on ${namespace}`
            : `${namespace} already has ${SEARCH_ATTRIBUTES.join(', ')}`,
        );
      } finally {
        await connection.close();
      }
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildCli().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      if (err.message) console.error(`runbook: ${err.message}`);
      return err.code;
    }
    console.error(`runbook: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (process.argv[1] && /runbook\.ts$/.test(process.argv[1])) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
