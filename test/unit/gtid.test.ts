import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatMariadbGtid,
  formatMariadbGtidList,
  isMariadbGtid,
  isMysqlGtid,
  isMysqlGtidSet,
  mariadbPositionAdvance,
  mariadbPositionIncludes,
  mysqlSetIncludes,
  parseMariadbGtid,
  parseMariadbGtidList,
  sameGtidSet,
  type MariadbGtid,
} from '../../workflows/gtid';

const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const UUID2 = 'b9b4712a-df64-11e3-b391-60672090eb04';

describe('MariaDB GTIDs', () => {
  test('a domain-server-sequence GTID parses into its three numbers', () => {
    assert.deepEqual(parseMariadbGtid('0-1-42'), { domain: 0, server: 1, seq: 42n });
    assert.deepEqual(parseMariadbGtid('3-4294967295-7'), { domain: 3, server: 4294967295, seq: 7n });
  });

  test('surrounding whitespace around a GTID is ignored', () => {
    assert.deepEqual(parseMariadbGtid('  2-10-99\n'), { domain: 2, server: 10, seq: 99n });
  });

  test('sequence numbers beyond 2^53 keep full precision', () => {
    assert.equal(parseMariadbGtid('0-1-18446744073709551615').seq, 18446744073709551615n);
  });

  test('malformed GTIDs are rejected with a message quoting the input', () => {
    for (const bad of [
      '',
      '0-1',
      '0-1-2-3',
      'a-b-c',
      '0-1-',
      '-1-2',
      '0--1-2',
      '0-1-2,',
      '0:1:2',
      `${UUID}:5`,
      '0-1-1.5',
    ]) {
      assert.throws(
        () => parseMariadbGtid(bad),
        (e: Error) => e.message.includes('not a MariaDB GTID') && e.message.includes(JSON.stringify(bad)),
        `expected ${JSON.stringify(bad)} to be rejected`,
      );
      assert.equal(isMariadbGtid(bad), false, `isMariadbGtid(${JSON.stringify(bad)})`);
    }
  });

  test('isMariadbGtid accepts well-formed GTIDs', () => {
    assert.equal(isMariadbGtid('0-1-1'), true);
    assert.equal(isMariadbGtid(' 12-3-456 '), true);
  });

  test('a GTID formats back to domain-server-sequence', () => {
    assert.equal(formatMariadbGtid({ domain: 1, server: 2, seq: 300n }), '1-2-300');
  });

  test('a GTID list maps each domain to its GTID and tolerates spaces', () => {
    const m = parseMariadbGtidList('0-1-5, 1-2-9');
    assert.deepEqual([...m.keys()].sort(), [0, 1]);
    assert.deepEqual(m.get(0), { domain: 0, server: 1, seq: 5n });
    assert.deepEqual(m.get(1), { domain: 1, server: 2, seq: 9n });
  });

  test('an empty GTID list is the empty position', () => {
    assert.equal(parseMariadbGtidList('').size, 0);
    assert.equal(parseMariadbGtidList('  ').size, 0);
  });

  test('a GTID list naming the same domain twice is rejected', () => {
    assert.throws(() => parseMariadbGtidList('0-1-5,0-2-6'), /domain 0 twice/);
  });

  test('a GTID list with a malformed member is rejected', () => {
    assert.throws(() => parseMariadbGtidList('0-1-5,garbage'), /not a MariaDB GTID/);
  });

  test('a GTID list formats sorted by domain', () => {
    const m = new Map<number, MariadbGtid>([
      [5, { domain: 5, server: 1, seq: 3n }],
      [0, { domain: 0, server: 2, seq: 10n }],
    ]);
    assert.equal(formatMariadbGtidList(m), '0-2-10,5-1-3');
    assert.equal(formatMariadbGtidList(new Map()), '');
  });

  test('a position includes GTIDs of its domain at or below its sequence', () => {
    assert.equal(mariadbPositionIncludes('0-1-10,1-1-3', '0-1-10'), true);
    assert.equal(mariadbPositionIncludes('0-1-10,1-1-3', '0-1-9'), true);
    assert.equal(mariadbPositionIncludes('0-1-10,1-1-3', '0-1-11'), false);
    assert.equal(mariadbPositionIncludes('0-1-10,1-1-3', '1-1-4'), false);
  });

  test('a position does not include a GTID of a domain it does not name', () => {
    assert.equal(mariadbPositionIncludes('0-1-10', '2-1-1'), false);
    assert.equal(mariadbPositionIncludes('', '0-1-1'), false);
  });

  test('inclusion compares sequences numerically, not as text', () => {
    assert.equal(mariadbPositionIncludes('0-1-9', '0-1-10'), false);
    assert.equal(mariadbPositionIncludes('0-1-100', '0-1-99'), true);
  });

  test('advancing a position moves its domain forward and adds new domains', () => {
    const pos = parseMariadbGtidList('0-1-5');
    mariadbPositionAdvance(pos, { domain: 0, server: 2, seq: 6n });
    mariadbPositionAdvance(pos, { domain: 3, server: 1, seq: 1n });
    assert.equal(formatMariadbGtidList(pos), '0-2-6,3-1-1');
  });

  test('advancing a position never moves a domain backwards', () => {
    const pos = parseMariadbGtidList('0-1-5');
    mariadbPositionAdvance(pos, { domain: 0, server: 1, seq: 4n });
    mariadbPositionAdvance(pos, { domain: 0, server: 9, seq: 5n });
    assert.equal(formatMariadbGtidList(pos), '0-1-5');
  });
});

