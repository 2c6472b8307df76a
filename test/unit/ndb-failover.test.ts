// The pure parts of ndbChannelFailover: the input schema, the SQL text it sends (channel clauses,
// the procedure's queries, bound values), the status columns of both dialects, the DDL-skip check,
// and the check of what comes back from mysql.ndb_binlog_index.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { channelSql, compareBinlogPositions, readChannelStatus } from '../../activities/ndb/channel-status';
import { checkedStartPoint, startPositionSql } from '../../activities/ndb/failover-start';
import { DDL_EXIST_ERRORS, missingDdlSkips } from '../../activities/ndb/replica-inspect';
import { describeIssues, durationMs } from '../../workflows/schemas';
import { NdbChannelFailoverInput } from '../../workflows/schemas-ndb-failover';
import { channelClause } from '../../activities/mysql/dialect';

function minimal(): Record<string, unknown> {
  return {
    replica: { endpoint: { host: 's-prime.dr', port: 3306, user: 'runbook', password: { env: 'RB_PW' } } },
    primary: { channel: 'primary' },
    secondary: {
      channel: 'secondary',
      source: { endpoint: { host: 'm-prime.prod', user: 'runbook', password: { file: '/etc/rb/pw' } } },
      connect: { host: 'm-prime.prod', user: 'repl', password: { env: 'REPL_PW' } },
    },
    form: 'epoch-greater',
  };
}

function rejection(input: unknown): string {
  const r = NdbChannelFailoverInput.safeParse(input);
  assert.equal(r.success, false, `expected the input to be rejected: ${JSON.stringify(input)}`);
  if (r.success) throw new Error('unreachable');
  return describeIssues(r.error);
}

const withPath = (path: string[], value: unknown): Record<string, unknown> => {
  const input = structuredClone(minimal());
  let o = input as Record<string, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[path.at(-1)!] = value;
  return input;
};

describe('NdbChannelFailoverInput', () => {
  test('a minimal input is accepted and the defaults are filled in', () => {
    const r = NdbChannelFailoverInput.safeParse(minimal());
    assert.ok(r.success, r.success ? '' : describeIssues(r.error));
    assert.equal(r.data.dialect, 'mysql', 'an NDB SQL node is MySQL');
    assert.equal(r.data.stopPrimary, false);
    assert.equal(r.data.requireApproval, false);
    assert.equal(r.data.mode, 'run');
    assert.equal(r.data.waitForCatchUp, true);
    assert.equal(r.data.catchUpTimeout, '10m');
    assert.equal(r.data.secondary.connect.port, 3306);
    assert.equal(r.data.cluster, 'ndb-replica');
  });

  test('channel names with quotes, semicolons, spaces, newlines or over 64 characters are refused', () => {
    for (const bad of ["sec'ondary", 'a;b', 'a b', 'a\nb', 'x'.repeat(65), "'; DROP TABLE t; --"]) {
      assert.match(rejection(withPath(['secondary', 'channel'], bad)), /secondary\.channel: a channel name/);
      assert.match(rejection(withPath(['primary', 'channel'], bad)), /primary\.channel: a channel name/);
    }
  });

  test('secrets given inline are refused, and the message does not repeat them', () => {
    for (const path of [
      ['secondary', 'connect', 'password'],
      ['replica', 'endpoint', 'password'],
      ['secondary', 'source', 'endpoint', 'password'],
    ]) {
      const text = rejection(withPath(path, 'hunter2-secret'));
      assert.match(text, new RegExp(`${path.join('\\.')}: secrets are given by reference`));
      assert.doesNotMatch(text, /hunter2/);
    }
  });

  test('one channel named as both primary and secondary on the same replica is refused', () => {
    const same = withPath(['secondary', 'channel'], 'primary');
    assert.match(
      rejection(same),
      /secondary\.channel: the primary and secondary channels are both "primary"/,
    );
    const defaults = withPath(['primary'], {});
    delete (defaults.secondary as Record<string, unknown>).channel;
    assert.match(rejection(defaults), /both "" on the same replica/);
    // …but the primary channel may carry the same name on another SQL node (S).
    const other = withPath(['primary'], {
      channel: 'secondary',
      replica: { endpoint: { socket: '/run/s.sock' } },
    });
    assert.ok(NdbChannelFailoverInput.safeParse(other).success);
  });

  test('the form is required and must be one of the two forms of the procedure', () => {
    const { form: _form, ...noForm } = minimal();
    assert.match(rejection(noForm), /form: form must be "epoch-greater" .* or "next-position"/);
    assert.match(rejection({ ...minimal(), form: 'latest' }), /form: form must be/);
  });

  test('unknown fields, bad connect hosts and bad durations are refused', () => {
    assert.match(rejection({ ...minimal(), stopPrimaryChannel: true }), /Unrecognized key/i);
    assert.match(
      rejection(withPath(['secondary', 'connect', 'host'], "m'; --")),
      /connect\.host: a host name/,
    );
    assert.match(
      rejection(withPath(['secondary', 'connect', 'user'], 'repl\n')),
      /connect\.user: no control/,
    );
    assert.match(rejection({ ...minimal(), catchUpTimeout: 'soon' }), /catchUpTimeout: use a duration/);
  });
});

