// `runbook`: start, watch and steer the recovery runbooks from a terminal.
// Exit codes: 0 done, 1 the run failed, 2 bad usage or input (nothing started), 3 Temporal unreachable.
// The commands live in scripts/cli/ by concern: connect.ts (Temporal, request files), start.ts (plan,
// start, rollback, cancel), status.ts (status, history, failures), approve.ts (approve, keygen),
// backups.ts (a Percona cluster's base backups, read on this host), report.ts (a run's recovery report),
// find.ts (the transactions touching a table in the archived binlogs: find the accident), drills.ts
// (a cluster's restore drills: their schedule, history and chart).
import { Command, CommanderError } from 'commander';
import { SEARCH_ATTRIBUTES } from '../workflows/kit';
import { RUNBOOKS } from '../workflows/runbooks';
import { TASK_QUEUE } from '../workflows/routing';
import { CliError, connect, type GlobalOptions } from './cli/connect';
import { addApproveAndKeygenCommands } from './cli/approve';
import { addPlanAndStartCommands, addRollbackAndCancelCommands } from './cli/start';
import { addHistoryCommand, addStatusCommand } from './cli/status';
import { addBackupsCommand } from './cli/backups';
import { addReportCommand } from './cli/report';
import { addDrillsCommand } from './cli/drills';
import { addFindCommand } from './cli/find';
import { missingSearchAttributes } from '../workers/namespace-check';

export { nextAction } from './cli/status';

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

  addPlanAndStartCommands(program, g);
  addStatusCommand(program, g);
  addApproveAndKeygenCommands(program, g);
  addRollbackAndCancelCommands(program, g);
  addHistoryCommand(program, g);
  addReportCommand(program, g);
  addBackupsCommand(program);
  addDrillsCommand(program, g);
  addFindCommand(program);

  program
    .command('setup-namespace')
    .description(`register the search attributes (${SEARCH_ATTRIBUTES.join(', ')}) on the namespace`)
    .action(async () => {
      const { connection, namespace } = await connect(g());
      try {
        const missing = await missingSearchAttributes(connection.operatorService, namespace);
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
