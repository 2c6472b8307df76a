// `npm test`: one real Temporal dev server for the whole run (test files connect to it through
// TEMPORAL_ADDRESS), then node's test runner over the test files, two at a time (2 cores); each file's
// time is printed as it ends.
// Usage: tsx scripts/run-tests.ts [unit|integration|replay|faults|<file>…]
import { execa } from 'execa';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { mariadbVersion } from './lib/mariadb-server';
import { startDevServer } from './lib/temporal-dev-server';
import { projectRoot, weedBin } from './lib/tools';

/** Where each stand-in (test/fixtures/bin) keeps the world it simulates. */
const STANDIN_VARIABLES = [
  'NDB_STANDIN_STATE',
  'KUBECTL_STANDIN_STATE',
  'VITESS_STANDIN_STATE',
  'TUNGSTEN_STANDIN_STATE',
];

async function testFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await testFiles(p)));
    else if (e.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const suites = ['unit', 'kit', 'integration', 'replay'];
  const chosen = args.length ? args : suites;
  const files: string[] = [];
  for (const a of chosen)
    files.push(
      ...(a.endsWith('.ts') ? [join(projectRoot, a)] : await testFiles(join(projectRoot, 'test', a))),
    );
  if (!files.length) throw new Error(`no test files for ${chosen.join(' ')}`);

  const weed = await execa(weedBin(), ['version']).then(
    (r) => r.stdout.trim(),
    () => 'not installed',
  );
  // Everything the workers create on this host goes to a state directory of this run (0700).
  const stateDir = process.env.RUNBOOK_STATE_DIR ?? (await mkdtemp(join(tmpdir(), 'runbook-state-')));
  const catalogDir = await mkdtemp(join(tmpdir(), 'runbook-catalog-'));
  const temporal = await startDevServer();
  console.log(`# real servers: ${temporal.version}; ${await mariadbVersion()}; SeaweedFS ${weed}`);
  console.log(`# Temporal dev server ${temporal.address}; ${files.length} test file(s)`);
  const t0 = Date.now();
  try {
    const r = await execa(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        // One line per file with its time, as each file ends (scripts/lib/file-times-reporter.mjs).
        '--test-reporter=./scripts/lib/file-times-reporter.mjs',
        '--test-reporter-destination=stdout',
        `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
        ...files.map((f) => relative(projectRoot, f)),
      ],
      {
        cwd: projectRoot,
        stdio: 'inherit',
        reject: false,
        env: {
          TEMPORAL_ADDRESS: temporal.address,
          TEMPORAL_UI_URL: temporal.uiUrl,
          RUNBOOK_STATE_DIR: stateDir,
          // The fleet catalog the tests' workers read; each test adds the entries it needs.
          RUNBOOK_CATALOG: catalogDir,
          // Children get a minimal environment (activities/child-env.ts); the stand-ins find their
          // simulated world through these, as the real tools find theirs through configuration.
          RUNBOOK_CHILD_ENV: STANDIN_VARIABLES.join(','),
        },
      },
    );
    console.log(`# tests finished in ${((Date.now() - t0) / 1000).toFixed(0)} s (exit ${r.exitCode})`);
    return r.exitCode ?? 1;
  } finally {
    await temporal.stop();
    if (!process.env.RUNBOOK_STATE_DIR) await rm(stateDir, { recursive: true, force: true });
    await rm(catalogDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`run-tests: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
