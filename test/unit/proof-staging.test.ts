// The proof reads the archive window again, checked against what the plan verified: a staged copy
// planted or changed between the replay and the proof is refused before the proof trusts it (and
// before any SQL). Real binlog bytes built in memory; the staging directory is a real one.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { BinlogArchive } from '../../activities/archive/archive';
import { planReplay } from '../../activities/replay/replay-plan';
import { proveRestoredReplay } from '../../activities/replay/replay-proof';
import type { SqlPools } from '../../activities/mysql/sql';
import { binlogName, chainFile, MemoryArchive, T0 } from '../support/memory-archive';

/** The memory archive as a remote one: no local path, files fetched into staging. */
function remote(a: MemoryArchive): BinlogArchive {
  return {
    location: 'memory://test',
    localPath: () => null,
    fetchFile: async (name: string, dest: string) => writeFile(dest, a.file(name).bytes),
    readIndex: async () => a.index(),
  } as unknown as BinlogArchive;
}

const noSql = new Proxy({} as SqlPools, {
  get: () => () => {
    throw new Error('SQL was touched');
  },
});

test('a staged copy planted after the replay is refused by the proof, before any SQL', async () => {
  const a = new MemoryArchive([1, 2, 3].map((n) => chainFile(n, 3)));
  const backupTx = a.file(binlogName(1)).txs.at(-1)!;
  const plan = await planReplay({
    index: a.index(),
    backup: { file: binlogName(1), position: backupTx.endPos, gtid: backupTx.gtid },
    target: { type: 'latest' },
    allowGaps: false,
    nowSeconds: T0 + 100_000,
    read: a.reader(),
  });
  const stagingDir = await mkdtemp(join(tmpdir(), 'proof-staging-'));
  try {
    // What a local attacker (or a bad disk) leaves in staging: file 2 with one bit flipped.
    const planted = Buffer.from(a.file(binlogName(2)).bytes);
    planted[planted.length - 10] = planted[planted.length - 10]! ^ 0x01;
    await writeFile(join(stagingDir, binlogName(2)), planted);
    await assert.rejects(
      proveRestoredReplay(noSql, remote(a), {
        plan,
        stagingDir,
        server: { datadir: '/nonexistent/data', binlogBasename: 'mysql-bin' },
        endpoint: { socket: '/nonexistent.sock', user: 'root' },
      }),
      (err: Error) => {
        assert.match(
          err.message,
          new RegExp(
            `archive file ${binlogName(2)} is (damaged|not the file the plan verified).*The replay cannot be proved against it`,
          ),
        );
        return true;
      },
    );
  } finally {
    await rm(stagingDir, { recursive: true, force: true });
  }
});
