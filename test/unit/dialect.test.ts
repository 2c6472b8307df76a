import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { dialectOf, mariadb, mysql } from '../../activities/mysql/dialect';

const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const UUID2 = 'b9b4712a-df64-11e3-b391-60672090eb04';

describe('dialect selection', () => {
  test('dialectOf returns the MySQL dialect for mysql and MariaDB for mariadb', () => {
    assert.equal(dialectOf('mysql').name, 'mysql');
    assert.equal(dialectOf('mariadb').name, 'mariadb');
  });

  test('each dialect names its own programs', () => {
    assert.deepEqual(
      [mariadb.server, mariadb.client, mariadb.binlogTool, mariadb.backupTool],
      ['mariadbd', 'mariadb', 'mariadb-binlog', 'mariadb-backup'],
    );
    assert.deepEqual(
      [mysql.server, mysql.client, mysql.binlogTool, mysql.backupTool],
      ['mysqld', 'mysql', 'mysqlbinlog', 'xtrabackup'],
    );
  });

  test('the GTID state comes from gtid_binlog_pos on MariaDB and gtid_executed on MySQL', () => {
    assert.match(mariadb.gtidStateSql, /@@GLOBAL\.gtid_binlog_pos/);
    assert.match(mysql.gtidStateSql, /@@GLOBAL\.gtid_executed/);
  });

  test('replica control uses SLAVE statements on MariaDB and REPLICA statements on MySQL', () => {
    assert.deepEqual(
      [mariadb.replicaStatusSql(), mariadb.startReplicaSql(), mariadb.stopReplicaSql()],
      ['SHOW SLAVE STATUS', 'START SLAVE', 'STOP SLAVE'],
    );
    assert.deepEqual(
      [mysql.replicaStatusSql(), mysql.startReplicaSql(), mysql.stopReplicaSql()],
      ['SHOW REPLICA STATUS', 'START REPLICA', 'STOP REPLICA'],
    );
    // Whole statements per flavour, channel clause in its place (MariaDB's sits inside SHOW SLAVE … STATUS).
    assert.equal(mariadb.replicaStatusSql('east'), "SHOW SLAVE 'east' STATUS");
    assert.equal(mysql.replicaStatusSql('east'), "SHOW REPLICA STATUS FOR CHANNEL 'east'");
    assert.equal(mysql.replicaStatusSql(''), "SHOW REPLICA STATUS FOR CHANNEL ''");
    assert.equal(mariadb.replicaStatusSql(''), 'SHOW SLAVE STATUS');
    assert.deepEqual(
      [mariadb.dumpTool, mariadb.client, mariadb.binlogTool, mysql.dumpTool, mysql.client, mysql.binlogTool],
      ['mariadb-dump', 'mariadb', 'mariadb-binlog', 'mysqldump', 'mysql', 'mysqlbinlog'],
    );
    assert.deepEqual(
      [mariadb.lagColumn, mysql.lagColumn],
      ['Seconds_Behind_Master', 'Seconds_Behind_Source'],
    );
  });
});

describe('MariaDB replay window', () => {
  test('the GTID state is an exclusive start position and the stop GTID an inclusive stop position', () => {
    assert.deepEqual(
      mariadb.replayWindowArgs(
        '0-1-100,1-2-5',
        { gtid: '0-1-150', endPos: 999 },
        { file: 'mysql-bin.000003', position: 1234 },
      ),
      ['--start-position=0-1-100,1-2-5', '--stop-position=0-1-150'],
    );
  });

  test('with an empty GTID state the backup binlog offset is the start position', () => {
    assert.deepEqual(
      mariadb.replayWindowArgs(
        '',
        { gtid: '0-1-7', endPos: 999 },
        { file: 'mysql-bin.000003', position: 1234 },
      ),
      ['--start-position=1234', '--stop-position=0-1-7'],
    );
  });

  test('with neither a state nor a backup position only the stop is given', () => {
    assert.deepEqual(mariadb.replayWindowArgs('', { gtid: '0-1-7', endPos: null }, null), [
      '--stop-position=0-1-7',
    ]);
  });
});

describe('MySQL replay window', () => {
  test('executed GTIDs are excluded and the stop is the end offset of the stop transaction', () => {
    assert.deepEqual(
      mysql.replayWindowArgs(`${UUID}:1-100,${UUID2}:1-7`, { gtid: `${UUID}:150`, endPos: 4321 }, null),
      [`--exclude-gtids=${UUID}:1-100,${UUID2}:1-7`, '--stop-position=4321'],
    );
  });

  test('with an empty state nothing is excluded, and without an end offset the last file is read to its end', () => {
    assert.deepEqual(
      mysql.replayWindowArgs('', { gtid: `${UUID}:9`, endPos: null }, { file: 'binlog.000001', position: 4 }),
      [],
    );
  });
});

describe('CHANGE MASTER / CHANGE REPLICATION SOURCE', () => {
  test('without a channel the statements bind file and position as placeholders', () => {
    assert.equal(
      mariadb.changeSourceByPositionSql(),
      'CHANGE MASTER TO MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no',
    );
    assert.equal(
      mysql.changeSourceByPositionSql(),
      'CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE = ?, SOURCE_LOG_POS = ?, SOURCE_AUTO_POSITION = 0',
    );
  });

  test('a channel is quoted as a connection name on MariaDB and a FOR CHANNEL clause on MySQL', () => {
    assert.equal(
      mariadb.changeSourceByPositionSql('east-1'),
      "CHANGE MASTER 'east-1' TO MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no",
    );
    assert.equal(
      mysql.changeSourceByPositionSql('east_1'),
      "CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE = ?, SOURCE_LOG_POS = ?, SOURCE_AUTO_POSITION = 0 FOR CHANNEL 'east_1'",
    );
  });

  test('channel names that could break out of the quotes or are too long are refused', () => {
    for (const bad of ["x'; DROP DATABASE shop; --", 'a b', 'ch\\', 'ch`', 'c'.repeat(65), 'é']) {
      assert.throws(() => mariadb.changeSourceByPositionSql(bad), /invalid replication channel name/, bad);
      assert.throws(() => mysql.changeSourceByPositionSql(bad), /invalid replication channel name/, bad);
    }
  });

  test('a 64-character channel name is accepted', () => {
    assert.ok(mysql.changeSourceByPositionSql('c'.repeat(64)).endsWith(`FOR CHANNEL '${'c'.repeat(64)}'`));
  });
});
