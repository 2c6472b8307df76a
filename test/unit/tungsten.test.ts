// The Tungsten tools' output is parsed exactly and anything unexpected is refused: an event id or a
// source id read from `thl` is passed on to dsctl (and from there into SQL), so it must be what it
// claims to be. Samples are the procedure's own (Tungsten Cluster manual 7.8.2) and trepctl's reference.
import { durationMs } from '../../workflows/schemas';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkSourceId,
  dsctlSetArgv,
  formatEventId,
  parseEventId,
  parseThlDsctl,
  parseThlHeaders,
  parseThlInfo,
  parseTrepctlStatus,
  positionEventId,
  samePosition,
} from '../../activities/tungsten/tungsten-output';
import { TungstenExternalRestoreInput } from '../../workflows/schemas-tungsten';
import { describeIssues } from '../../workflows/schemas';

describe('event ids', () => {
  test('parses the procedure’s event id and formats it back byte for byte', () => {
    const id = 'mysql-bin.000032:0000000473863524;-1';
    const e = parseEventId(id);
    assert.deepEqual(e, { file: 'mysql-bin.000032', offset: 473863524, session: -1 });
    assert.equal(formatEventId(e), id);
  });

  test('the offset is zero-padded to 16 digits; the session suffix is optional', () => {
    assert.equal(positionEventId('mysql-bin.000032', 473863524), 'mysql-bin.000032:0000000473863524');
    assert.equal(
      formatEventId({ file: 'bin.000001', offset: 4, session: 12 }),
      'bin.000001:0000000000000004;12',
    );
    assert.deepEqual(parseEventId('mysql-bin.000032:0000000473863524'), {
      file: 'mysql-bin.000032',
      offset: 473863524,
    });
    // An unpadded offset is read by value and written back padded.
    assert.equal(
      formatEventId(parseEventId('mysql-bin.000001:4;-1')),
      'mysql-bin.000001:0000000000000004;-1',
    );
  });

  test('compares positions by file and offset, not by text', () => {
    const e = parseEventId('mysql-bin.000032:0000000473863524;-1');
    assert.ok(samePosition(e, { file: 'mysql-bin.000032', position: 473863524 }));
    assert.ok(!samePosition(e, { file: 'mysql-bin.000033', position: 473863524 }));
    assert.ok(!samePosition(e, { file: 'mysql-bin.000032', position: 473860407 }));
  });

  const bad = [
    ['quote and SQL after the session', "mysql-bin.000032:0000000473863524;-1'; DROP DATABASE shop; --"],
    ['a second statement after a semicolon', 'mysql-bin.000032:0000000473863524;DROP'],
    ['a newline', 'mysql-bin.000032:0000000473863524;-1\n- SOURCEID = evil'],
    ['a double quote', 'mysql-bin.000032:0000000473863524" -seqno "1'],
    ['a space', 'mysql-bin.000032: 0000000473863524'],
    ['a path in the file name', '../mysql-bin.000032:0000000473863524'],
    ['no binlog sequence number', 'mysql-bin:0000000473863524'],
    ['an offset of 17 digits', 'mysql-bin.000032:00000000473863524'],
    ['nothing', ''],
  ];
  for (const [what, text] of bad)
    test(`refuses an event id with ${what}`, () => {
      assert.throws(() => parseEventId(text!), /not a Tungsten event id/);
    });
});

describe('source ids', () => {
  test('host names pass, anything with quotes, spaces or newlines does not', () => {
    assert.equal(checkSourceId('db1-east.continuent.com'), 'db1-east.continuent.com');
    for (const s of ['db1"', "db1'", 'db1 east', 'db1\nx', '-db1', ''])
      assert.throws(() => checkSourceId(s), /not a Tungsten source id/);
  });
});

