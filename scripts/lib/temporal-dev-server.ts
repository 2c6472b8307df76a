// Starts the real `temporal server start-dev` (server + SQLite + Web UI) on free ports, with the
// runbooks' search attributes registered (unless told not to) and workflow Updates enabled.
import { execa, type ResultPromise } from 'execa';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../workflows/kit';
import { freePort } from '../../activities/mysql/ports';
import { temporalCli } from './tools';

export interface DevServer {
  address: string;
  uiUrl: string;
  namespace: string;
  version: string;
  stop(): Promise<void>;
}

export async function temporalVersion(): Promise<string> {
  const { stdout } = await execa(temporalCli(), ['--version']);
  return stdout.trim();
}

export interface DevServerOptions {
  dbFilename?: string;
  headless?: boolean;
  port?: number;
  uiPort?: number;
  /** false: the namespace starts without the runbooks' search attributes (tests of the refusal). */
  searchAttributes?: boolean;
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const port = opts.port ?? (await freePort());
  const uiPort = opts.uiPort ?? (await freePort());
  const args = [
    'server',
    'start-dev',
    '--ip=127.0.0.1',
    `--port=${port}`,
    `--ui-port=${uiPort}`,
    `--http-port=${await freePort()}`,
    `--metrics-port=${await freePort()}`,
    '--log-level=warn',
    ...(opts.dbFilename ? [`--db-filename=${opts.dbFilename}`] : []),
    ...(opts.headless ? ['--headless'] : []),
    ...(opts.searchAttributes === false
      ? []
      : SEARCH_ATTRIBUTES.flatMap((name) => ['--search-attribute', `${name}=Keyword`])),
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
  ];
  const proc: ResultPromise = execa(temporalCli(), args, {
    reject: false,
    stdio: ['ignore', 'pipe', 'pipe'],
    buffer: false,
  });
  let output = '';
  proc.stdout?.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
  proc.stderr?.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
  const kill = () => proc.kill('SIGKILL');
  process.once('exit', kill);

  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`temporal server exited during start:\n${output}`);
    try {
      const c = await Connection.connect({ address, connectTimeout: 1000 });
      await c.workflowService.getSystemInfo({});
      await c.close();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        kill();
        throw new Error(`temporal server not ready after 60 s: ${String(err)}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    address,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    namespace: 'default',
    version: await temporalVersion(),
    async stop() {
      process.removeListener('exit', kill);
      proc.kill('SIGTERM');
      const timer = setTimeout(kill, 10_000);
      await proc.catch(() => {});
      clearTimeout(timer);
    },
  };
}
