// An NDB Cluster SQL node is MySQL: both NDB runbooks default to the MySQL dialect, so their dump,
// client and binlog tools are mysqldump, mysql and mysqlbinlog unless a catalog says mariadb (as the
// test worlds do, where MariaDB stands in). No MySQL server can be installed here: this is checked at
// the unit level — the defaults, the tools they name, and no NDB activity naming a tool itself.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { dialectOf } from '../../activities/mysql/dialect';
import { NdbPitrInput } from '../../workflows/schemas-ndb-pitr';
import { NdbChannelFailoverInput } from '../../workflows/schemas-ndb-failover';
import { projectRoot } from '../../scripts/lib/tools';

test('NDB PITR defaults to the MySQL dialect and so to mysqldump, mysql and mysqlbinlog', () => {
  const schemaDefault = NdbPitrInput.shape.dialect.parse(undefined);
  assert.equal(schemaDefault, 'mysql');
  const d = dialectOf(schemaDefault);
  assert.deepEqual([d.dumpTool, d.client, d.binlogTool], ['mysqldump', 'mysql', 'mysqlbinlog']);
});

test('NDB channel failover defaults to the MySQL dialect (SHOW REPLICA STATUS, CHANGE REPLICATION SOURCE)', () => {
  const schemaDefault = NdbChannelFailoverInput.shape.dialect.parse(undefined);
  assert.equal(schemaDefault, 'mysql');
  assert.match(dialectOf(schemaDefault).replicaStatusSql('secondary'), /^SHOW REPLICA STATUS/);
});

test('no NDB activity names a MySQL/MariaDB client tool itself: the dialect decides', async () => {
  const dir = join(projectRoot, 'activities', 'ndb');
  const offenders: string[] = [];
  for (const name of await readdir(dir)) {
    const text = await readFile(join(dir, name), 'utf8');
    // Tool names, and a dialect picked in the activity instead of passed in (`?? 'mariadb'`).
    for (const m of text.matchAll(
      /['"`](mariadb-dump|mariadb-binlog|mysqldump|mysqlbinlog)['"`]|\?\? '(mariadb|mysql)'/g,
    ))
      offenders.push(`${name}: ${m[0]}`);
  }
  assert.deepEqual(offenders, []);
});
