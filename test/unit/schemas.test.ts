import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { PerconaPitrInput, describeIssues } from '../../workflows/schemas';

const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

function minimal(): Record<string, unknown> {
  return {
    cluster: {
      adapter: 'process',
      name: 'db1',
      pidFile: '/run/mysqld/mysqld.pid',
      start: ['mariadbd', '--datadir=/var/lib/mysql'],
    },
    backup: { dir: '/backups/full-2026-11-21' },
    restore: { datadir: '/var/lib/mysql' },
    archive: { kind: 'fs', dir: '/srv/binlogs' },
    target: { type: 'latest' },
  };
}

/** Parses `input`, expects failure, and returns the `field: message` text. */
function rejection(input: unknown): { text: string; raw: string } {
  const r = PerconaPitrInput.safeParse(input);
  assert.equal(r.success, false, `expected the input to be rejected: ${JSON.stringify(input)}`);
  if (r.success) throw new Error('unreachable');
  return { text: describeIssues(r.error), raw: `${r.error.message}${JSON.stringify(r.error.issues)}` };
}

function accepts(input: unknown) {
  const r = PerconaPitrInput.safeParse(input);
  assert.ok(r.success, r.success ? '' : describeIssues(r.error));
  return r.data;
}

describe('PerconaPitrInput', () => {
  test('a minimal valid input is accepted and every default is filled in', () => {
    assert.deepEqual(accepts(minimal()), {
      mode: 'run',
      requireApproval: false,
      approvalTimeout: '24h',
      heartbeatTimeout: '30s',
      hostTimeout: '10m',
      dialect: 'mariadb',
      cluster: {
        adapter: 'process',
        name: 'db1',
        pidFile: '/run/mysqld/mysqld.pid',
        start: ['mariadbd', '--datadir=/var/lib/mysql'],
      },
      backup: { dir: '/backups/full-2026-11-21' },
      restore: { datadir: '/var/lib/mysql', binlogBasename: 'mysql-bin', serverId: 1, user: 'root' },
      archive: { kind: 'fs', dir: '/srv/binlogs' },
      target: { type: 'latest' },
      allowGaps: false,
      force: false,
      verify: {},
      replay: { parallelThreads: 1 },
      restoreTo: 'in-place',
    });
  });

  test('secrets given by env or file reference are accepted', () => {
    const out = accepts({
      ...minimal(),
      restore: { datadir: '/var/lib/mysql', password: { env: 'RESTORE_PASSWORD' } },
      archive: {
        kind: 's3',
        bucket: 'binlog-archive',
        accessKeyId: { env: 'S3_KEY' },
        secretAccessKey: { file: '/etc/runbooks/s3-secret' },
      },
    });
    assert.deepEqual(out.restore.password, { env: 'RESTORE_PASSWORD' });
    assert.equal(out.archive.kind, 's3');
    if (out.archive.kind === 's3') {
      assert.equal(out.archive.region, 'us-east-1');
      assert.equal(out.archive.prefix, '');
      assert.equal(out.archive.forcePathStyle, true);
    }
  });

  test('an inline password is refused naming the field, and the error never contains the password', () => {
    const secret = 'Hunter2-inline-pw';
    const { text, raw } = rejection({
      ...minimal(),
      restore: { datadir: '/var/lib/mysql', password: secret },
    });
    assert.match(text, /^restore\.password: .*never inline/);
    assert.ok(!text.includes(secret));
    assert.ok(!raw.includes(secret), 'the ZodError itself must not carry the secret');
  });

  test('an inline S3 secret key hidden in an object is refused without echoing it', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const { text, raw } = rejection({
      ...minimal(),
      archive: {
        kind: 's3',
        bucket: 'binlogs',
        accessKeyId: { env: 'K' },
        secretAccessKey: { value: secret },
      },
    });
    assert.match(text, /archive\.secretAccessKey: /);
    assert.ok(!raw.includes(secret));
  });

  test('a MariaDB GTID target must be domain-server-sequence', () => {
    accepts({ ...minimal(), target: { type: 'gtid', gtid: '0-1-5' } });
    const { text } = rejection({ ...minimal(), target: { type: 'gtid', gtid: `${UUID}:5` } });
    assert.equal(text, 'target.gtid: not a MariaDB GTID: expected domain-server-sequence, e.g. 0-1-42');
  });

  test('a MySQL GTID target must be uuid:sequence', () => {
    const ok = accepts({ ...minimal(), dialect: 'mysql', target: { type: 'gtid', gtid: `${UUID}:5` } });
    assert.deepEqual(ok.target, { type: 'gtid', gtid: `${UUID}:5`, exclusive: false });
    const { text } = rejection({ ...minimal(), dialect: 'mysql', target: { type: 'gtid', gtid: '0-1-5' } });
    assert.match(text, /^target\.gtid: not a MySQL GTID/);
    assert.match(
      rejection({ ...minimal(), dialect: 'mysql', target: { type: 'gtid', gtid: `${UUID}:1-5` } }).text,
      /^target\.gtid: /,
    );
  });

  test('a target time must carry a zone', () => {
    accepts({ ...minimal(), target: { type: 'time', time: '2026-01-01T00:00:00Z' } });
    accepts({ ...minimal(), target: { type: 'time', time: '2026-01-01T02:00:00+02:00' } });
    const { text } = rejection({ ...minimal(), target: { type: 'time', time: '2026-01-01T00:00:00' } });
    assert.match(text, /^target\.time: must be an ISO-8601 time with a zone/);
  });

  test('a target time with a fraction of a second is refused, naming the two whole-second cuts around it', () => {
    // Binlog time has whole seconds: ':11.500' would silently replay everything stamped ':11'.
    const { text } = rejection({ ...minimal(), target: { type: 'time', time: '2026-01-01T00:00:11.500Z' } });
    assert.match(
      text,
      /^target\.time: binlog time has whole seconds, so 2026-01-01T00:00:11\.500Z cannot be honoured/,
    );
    assert.match(text, /2026-01-01T00:00:11Z applies everything stamped before that second/);
    assert.match(text, /2026-01-01T00:00:12Z applies the whole second/);
    assert.match(text, /GTID or position target, which are exact/);
    // A zero fraction is a whole second (what JavaScript's toISOString writes).
    accepts({ ...minimal(), target: { type: 'time', time: '2026-01-01T00:00:11.000Z' } });
    const offset = rejection({
      ...minimal(),
      target: { type: 'time', time: '2026-01-01T02:00:11.25+02:00' },
    });
    assert.match(offset.text, /2026-01-01T00:00:11Z applies/);
  });

  test('a target time in the future is refused', () => {
    const { text } = rejection({ ...minimal(), target: { type: 'time', time: '2999-01-01T00:00:00Z' } });
    assert.equal(text, 'target.time: 2999-01-01T00:00:00Z is in the future');
  });

  test('relative paths are refused naming the field', () => {
    assert.match(
      rejection({ ...minimal(), backup: { dir: 'backups/full' } }).text,
      /^backup\.dir: must be an absolute path/,
    );
    assert.match(
      rejection({ ...minimal(), archive: { kind: 'fs', dir: './binlogs' } }).text,
      /^archive\.dir: /,
    );
  });

  test('paths containing a newline or a carriage return are refused', () => {
    assert.match(
      rejection({ ...minimal(), restore: { datadir: '/var/lib/mysql\n/evil' } }).text,
      /^restore\.datadir: must be an absolute path without newlines/,
    );
    assert.match(rejection({ ...minimal(), backup: { dir: '/backups/x\r' } }).text, /^backup\.dir: /);
  });

  test('binlog file names with a slash, quotes or a semicolon are refused', () => {
    accepts({ ...minimal(), target: { type: 'position', file: 'mysql-bin.000042', position: 4 } });
    for (const file of [
      'logs/mysql-bin.000042',
      '../mysql-bin.000042',
      "mysql-bin'.000042",
      'mysql"bin.000042',
      'mysql-bin;rm.000042',
      'mysql-bin.42',
    ]) {
      const { text } = rejection({ ...minimal(), target: { type: 'position', file, position: 4 } });
      assert.match(text, /^target\.file: must be a binlog file name/, file);
    }
  });

  test('a position below 4 is refused', () => {
    assert.match(
      rejection({ ...minimal(), target: { type: 'position', file: 'mysql-bin.000001', position: 3 } }).text,
      /^target\.position: /,
    );
  });

  test('unknown fields are refused at the top level and inside objects', () => {
    assert.match(rejection({ ...minimal(), dryRun: true }).text, /^\(input\): Unrecognized key: "dryRun"/);
    assert.match(
      rejection({ ...minimal(), restore: { datadir: '/var/lib/mysql', pasword: { env: 'X' } } }).text,
      /^restore: .*"pasword"/,
    );
  });

  test('oversized strings are refused', () => {
    assert.match(
      rejection({ ...minimal(), restore: { datadir: '/x', user: 'u'.repeat(81) } }).text,
      /^restore\.user: /,
    );
    assert.match(rejection({ ...minimal(), backup: { dir: `/${'d'.repeat(1024)}` } }).text, /^backup\.dir: /);
    assert.match(
      rejection({ ...minimal(), target: { type: 'gtid', gtid: '1'.repeat(201) } }).text,
      /^target\.gtid: /,
    );
  });

  test('an S3 archive without credentials is refused naming both credential fields', () => {
    const { text } = rejection({ ...minimal(), archive: { kind: 's3', bucket: 'binlogs' } });
    assert.match(text, /archive\.accessKeyId: /);
    assert.match(text, /archive\.secretAccessKey: /);
  });

  test('an invalid S3 bucket name is refused', () => {
    for (const bucket of ['My_Bucket', 'ab', '-binlogs', 'bin logs']) {
      const { text } = rejection({
        ...minimal(),
        archive: { kind: 's3', bucket, accessKeyId: { env: 'K' }, secretAccessKey: { env: 'S' } },
      });
      assert.equal(text, 'archive.bucket: not a valid S3 bucket name', bucket);
    }
  });

  test('an unknown target type is refused with the list of valid types', () => {
    assert.match(
      rejection({ ...minimal(), target: { type: 'yesterday' } }).text,
      /^target\.type: target\.type must be one of "time", "gtid", "position", "latest"/,
    );
  });
});

describe('describeIssues', () => {
  test('formats each issue as dotted path: message, joined by semicolons, (input) for the root', () => {
    const err = new z.ZodError([
      { code: 'custom', path: ['restore', 'datadir'], message: 'bad path', input: 'x' },
      { code: 'custom', path: ['verify', 'schemas', 2], message: 'bad name', input: 'y' },
      { code: 'custom', path: [], message: 'whole input', input: {} },
    ]);
    assert.equal(
      describeIssues(err),
      'restore.datadir: bad path; verify.schemas.2: bad name; (input): whole input',
    );
  });
});
