// Builds the workflow bundle in a child process. Bundling (webpack + the native swc module) grows a
// process by ≈140 MB that V8 and the loaded native code never hand back, so a worker that bundled
// itself would carry it for its whole life (measured: idle worker 398 MB → 259 MB). The child writes
// the bundle as JSON to a temporary file and exits; the worker reads it.
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../activities/runtime/command';
import { invokedDirectly } from '../scripts/lib/entry';
import { projectRoot } from '../scripts/lib/tools';

const thisFile = fileURLToPath(import.meta.url);

export async function bundleInChildProcess(
  workflowsPath: string,
  failureConverterPath?: string,
): Promise<WorkflowBundleWithSourceMap> {
  const dir = await mkdtemp(join(tmpdir(), 'runbook-bundle-'));
  try {
    const out = join(dir, 'bundle.json');
    const { stderr } = await runCommand(
      [
        process.execPath,
        '--import',
        'tsx',
        thisFile,
        workflowsPath,
        out,
        ...(failureConverterPath ? [failureConverterPath] : []),
      ],
      { cwd: projectRoot },
    );
    if (stderr) console.warn(stderr); // the bundler's warnings
    return JSON.parse(await readFile(out, 'utf8')) as WorkflowBundleWithSourceMap;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main([workflowsPath, out, failureConverterPath]: string[]): Promise<void> {
  if (!workflowsPath || !out)
    throw new Error('usage: workflow-bundle-child.ts WORKFLOWS_PATH OUT_JSON [FAILURE_CONVERTER]');
  const bundle = await bundleWorkflowCode({
    workflowsPath,
    // Activities carry the run's approvals to the hosts that journal them (activities/trust/approval-journal.ts);
    // the Web UI shows each activity's step and the run's outcome (workflows/run-metadata.ts).
    workflowInterceptorModules: [
      fileURLToPath(new URL('../workflows/approval-header.ts', import.meta.url)),
      fileURLToPath(new URL('../workflows/run-metadata.ts', import.meta.url)),
      // Each run's recovery report is saved beside its ledger as it ends (workflows/report-at-end.ts).
      fileURLToPath(new URL('../workflows/report-at-end.ts', import.meta.url)),
    ],
    ...(failureConverterPath ? { failureConverterPath } : {}),
    logger: {
      log() {},
      trace() {},
      debug() {},
      info() {},
      warn: (message: string) => console.warn(message),
      error: (message: string) => console.error(message),
    },
  });
  await writeFile(out, JSON.stringify({ code: bundle.code, sourceMap: bundle.sourceMap }));
}

if (invokedDirectly(import.meta.url)) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`workflow bundle: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