const procedureHeaders = `SEQ# = 7748 / FRAG# = 0 (last frag)
- FILE = thl.data.0000000010
- TIME = 2014-10-17 16:58:11.0
- EPOCH# = 0
- EVENTID = mysql-bin.000032:0000000473863524;-1
- SOURCEID = db1-east.continuent.com
`;

describe('thl list -event … -headers', () => {
  test('reads SEQ#, EPOCH#, EVENTID and SOURCEID from the procedure’s sample', () => {
    assert.deepEqual(parseThlHeaders(procedureHeaders), {
      seqno: 7748,
      epoch: 0,
      eventId: 'mysql-bin.000032:0000000473863524;-1',
      sourceId: 'db1-east.continuent.com',
      fragments: 1,
      thlFile: 'thl.data.0000000010',
      time: '2014-10-17 16:58:11.0',
    });
  });

  test('a fragmented transaction is one event when its fragments agree and the last is there', () => {
    const frag0 = procedureHeaders.replace(' (last frag)', '');
    const frag1 = procedureHeaders.replace('FRAG# = 0', 'FRAG# = 1');
    assert.equal(parseThlHeaders(frag0 + frag1).fragments, 2);
    assert.throws(() => parseThlHeaders(frag0), /incomplete transaction/);
  });

  const refusals: [string, string, RegExp][] = [
    ['no event at all', '', /no event/],
    [
      'a quote and a statement in the event id',
      procedureHeaders.replace(';-1', ";-1'; DROP DATABASE shop; --"),
      /not a Tungsten event id/,
    ],
    [
      'a newline smuggling a second EVENTID',
      procedureHeaders.replace(
        '- SOURCEID = db1-east.continuent.com',
        '- SOURCEID = db1-east.continuent.com\n- EVENTID = mysql-bin.000001:0000000000000004;-1',
      ),
      /repeats EVENTID/,
    ],
    [
      'a newline smuggling a second event',
      procedureHeaders + procedureHeaders.replace('SEQ# = 7748', 'SEQ# = 1'),
      /more than one transaction/,
    ],
    [
      'a source id with a quote',
      procedureHeaders.replace('continuent.com', 'continuent.com"; rm -rf /'),
      /source id/,
    ],
    ['an epoch that is not a number', procedureHeaders.replace('EPOCH# = 0', 'EPOCH# = 0; DROP'), /EPOCH#/],
    ['a missing SOURCEID', procedureHeaders.replace(/- SOURCEID.*\n/, ''), /no SOURCEID/],
    ['an unexpected line', `${procedureHeaders}DROP DATABASE shop;\n`, /unexpected line/],
  ];
  for (const [what, out, expect] of refusals)
    test(`refuses ${what}`, () => {
      assert.throws(() => parseThlHeaders(out), expect);
    });
});

describe('thl dsctl -event …', () => {
  const line =
    'dsctl -service alpha set -reset -seqno 7748 -epoch 0 -event-id "mysql-bin.000032:0000000473863524" -source-id "db1-east.continuent.com"\n';

  test('reads the procedure’s dsctl line', () => {
    assert.deepEqual(parseThlDsctl(line, 'alpha'), {
      seqno: 7748,
      epoch: 0,
      eventId: 'mysql-bin.000032:0000000473863524',
      sourceId: 'db1-east.continuent.com',
      fragments: 1,
    });
  });

  test('refuses another service, broken quoting, and more than one line', () => {
    assert.throws(() => parseThlDsctl(line, 'beta'), /for service alpha, not beta/);
    assert.throws(
      () => parseThlDsctl(line.replace('db1-east', 'db1" -seqno "1'), 'alpha'),
      /unexpected thl dsctl output|source id/,
    );
    assert.throws(() => parseThlDsctl(line + line, 'alpha'), /printed 2 lines/);
    assert.throws(
      () => parseThlDsctl(line.replace('0000000473863524"', '0000000473863524;DROP"'), 'alpha'),
      /not a Tungsten event id/,
    );
  });
});

describe('dsctl set', () => {
  test('is the procedure’s command, as an argv (no shell, no quotes needed)', () => {
    const e = parseThlHeaders(procedureHeaders);
    assert.deepEqual(dsctlSetArgv('dsctl', 'alpha', e), [
      'dsctl',
      '-service',
      'alpha',
      'set',
      '-reset',
      '-seqno',
      '7748',
      '-epoch',
      '0',
      '-source-id',
      'db1-east.continuent.com',
      '-event-id',
      'mysql-bin.000032:0000000473863524;-1',
    ]);
  });

  test('re-checks what it passes on', () => {
    const e = { ...parseThlHeaders(procedureHeaders), sourceId: 'x"; y' };
    assert.throws(() => dsctlSetArgv('dsctl', 'alpha', e), /source id/);
    assert.throws(() => dsctlSetArgv('dsctl', 'alpha;rm', parseThlHeaders(procedureHeaders)), /service name/);
  });
});

describe('trepctl status and thl info', () => {
  test('reads the fields of trepctl status', () => {
    const out = `Processing status command...
NAME                     VALUE
----                     -----
appliedLastEventId     : mysql-bin.000018:0000000000070227;140
appliedLastSeqno       : 206
maximumStoredSeqNo     : 206
minimumStoredSeqNo     : 0
pendingError           : NONE
pendingErrorSeqno      : -1
pendingExceptionMessage: NONE
role                   : slave
serviceName            : alpha
state                  : ONLINE
Finished status command...`;
    assert.deepEqual(parseTrepctlStatus(out), {
      serviceName: 'alpha',
      state: 'ONLINE',
      role: 'slave',
      appliedLastSeqno: 206,
      appliedLastEventId: 'mysql-bin.000018:0000000000070227;140',
      minimumStoredSeqNo: 0,
      maximumStoredSeqNo: 206,
      pendingError: 'NONE',
      pendingErrorSeqno: -1,
    });
    assert.throws(() => parseTrepctlStatus('Operation failed'), /no serviceName/);
  });

  test('reads thl info', () => {
    assert.deepEqual(
      parseThlInfo(
        'log directory = /opt/continuent/thl/alpha/\nlog files = 4\nmin seq# = 0\nmax seq# = 7748\nevents = 7749\n',
      ),
      { minSeqno: 0, maxSeqno: 7748, events: 7749 },
    );
  });

  test('durations', () => {
    assert.equal(durationMs('30m'), 1_800_000);
    assert.equal(durationMs('500ms'), 500);
  });
});

describe('input', () => {
  const good = {
    service: 'alpha',
    replica: {
      name: 'db2',
      datadir: '/var/lib/mysql',
      pidFile: '/run/mysqld/mysqld.pid',
      start: ['mariadbd', '--defaults-file=/etc/mysql/my.cnf'],
      connection: { socket: '/run/mysqld/mysqld.sock', user: 'tungsten', password: { env: 'TUNGSTEN_PW' } },
    },
    backup: { dir: '/backups/db1' },
  };
  const issues = (v: unknown) => {
    const r = TungstenExternalRestoreInput.safeParse(v);
    return r.success ? '' : describeIssues(r.error);
  };

  test('a complete input is accepted with its defaults', () => {
    const r = TungstenExternalRestoreInput.parse(good);
    assert.equal(r.backup.takenOn, 'primary');
    assert.equal(r.thlLookup, 'list');
    assert.equal(r.mode, 'run');
  });

  test('service names that would not be a safe schema name are refused', () => {
    for (const service of ['alpha;rm -rf /', 'alpha beta', "alpha'", 'alpha-east', '', 'a'.repeat(65)])
      assert.match(issues({ ...good, service }), /^service: /);
  });

  test('an inline secret is refused', () => {
    assert.match(
      issues({ ...good, replica: { ...good.replica, connection: { socket: '/s', password: 'hunter2' } } }),
      /secrets are given by reference/,
    );
  });
});
