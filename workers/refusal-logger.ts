// The workers' log: an activity or workflow that stops on a catalogued, non-retryable failure
// (workflows/failures.ts: a refusal — bad input, a guard that said no, a check that failed) is logged
// as one line, "refused: <activity> <Type>: <message>", at the level asked for, without the stack; so
// is a workflow's own failure, which its client receives whole ("workflow failed: <type> <message>").
// Everything else — retryable activity failures, uncatalogued errors, workflow-task failures (bugs,
// nondeterminism) — goes through unchanged, stack included.
import { DefaultLogger, type LogLevel, type LogMetadata, type Logger } from '@temporalio/worker';
import { isFailureType } from '../workflows/failures';

interface ErrorLike {
  message?: unknown;
  type?: unknown;
  nonRetryable?: unknown;
  cause?: unknown;
}

/** The catalogued non-retryable failure in an error's cause chain, if any (duck-typed: sinks copy errors). */
export function refusalOf(error: unknown): { type: string; message: string } | null {
  for (let e = error as ErrorLike | undefined, depth = 0; e && typeof e === 'object' && depth < 10; depth++) {
    if (e.nonRetryable === true && typeof e.type === 'string' && isFailureType(e.type))
      return { type: e.type, message: String(e.message ?? '') };
    e = e.cause as ErrorLike | undefined;
  }
  return null;
}

const FAILED = new Set(['Activity failed', 'Workflow failed']);

export class RefusalLogger implements Logger {
  constructor(
    private readonly inner: Logger,
    private readonly refusalLevel: LogLevel = 'WARN',
  ) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const refusal = FAILED.has(message) ? refusalOf(meta?.error) : null;
    if (
      !refusal &&
      message === 'Workflow failed' &&
      meta?.error instanceof Error &&
      !('type' in meta.error)
    ) {
      // Workflows run in worker threads: their failure reaches this logger as a structured-clone copy
      // that lost its type. The client that awaits the run gets the whole failure; this is one line.
      const first = meta.error.message.split('\n')[0];
      const run = meta.workflowId ? { workflowId: meta.workflowId } : undefined;
      return this.inner.log(
        this.refusalLevel,
        `workflow failed: ${String(meta.workflowType ?? '')} ${first}`,
        run,
      );
    }
    if (!refusal) return this.inner.log(level, message, meta);
    const what = meta?.activityType ?? meta?.workflowType;
    this.inner.log(
      this.refusalLevel,
      `refused: ${what ? `${String(what)} ` : ''}${refusal.type}: ${refusal.message}`,
      meta?.workflowId ? { workflowId: meta.workflowId } : undefined,
    );
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/** The production workers' logger: INFO and up; refusals one line at WARN. */
export function workerLogger(): Logger {
  return new RefusalLogger(new DefaultLogger('INFO'), 'WARN');
}