describe('MySQL GTIDs', () => {
  test('a single uuid:n GTID is valid in either letter case', () => {
    assert.equal(isMysqlGtid(`${UUID}:23`), true);
    assert.equal(isMysqlGtid(`${UUID.toUpperCase()}:1`), true);
  });

  test('ranges, zero, missing numbers and bad uuids are not single GTIDs', () => {
    for (const bad of [
      `${UUID}:1-5`,
      `${UUID}:0`,
      `${UUID}:`,
      UUID,
      `${UUID}:5:7`,
      `${UUID}:05`,
      `${UUID}:-5`,
      '3e11fa47-71ca-11e1-9e33:5',
      'zzzzzzzz-71ca-11e1-9e33-c80aa9429562:5',
      '0-1-5',
      '',
    ])
      assert.equal(isMysqlGtid(bad), false, `isMysqlGtid(${JSON.stringify(bad)})`);
  });

  test('GTID sets with ranges, single numbers and several uuids are valid', () => {
    assert.equal(isMysqlGtidSet(`${UUID}:1-5`), true);
    assert.equal(isMysqlGtidSet(`${UUID}:1-5:7:9-12,${UUID2}:3`), true);
    assert.equal(isMysqlGtidSet(`${UUID}:1-5,\n${UUID2}:1-3`), true); // as @@gtid_executed prints it
  });

  test('the empty GTID set is valid', () => {
    assert.equal(isMysqlGtidSet(''), true);
    assert.equal(isMysqlGtidSet('  '), true);
  });

  test('malformed GTID sets are rejected', () => {
    for (const bad of [
      UUID,
      `${UUID}:`,
      `${UUID}:0-5`,
      `${UUID}:1-`,
      `${UUID}:a-b`,
      `${UUID}:1-5,`,
      'not-a-uuid:1-5',
      '0-1-5',
      `${UUID}:1-5;DROP TABLE x`,
    ])
      assert.equal(isMysqlGtidSet(bad), false, `isMysqlGtidSet(${JSON.stringify(bad)})`);
  });

  test('a set includes GTIDs inside any of its ranges, bounds included', () => {
    const set = `${UUID}:1-5:7-9`;
    for (const n of [1, 3, 5, 7, 8, 9]) assert.equal(mysqlSetIncludes(set, `${UUID}:${n}`), true, `n=${n}`);
    for (const n of [6, 10, 100]) assert.equal(mysqlSetIncludes(set, `${UUID}:${n}`), false, `n=${n}`);
  });

  test('a single-number interval includes exactly that number', () => {
    assert.equal(mysqlSetIncludes(`${UUID}:4`, `${UUID}:4`), true);
    assert.equal(mysqlSetIncludes(`${UUID}:4`, `${UUID}:5`), false);
    assert.equal(mysqlSetIncludes(`${UUID}:4`, `${UUID}:3`), false);
  });

  test('a set with several uuids matches each uuid only against its own ranges', () => {
    const set = `${UUID}:1-5,\n${UUID2}:1-100`;
    assert.equal(mysqlSetIncludes(set, `${UUID2}:50`), true);
    assert.equal(mysqlSetIncludes(set, `${UUID}:50`), false);
    assert.equal(mysqlSetIncludes(set, `${UUID}:5`), true);
  });

  test('uuid comparison is case-insensitive', () => {
    assert.equal(mysqlSetIncludes(`${UUID.toUpperCase()}:1-5`, `${UUID}:3`), true);
    assert.equal(mysqlSetIncludes(`${UUID}:1-5`, `${UUID.toUpperCase()}:3`), true);
  });

  test('a uuid absent from the set, the empty set and a GTID without a number are not included', () => {
    assert.equal(mysqlSetIncludes(`${UUID}:1-5`, `${UUID2}:1`), false);
    assert.equal(mysqlSetIncludes('', `${UUID}:1`), false);
    assert.equal(mysqlSetIncludes(`${UUID}:1-5`, UUID), false);
  });

  test('sequence numbers beyond 2^53 compare exactly', () => {
    const set = `${UUID}:1-9007199254740993`;
    assert.equal(mysqlSetIncludes(set, `${UUID}:9007199254740993`), true);
    assert.equal(mysqlSetIncludes(set, `${UUID}:9007199254740994`), false);
  });
});

test('sameGtidSet: the same members in any order and spacing, nothing more or less', () => {
  assert.ok(sameGtidSet('0-1-10,1-2-5', ' 1-2-5 , 0-1-10'));
  assert.ok(sameGtidSet('', ''));
  assert.ok(!sameGtidSet('0-1-10', '0-1-10,1-2-5'));
  assert.ok(!sameGtidSet('0-1-10', '0-1-11'));
});