describe('the SQL it sends', () => {
  test('MariaDB: named connections in the statement, the default channel without a name', () => {
    const s = channelSql('mariadb', 'secondary');
    assert.equal(s.status, "SHOW SLAVE 'secondary' STATUS");
    assert.equal(s.start, "START SLAVE 'secondary'");
    assert.equal(s.stop, "STOP SLAVE 'secondary'");
    assert.equal(
      s.change,
      "CHANGE MASTER 'secondary' TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, " +
        'MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no',
    );
    assert.equal(s.skipErrors, 'SELECT @@GLOBAL.slave_skip_errors AS v');
    const d = channelSql('mariadb', '');
    assert.deepEqual([d.status, d.start, d.stop], ['SHOW SLAVE STATUS', 'START SLAVE', 'STOP SLAVE']);
    assert.match(d.change, /^CHANGE MASTER TO MASTER_HOST = \?/);
  });

  test('MySQL: REPLICA statements, always FOR CHANNEL (SHOW REPLICA STATUS alone lists every channel)', () => {
    const s = channelSql('mysql', 'secondary');
    assert.equal(s.status, "SHOW REPLICA STATUS FOR CHANNEL 'secondary'");
    assert.equal(s.start, "START REPLICA FOR CHANNEL 'secondary'");
    assert.equal(s.stop, "STOP REPLICA FOR CHANNEL 'secondary'");
    assert.equal(
      s.change,
      'CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_USER = ?, SOURCE_PASSWORD = ?, ' +
        "SOURCE_LOG_FILE = ?, SOURCE_LOG_POS = ?, SOURCE_AUTO_POSITION = 0 FOR CHANNEL 'secondary'",
    );
    assert.equal(channelSql('mysql', '').status, "SHOW REPLICA STATUS FOR CHANNEL ''");
    assert.equal(s.skipErrors, 'SELECT @@GLOBAL.replica_skip_errors AS v');
  });

  test('a channel name that is not plain never reaches a statement', () => {
    for (const bad of ["x'", 'a b', 'a\nb', 'x'.repeat(65)]) {
      assert.throws(() => channelClause('mariadb', bad), /invalid replication channel name/);
      assert.throws(() => channelSql('mysql', bad), /invalid replication channel name/);
    }
  });

  test("both forms of step 2 are the procedure's queries, the epoch bound and compared as a 64-bit number", () => {
    const greater = startPositionSql('epoch-greater').replace(/\s+/g, ' ');
    assert.match(greater, /SUBSTRING_INDEX\(File, '\/', -1\) AS file, Position AS position/);
    assert.match(greater, /WHERE epoch > CAST\(\? AS UNSIGNED\) ORDER BY epoch ASC LIMIT 1/);
    const next = startPositionSql('next-position').replace(/\s+/g, ' ');
    assert.match(next, /SUBSTRING_INDEX\(next_file, '\/', -1\) AS file, next_position AS position/);
    assert.match(next, /WHERE epoch = CAST\(\? AS UNSIGNED\)/);
  });
});

describe('replica status', () => {
  test('MariaDB columns are read; a channel trying to connect counts as running', () => {
    const s = readChannelStatus('mariadb', 'primary', {
      Slave_IO_Running: 'Connecting',
      Slave_SQL_Running: 'No',
      Master_Host: '10.0.0.1',
      Master_Port: 3306,
      Master_User: 'repl',
      Master_Log_File: 'mysql-bin.000003',
      Read_Master_Log_Pos: 900,
      Relay_Master_Log_File: 'mysql-bin.000003',
      Exec_Master_Log_Pos: 800,
      Seconds_Behind_Master: null,
      Master_Server_Id: 7,
      Last_IO_Error: 'error connecting to master',
      Last_SQL_Error: '',
    });
    assert.equal(s.running, true);
    assert.equal(s.exists, true);
    assert.deepEqual(s.exec, { file: 'mysql-bin.000003', position: 800 });
    assert.deepEqual(s.read, { file: 'mysql-bin.000003', position: 900 });
    assert.equal(s.secondsBehind, null);
    assert.equal(s.sourceServerId, 7);
    assert.match(
      s.description,
      /channel 'primary': Slave_IO_Running=Connecting, Slave_SQL_Running=No, source 10\.0\.0\.1:3306/,
    );
    assert.match(s.description, /last IO error: error connecting to master/);
  });

  test('MySQL columns are read; both threads No is stopped; no row means no such channel', () => {
    const s = readChannelStatus('mysql', '', {
      Replica_IO_Running: 'No',
      Replica_SQL_Running: 'No',
      Source_Host: 'm2',
      Source_Port: 3307,
      Relay_Source_Log_File: 'binlog.000010',
      Exec_Source_Log_Pos: 4567,
      Seconds_Behind_Source: '12',
    });
    assert.equal(s.running, false);
    assert.equal(s.secondsBehind, 12);
    assert.deepEqual(s.exec, { file: 'binlog.000010', position: 4567 });
    assert.match(s.description, /the default channel: Replica_IO_Running=No/);
    const none = readChannelStatus('mariadb', 'x', undefined);
    assert.equal(none.exists, false);
    assert.equal(none.running, false);
    assert.equal(none.description, "channel 'x' is not configured");
  });
});

