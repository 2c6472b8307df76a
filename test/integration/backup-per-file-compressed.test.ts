// A backup taken with the tool's own --compress (every file compressed on its own: `.qp`, with
// xtrabackup_checkpoints alone left plain) holds its binlog position, but compressed. The catalog must
// say so, not read the missing plain xtrabackup_binlog_info as "binary logging was off". Real
// `mariadb-backup --backup --compress --stream=xbstream` backups of a real server; a plain stream of the
// same server is the control (listed usable, with its position).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { execSync } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listBackupCatalog } from '../../activities/mysql/backup-catalog';
import { removeTestDir } from '../../scripts/lib/cleanup';
import { startMariadbServer, type MariadbServer } from '../../scripts/lib/mariadb-server';
import { takeStreamBackup } from '../support/stream-backup';

let base: string;
let server: MariadbServer;
let catalogDir: string;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'bk-qp-'));
  server = await startMariadbServer({ baseDir: join(base, 'server'), serverId: 1 });
  await server.query(
    'CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO shop.t VALUES (1), (2)',
  );
  catalogDir = join(base, 'catalog');
  await mkdir(join(catalogDir, 'qp-dir'), { recursive: true });
  const backup = `mariadb-backup --no-defaults --backup --compress --stream=xbstream --socket=${server.socket} --user=root`;
  execSync(`${backup} --target-dir=${base}/t1 2>/dev/null > ${catalogDir}/qp.xbstream`);
  execSync(`${backup} --target-dir=${base}/t2 2>/dev/null | mbstream -x -C ${catalogDir}/qp-dir`);
  await takeStreamBackup(server.socket, join(catalogDir, 'plain.xbstream'), 'none', join(base, 't3'));
});

after(async () => {
  await server?.stop();
  await removeTestDir(base);
});

test('a stream or directory compressed file by file is unusable for that reason, not for "binary logging off"', async () => {
  const listing = await listBackupCatalog({ kind: 'fs', dir: catalogDir });
  const byName = new Map(listing.backups.map((b) => [b.name, b]));
  for (const name of ['qp.xbstream', 'qp-dir']) {
    const b = byName.get(name);
    assert.ok(b, `${name} listed`);
    assert.match(
      b.problem ?? '',
      /compressed file by file \(xtrabackup_(binlog_)?info\.qp: taken with --compress\)/,
      name,
    );
    assert.doesNotMatch(b.problem ?? '', /binary logging off/, name);
  }
  const plain = byName.get('plain.xbstream');
  assert.equal(plain?.problem, null, 'the plain stream of the same server is usable');
  assert.match(plain?.binlog?.file ?? '', /^mysql-bin\.\d+$/);
});
