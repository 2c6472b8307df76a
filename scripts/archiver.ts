// The binlog archiver as a service of its own (one per source), e.g. under systemd:
//   tsx scripts/archiver.ts /etc/binlog-archiver/src1.json
// with { "source": Endpoint, "archive": Archive, "spoolDir": "/var/spool/binlogs/src1", "serverId": 901 }.
// Killed, it is simply started again: it stops the streamer the dead one left and resumes from its
// newest local file (activities/archive/archiver.ts). SIGTERM/SIGINT stop it cleanly.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { BinlogArchiver } from '../activities/archive/archiver';
import { openArchive } from '../activities/archive/archives';
import { AbsolutePath, Archive, Dialect, Endpoint, describeIssues } from '../workflows/schemas';
import { invokedDirectly, untilStopSignal } from './lib/entry';

export const ArchiverConfig = z
  .object({
    source: Endpoint,
    archive: Archive,
    spoolDir: AbsolutePath,
    serverId: z.number().int().min(1).max(4294967295),
    dialect: Dialect.optional(),
    syncEveryMs: z.number().int().min(100).optional(),
  })
  .strict();

async function main(configFile: string | undefined): Promise<number> {
  if (!configFile) throw new Error('usage: archiver.ts CONFIG.json');
  const parsed = ArchiverConfig.safeParse(JSON.parse(await readFile(configFile, 'utf8')));
  if (!parsed.success) throw new Error(`${configFile}: ${describeIssues(parsed.error)}`);
  const c = parsed.data;
  const archiver = new BinlogArchiver({
    ...c,
    archive: await openArchive(c.archive),
    log: (line) => console.log(`${new Date().toISOString()} ${line}`),
  });
  archiver.start();
  const ended = await Promise.race([
    untilStopSignal().then(() => 'signal'),
    archiver.done().then(() => 'ended'),
  ]);
  await archiver.stop();
  if (ended === 'ended') {
    console.error(`archiver: ${archiver.lastError}`);
    return 1;
  }
  return 0;
}

if (invokedDirectly(import.meta.url))
  main(process.argv[2]).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`archiver: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