describe('DDL-exists errors skipped (required by the next-position form)', () => {
  test('OFF skips none; ALL, ddl_exist_errors and the full list skip all', () => {
    assert.deepEqual(missingDdlSkips('OFF'), [...DDL_EXIST_ERRORS]);
    assert.deepEqual(missingDdlSkips(''), [...DDL_EXIST_ERRORS]);
    assert.deepEqual(missingDdlSkips('ALL'), []);
    assert.deepEqual(missingDdlSkips('ddl_exist_errors'), []);
    assert.deepEqual(missingDdlSkips('1007,1008,1050,1051,1054,1060,1061,1068,1094,1146'), []);
    assert.deepEqual(missingDdlSkips('1062,1007,1008,1050,1051,1054,1060,1061,1068,1094,1146,1032'), []);
  });

  test('a partial list names the errors it does not skip', () => {
    assert.deepEqual(missingDdlSkips('1050,1051'), [1007, 1008, 1054, 1060, 1061, 1068, 1094, 1146]);
    assert.deepEqual(missingDdlSkips('10500'), [...DDL_EXIST_ERRORS]);
  });
});

describe('what comes back from mysql.ndb_binlog_index', () => {
  const refusal = (
    file: unknown,
    position: unknown = '120',
    form: 'epoch-greater' | 'next-position' = 'epoch-greater',
  ) => {
    try {
      checkedStartPoint({ file, position }, form);
    } catch (err) {
      assert.ok(err instanceof ApplicationFailure, 'an ApplicationFailure');
      assert.equal(err.nonRetryable, true);
      assert.equal(err.type, 'BadIndexRow');
      return err.message;
    }
    throw new Error(`accepted ${JSON.stringify(file)}:${JSON.stringify(position)}`);
  };

  test('a plain binlog file name and a whole position are accepted', () => {
    assert.deepEqual(checkedStartPoint({ file: 'mysql-bin.000042', position: '4567' }, 'epoch-greater'), {
      file: 'mysql-bin.000042',
      position: 4567,
    });
    assert.deepEqual(checkedStartPoint({ file: 'm2_bin.1000000', position: 4 }, 'next-position'), {
      file: 'm2_bin.1000000',
      position: 4,
    });
  });

  test('quotes, semicolons, newlines, directories and empty names are refused, named by their column', () => {
    for (const bad of [
      "mysql-bin.000001'; DROP TABLE shop.orders; --",
      'mysql-bin.000001;',
      'mysql-bin.000001\nSTART SLAVE',
      'mysql-bin.000001"',
      '/var/lib/mysql/mysql-bin.000001',
      'mysql-bin',
      '',
      null,
    ])
      assert.match(refusal(bad), /^mysql\.ndb_binlog_index returned File .* not a plain binlog file name/);
    assert.match(refusal('bin\n.000001', '4', 'next-position'), /returned next_file "bin\\n\.000001"/);
  });

  test('a position that is not a whole number ≥ 4 is refused', () => {
    for (const bad of ['0', '3', '-1', '12a', '', null, '1e9'])
      assert.match(refusal('mysql-bin.000001', bad), /returned Position .* not a binlog position/);
  });
});

test('binlog positions order by file sequence, then offset', () => {
  const p = (file: string, position: number) => ({ file, position });
  assert.ok(compareBinlogPositions(p('b.000002', 4), p('b.000001', 99999)) > 0);
  assert.ok(compareBinlogPositions(p('b.000002', 400), p('b.000002', 500)) < 0);
  assert.equal(compareBinlogPositions(p('b.000010', 7), p('b.000010', 7)), 0);
});

test('durations', () => {
  assert.equal(durationMs('30s'), 30_000);
  assert.equal(durationMs('10m'), 600_000);
  assert.equal(durationMs('250ms'), 250);
  assert.throws(() => durationMs('10 m'), /not a duration/);
});
