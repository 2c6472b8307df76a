// The one way product code runs external programs: argv arrays (never a shell), secrets redacted
// from errors, a heartbeat while the command runs, cancellation that kills it, and errors that carry
// the exit code and the tail of stderr.
import { Context } from '@temporalio/activity';
import { execa, type Options } from 'execa';
import { appendFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { childEnv } from './child-env';
import { redact } from '../trust/secrets';
import { failure } from '../../workflows/failures';

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Values to blank out of any message this command produces. */
  secrets?: readonly (string | undefined)[];
  /** Details sent with each heartbeat (progress for the UI and the CLI). */
  progress?: () => unknown;
  heartbeatEveryMs?: number;
  /** Text fed to stdin. */
  input?: string;
  /** A file fed to stdin (streamed, not read into memory). */
  inputFile?: string;
  /** Write stdout to this file instead of keeping it (streamed). */
  stdoutFile?: string;
  /** Also cancels the command (e.g. a deadline of the caller's own), besides activity cancellation. */
  signal?: AbortSignal;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly program: string,
    readonly exitCode: number | undefined,
    readonly stderrTail: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null; // not inside an activity (CLI, demo, unit test)
  }
}

/** Last lines of a stream's text, short enough for an error message. */
export function tail(text: string, lines = 8, maxChars = 2000): string {
  const t = text.trim().split('\n').slice(-lines).join('\n');
  return t.length > maxChars ? `…${t.slice(-maxChars)}` : t;
}

/** The `ERROR …` lines of a client's stderr when it printed any (not the statement it echoes), else the tail. */
export function errorLines(stderr: string): string {
  const errors = stderr
    .split('\n')
    .filter((l) => /^(ERROR|error:|mariadb-binlog: |mysqlbinlog: )/i.test(l.trim()));
  return errors.length ? tail(errors.join('\n'), 3) : tail(stderr);
}

function baseOptions(opts: RunOptions, signal: AbortSignal | undefined): Options {
  return {
    env: childEnv(opts.env),
    extendEnv: false,
    cwd: opts.cwd,
    reject: false,
    stripFinalNewline: true,
    cancelSignal: signal,
    forceKillAfterDelay: 5_000,
    maxBuffer: 64 * 1024 * 1024,
  };
}

/** Often enough that a live activity never misses its heartbeat timeout (a third of it, at most 2 s, so progress stays fresh). */
export function heartbeatInterval(ctx: Context): number {
  const timeout = ctx.info.heartbeatTimeoutMs;
  return timeout ? Math.max(200, Math.min(2_000, Math.floor(timeout / 3))) : 2_000;
}

/** Heartbeats while `work` runs; returns its result. */
export async function withHeartbeat<T>(
  opts: RunOptions,
  work: (signal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  const ctx = activityContext();
  if (!ctx) return work(opts.signal);
  const beat = () => ctx.heartbeat(opts.progress?.());
  const timer = setInterval(beat, opts.heartbeatEveryMs ?? heartbeatInterval(ctx));
  beat();
  try {
    return await work(
      opts.signal ? AbortSignal.any([ctx.cancellationSignal, opts.signal]) : ctx.cancellationSignal,
    );
  } finally {
    clearInterval(timer);
  }
}

/** Heartbeats while a long call without a command runs (a big CHECKSUM TABLE, indexing an archive). */
export function keepAlive<T>(details: unknown, work: () => Promise<T>): Promise<T> {
  return withHeartbeat({ progress: () => details }, () => work());
}

function commandFailure(
  argv: readonly string[],
  r: { exitCode?: number; stderr?: unknown; isCanceled?: boolean; signal?: string; originalMessage?: string },
  secrets: RunOptions['secrets'],
): CommandError {
  const program = argv[0] ?? '?';
  // Redact before trimming to the tail: a cut could otherwise keep the unredacted end of a secret.
  const stderr = errorLines(redact(String(r.stderr ?? ''), secrets ?? []));
  const how = r.isCanceled
    ? 'was cancelled'
    : r.signal
      ? `was killed by ${r.signal}`
      : r.exitCode === undefined
        ? `could not start (${redact(r.originalMessage ?? 'unknown error', secrets ?? [])})`
        : `exited with code ${r.exitCode}`;
  return new CommandError(`${program} ${how}${stderr ? `: ${stderr}` : ''}`, program, r.exitCode, stderr);
}

/**
 * Opt-in timing record for benchmarks: with RUNBOOK_COMMAND_TIMINGS=<file>, appends one JSON line
 * `{program, start, end, ms}` per external command or wait. Only a label: arguments may hold secrets.
 */
export async function timed<T>(program: string, work: () => Promise<T>): Promise<T> {
  const file = process.env.RUNBOOK_COMMAND_TIMINGS;
  if (!file) return work();
  const start = Date.now();
  try {
    return await work();
  } finally {
    const end = Date.now();
    await appendFile(file, `${JSON.stringify({ program, start, end, ms: end - start })}\n`).catch(() => {});
  }
}

/** Runs one command; throws CommandError unless it exits 0. */
export async function runCommand(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (!program) throw failure('RunbookBug', 'runCommand: empty argv');
  return withHeartbeat(opts, async (signal) => {
    const r = await timed(basename(program), () =>
      execa(program, args, {
        ...baseOptions(opts, signal),
        ...(opts.input !== undefined ? { input: opts.input } : {}),
        ...(opts.inputFile ? { inputFile: opts.inputFile } : {}),
        ...(opts.stdoutFile ? { stdout: { file: opts.stdoutFile } } : {}),
      }),
    );
    if (r.exitCode !== 0 || r.failed) throw commandFailure(argv, r, opts.secrets);
    return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: 0 };
  });
}

export interface PipeResult {
  producer: CommandResult;
  consumer: CommandResult;
}

/**
 * `producer | consumer` as two processes joined in Node. Both exit codes are checked: a producer
 * that fails while the consumer exits 0 (a classic `mysqlbinlog | mysql` trap) is a failure.
 * `watchProducerStderr` lets the caller reject warnings that exit 0 (e.g. "Did not reach stop position").
 */
export async function runPipe(
  producerArgv: readonly string[],
  consumerArgv: readonly string[],
  opts: RunOptions & { onProducerData?: (chunk: Buffer) => void } = {},
): Promise<PipeResult> {
  const [p, ...pArgs] = producerArgv;
  const [c, ...cArgs] = consumerArgv;
  if (!p || !c) throw failure('RunbookBug', 'runPipe: empty argv');
  return withHeartbeat(opts, async (signal) => {
    const producer = execa(p, pArgs, {
      ...baseOptions(opts, signal),
      buffer: { stdout: false, stderr: true },
    });
    const consumer = execa(c, cArgs, { ...baseOptions(opts, signal), stdin: 'pipe' });
    producer.stdout!.pipe(consumer.stdin!);
    // If the consumer dies first, stop the producer instead of letting it block on a full pipe.
    consumer.stdin!.on('error', () => producer.kill());
    if (opts.onProducerData) producer.stdout!.on('data', (b: Buffer) => opts.onProducerData!(b));
    const [pr, cr] = await timed(`${basename(p)} | ${basename(c)}`, () => Promise.all([producer, consumer]));
    if (cr.exitCode !== 0 || cr.failed) throw commandFailure(consumerArgv, cr, opts.secrets);
    if (pr.exitCode !== 0 || pr.failed) throw commandFailure(producerArgv, pr, opts.secrets);
    return {
      producer: { stdout: '', stderr: String(pr.stderr), exitCode: 0 },
      consumer: { stdout: String(cr.stdout), stderr: String(cr.stderr), exitCode: 0 },
    };
  });
}
