// Scan speed of the accident finder (`runbook find`), on real MariaDB binlogs: a workload of row
// transactions on the table asked about and on another one (with a big DELETE as the accident), then
// the same archive read three ways, in interleaved rounds, median counting: `cat` to /dev/null (the
// speed of reading the bytes at all; the files are in the page cache after the first read, so this is
// memory speed on a warm cache), the finder (every event CRC-checked and hashed as a replay's plan
// does, headers, table maps and row-image widths read), and mariadb-binlog --base64-output=decode-rows
// (headers only) and with --verbose (rows decoded to pseudo-SQL: what an operator greps by hand).
// `npm run bench:find` runs it alone; scripts/bench.ts after the others.
import { mkdir, readdir, rm, stat, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { FsArchive } from '../../activities/archive/archive-fs';
import { refreshIndex } from '../../activities/archive/archive-index';
import { findAccidentIn } from '../../activities/archive/accident-activity';
import { startMariadbServer } from './mariadb-server';
import { printTable } from './text-table';
import { loadLine } from './bench-scale';
import { projectRoot } from './tools';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Transactions of 1,000 rows (about 0.2 MB of binlog each). */
const TRANSACTIONS = Number(process.env.BENCH_FIND_TRANSACTIONS ?? 600);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mbps = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(0);

async function timed(work: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await work();
  return performance.now() - t0;
}

/** Records the workload; returns the archive directory, its files and the accident's GTID. */
async function record(
  base: string,
): Promise<{ dir: string; files: string[]; bytes: number; accident: string }> {
  const s = await startMariadbServer({
    baseDir: join(base, 'src'),
    serverId: 1,
    extraArgs: ['--max-binlog-size=64M', '--innodb-flush-log-at-trx-commit=2', '--sync-binlog=0'],
  });
  try {
    await s.query(`CREATE DATABASE shop;
      CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, customer_id INT NOT NULL, amount DECIMAL(10,2) NOT NULL,
        status VARCHAR(16) NOT NULL, note VARCHAR(255) NOT NULL, created DATETIME(3) NOT NULL) ENGINE=InnoDB;
      CREATE TABLE shop.events (id BIGINT PRIMARY KEY, payload VARCHAR(255) NOT NULL) ENGINE=InnoDB;
      CREATE PROCEDURE shop.w(k0 INT, n INT) BEGIN DECLARE k INT DEFAULT k0;
        WHILE k < k0 + n DO
          IF k MOD 2 = 0 THEN
            INSERT INTO shop.orders SELECT k * 1000 + seq, seq MOD 97, seq / 4, 'new', REPEAT('n', 150), NOW(3) FROM seq_0_to_999;
          ELSE
            INSERT INTO shop.events SELECT k * 1000 + seq, REPEAT('e', 180) FROM seq_0_to_999;
          END IF;
          SET k = k + 1;
        END WHILE; END`);
    await s.query('CALL shop.w(0, ?)', [TRANSACTIONS]);
    const r = (await s.query(
      'DELETE FROM shop.orders WHERE id % 3 = 0; SELECT @@last_gtid AS g',
    )) as unknown as { g: string }[][];
    await s.query('CALL shop.w(?, ?)', [TRANSACTIONS, Math.floor(TRANSACTIONS / 10)]);
    await s.query('FLUSH BINARY LOGS');
    const dir = join(base, 'archive');
    await mkdir(dir, { recursive: true });
    const files = (await readdir(s.datadir)).filter((n) => /^mysql-bin\.\d{6}$/.test(n)).sort();
    let bytes = 0;
    for (const f of files) {
      await copyFile(join(s.datadir, f), join(dir, f));
      bytes += (await stat(join(dir, f))).size;
    }
    await refreshIndex(new FsArchive(dir), join(base, 'staging'));
    return { dir, files: files.map((f) => join(dir, f)), bytes, accident: r.at(-1)![0]!.g };
  } finally {
    await s.destroy();
  }
}

/** Runs the bench; returns false when the finder did not name the accident it was given. */
export async function runFinderBench(): Promise<boolean> {
  const base = join(projectRoot, '.run', 'bench-find');
  await rm(base, { recursive: true, force: true });
  await mkdir(base, { recursive: true });
  console.log(`bench:find — ${loadLine()}`);
  try {
    const w = await record(base);
    console.log(
      `workload: ${TRANSACTIONS + Math.floor(TRANSACTIONS / 10) + 1} row transactions, ${w.files.length} file(s), ${(w.bytes / 1e6).toFixed(1)} MB`,
    );
    let found = '';
    const methods: [string, () => Promise<unknown>][] = [
      ['cat > /dev/null', () => execa('cat', w.files, { stdout: 'ignore' })],
      [
        'runbook find (finder)',
        async () => {
          const r = await findAccidentIn({ kind: 'fs', dir: w.dir }, { table: 'shop.orders' });
          found = r.accident?.gtid ?? '(none)';
        },
      ],
      [
        'mariadb-binlog --base64-output=decode-rows',
        () =>
          execa('mariadb-binlog', ['--no-defaults', '--base64-output=decode-rows', ...w.files], {
            stdout: 'ignore',
          }),
      ],
      [
        'mariadb-binlog --base64-output=decode-rows -v',
        () =>
          execa('mariadb-binlog', ['--no-defaults', '--base64-output=decode-rows', '-v', ...w.files], {
            stdout: 'ignore',
          }),
      ],
    ];
    await execa('cat', w.files, { stdout: 'ignore' }); // warm the page cache for every method alike
    const walls = methods.map(() => [] as number[]);
    for (let round = 0; round < ROUNDS; round++)
      for (const [i, [, run]] of methods.entries()) walls[i]!.push(await timed(run));
    const cat = median(walls[0]!);
    printTable(
      `Accident finder scan speed: ${(w.bytes / 1e6).toFixed(1)} MB of ROW binlogs, warm page cache, median of ${ROUNDS} interleaved round(s)`,
      ['method', 'wall', 'MB/s', 'vs cat'],
      methods.map(([name], i) => {
        const m = median(walls[i]!);
        return [name, `${(m / 1000).toFixed(2)} s`, mbps(w.bytes, m), `${(m / cat).toFixed(1)}×`];
      }),
    );
    const ok = found === w.accident;
    console.log(
      `finder named ${found} as the accident (the workload's DELETE: ${w.accident}) — ${ok ? 'right' : 'WRONG'}; ${loadLine()}`,
    );
    return ok;
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

if (process.argv[1] && /bench-finder\.ts$/.test(process.argv[1])) {
  const ok = await runFinderBench();
  process.exit(ok ? 0 : 1);
}
