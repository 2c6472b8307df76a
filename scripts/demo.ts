// `npm run demo [-- <runbook>] [-- --exit]`: a real accident and a real recovery, on this machine.
// Each demo builds its small world (real MariaDB servers; for NDB, Tungsten and Vitess the vendor's
// programs are the stand-ins of test/fixtures/bin, which follow the vendor's documented behaviour),
// stages an accident, runs the recovery through the production worker on the real Temporal dev server
// (with Web UI) and prints the figures captured just before the accident next to the recovered ones.
// `all` runs every demo on one Temporal server. `--exit` ends by itself: exit code 0 only when every
// figure matches; without it the Web UI stays up until Ctrl-C.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startDevServer } from './lib/temporal-dev-server';
import { projectRoot } from './lib/tools';
import { closeSession, openSession, say, type DemoSession } from './demo/session';
import { perconaDemo } from './demo/percona';
import { tungstenDemo } from './demo/tungsten';
import { vitessDemo } from './demo/vitess';
import { ndbPitrDemo } from './demo/ndb-pitr';
import { ndbFailoverDemo } from './demo/ndb-failover';

const DEMOS: Record<string, { workflowType: string; run: (s: DemoSession) => Promise<boolean> }> = {
  percona: { workflowType: 'perconaPointInTimeRecovery', run: perconaDemo },
  tungsten: { workflowType: 'tungstenExternalRestore', run: tungstenDemo },
  vitess: { workflowType: 'vitessSnapshotRestore', run: vitessDemo },
  'ndb-pitr': { workflowType: 'ndbPointInTimeRecovery', run: ndbPitrDemo },
  'ndb-failover': { workflowType: 'ndbChannelFailover', run: ndbFailoverDemo },
};

function usage(): string {
  return `usage: npm run demo -- [${Object.keys(DEMOS).join('|')}|all] [--exit]   (default: percona)`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const exitWhenDone = args.includes('--exit');
  const names = args.filter((a) => !a.startsWith('--'));
  const unknownFlag = args.find((a) => a.startsWith('--') && a !== '--exit');
  if (unknownFlag || names.length > 1 || (names[0] && names[0] !== 'all' && !DEMOS[names[0]])) {
    console.error(
      `${unknownFlag ? `unknown option ${unknownFlag}` : `unknown demo ${names.join(' ')}`}\n${usage()}`,
    );
    return 2;
  }
  const chosen = Object.entries(DEMOS).filter(([name]) =>
    names[0] === 'all' ? true : name === (names[0] ?? 'percona'),
  );

  Runtime.install({ logger: new DefaultLogger('WARN') });
  const root = join(projectRoot, '.run', 'demo');
  await mkdir(root, { recursive: true });
  const dbFilename = join(root, `temporal-${process.pid}.db`);
  const temporal = await startDevServer({ dbFilename });
  say(`Temporal dev server ${temporal.address} — Web UI ${temporal.uiUrl}   (${temporal.version})`);
  const outcomes: { name: string; ok: boolean; seconds: number }[] = [];
  try {
    for (const [name, demo] of chosen) {
      const started = Date.now();
      say(`=== demo ${name}: ${demo.workflowType} ===`);
      const session = await openSession(name, temporal);
      let ok = false;
      try {
        ok = await demo.run(session.session);
      } catch (err) {
        console.error(
          `demo ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
      } finally {
        await closeSession(session);
      }
      outcomes.push({ name, ok, seconds: (Date.now() - started) / 1000 });
      say(`demo ${name}: ${ok ? 'verified' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    if (chosen.length > 1)
      for (const o of outcomes)
        console.log(`${o.name.padEnd(14)} ${o.ok ? 'verified' : 'FAILED  '} ${o.seconds.toFixed(1)} s`);
    if (!exitWhenDone) {
      console.log(
        `\nWeb UI: ${temporal.uiUrl} — filter with RunbookKind = "<workflow type>". Ctrl-C to stop.`,
      );
      await new Promise((r) => process.once('SIGINT', r));
    }
    return outcomes.every((o) => o.ok) ? 0 : 1;
  } finally {
    await temporal.stop();
    await rm(dbFilename, { force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
