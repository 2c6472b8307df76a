import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CommandError, errorLines, runCommand, runPipe, tail } from '../../activities/runtime/command';

const NODE = process.execPath;
/** argv that prints its own arguments as JSON: what the child actually received. */
const echoArgv = (...args: string[]) => [
  NODE,
  '-e',
  'process.stdout.write(JSON.stringify(process.argv.slice(1)))',
  ...args,
];
/** argv that writes `stderr` and exits with `code`. */
const fail = (code: number, stderr: string) => [
  NODE,
  '-e',
  'process.stderr.write(process.argv[1]); process.exit(Number(process.argv[2]))',
  stderr,
  String(code),
];

function commandError(check: (e: CommandError) => void) {
  return (e: unknown) => {
    assert.ok(e instanceof CommandError, `expected a CommandError, got ${String(e)}`);
    check(e);
    return true;
  };
}

describe('runCommand', () => {
  test('shell metacharacters in arguments arrive literally, one argument each', async () => {
    const args = [
      '; rm -rf /',
      '$(id)',
      '`id`',
      `it's "quoted"`,
      'two\nlines',
      '*',
      '&& echo pwned',
      '|',
      '$HOME',
      '',
    ];
    const r = await runCommand(echoArgv(...args));
    assert.deepEqual(JSON.parse(r.stdout), args);
    assert.equal(r.exitCode, 0);
  });

  test('printf receives a glob and a variable unexpanded', async () => {
    const r = await runCommand(['printf', '%s\n', '*', '$PATH', '~']);
    assert.equal(r.stdout, '*\n$PATH\n~');
  });

  test('input is fed to stdin', async () => {
    const r = await runCommand(['cat'], { input: 'line one\nline two' });
    assert.equal(r.stdout, 'line one\nline two');
  });

  test('a non-zero exit throws a CommandError with the exit code and the tail of stderr', async () => {
    const lines = Array.from({ length: 20 }, (_, i) => `noise-${String(i).padStart(2, '0')}`);
    await assert.rejects(
      runCommand(fail(3, lines.join('\n'))),
      commandError((e) => {
        assert.equal(e.exitCode, 3);
        assert.equal(e.program, NODE);
        assert.match(e.message, /exited with code 3/);
        assert.ok(e.message.includes('noise-19'), e.message);
        assert.ok(e.message.includes('noise-12'), e.message); // last 8 lines kept
        assert.ok(!e.message.includes('noise-11'), e.message);
        assert.ok(!e.message.includes('noise-00'), e.message);
        assert.equal(e.stderrTail, lines.slice(-8).join('\n'));
      }),
    );
  });

  test('the error message prefers ERROR lines over the statement the client echoed', async () => {
    const stderr = [
      'mariadb: [Warning] Using a password on the command line interface can be insecure.',
      'INSERT INTO t VALUES (1)',
      'ERROR 1062 (23000) at line 7: Duplicate entry 1 for key PRIMARY',
      'some trailing chatter',
    ].join('\n');
    await assert.rejects(
      runCommand(fail(1, stderr)),
      commandError((e) => {
        assert.equal(e.stderrTail, 'ERROR 1062 (23000) at line 7: Duplicate entry 1 for key PRIMARY');
        assert.ok(!e.message.includes('INSERT INTO'), e.message);
      }),
    );
  });

  test('secrets in stderr are replaced by *** in the error', async () => {
    const secret = 'Hunter2-s3cret!';
    await assert.rejects(
      runCommand(fail(1, `ERROR 1045 (28000): Access denied for password ${secret} (again: ${secret})`), {
        secrets: [undefined, secret],
      }),
      commandError((e) => {
        assert.ok(!e.message.includes(secret), e.message);
        assert.ok(!e.stderrTail.includes(secret));
        assert.match(e.message, /password \*\*\* \(again: \*\*\*\)/);
      }),
    );
  });

  test('a secret cut in half by the stderr length limit does not leak its remaining part', async () => {
    const secret = 'correct-horse-battery-staple';
    // One long line: the 2000-character tail begins in the middle of the secret.
    const line = `${'a'.repeat(100)}${secret}${'b'.repeat(1990)}`;
    await assert.rejects(
      runCommand(fail(1, line), { secrets: [secret] }),
      commandError((e) => {
        assert.ok(!e.message.includes('battery-staple'), `partial secret leaked: ${e.message.slice(0, 80)}`);
        assert.ok(!e.message.includes('staple'), `partial secret leaked: ${e.message.slice(0, 80)}`);
      }),
    );
  });

  test('a program that does not exist gives a readable "could not start" error', async () => {
    await assert.rejects(
      runCommand(['no-such-program-for-runbook-tests', '--version']),
      commandError((e) => {
        assert.equal(e.exitCode, undefined);
        assert.equal(e.program, 'no-such-program-for-runbook-tests');
        assert.match(e.message, /^no-such-program-for-runbook-tests could not start \(.*ENOENT.*\)$/);
      }),
    );
  });

  test('an empty argv is refused', async () => {
    await assert.rejects(runCommand([]), /empty argv/);
  });
});

describe('errorLines and tail', () => {
  test('errorLines keeps at most the last three ERROR-like lines', () => {
    const stderr = [
      'ERROR 1',
      'x',
      'error: two',
      'mariadb-binlog: three',
      'y',
      'mysqlbinlog: four',
      'z',
    ].join('\n');
    assert.equal(errorLines(stderr), 'error: two\nmariadb-binlog: three\nmysqlbinlog: four');
  });

  test('errorLines falls back to the tail when no ERROR line exists', () => {
    assert.equal(errorLines('first\nsecond\n'), 'first\nsecond');
  });

  test('tail keeps the last lines and caps the length with an ellipsis', () => {
    assert.equal(tail('1\n2\n3\n4', 2), '3\n4');
    assert.equal(tail('abcdefghij', 8, 4), '…ghij');
  });
});

describe('runPipe', () => {
  test('producer output flows into the consumer and onProducerData counts every byte', async () => {
    let counted = 0;
    const r = await runPipe([NODE, '-e', "process.stdout.write('x'.repeat(300000))"], ['wc', '-c'], {
      onProducerData: (chunk) => (counted += chunk.length),
    });
    assert.equal(r.consumer.stdout.trim(), '300000');
    assert.equal(counted, 300000);
  });

  test('a failing producer is an error even when the consumer exits 0, and the error names the producer', async () => {
    await assert.rejects(
      runPipe(['sh', '-c', 'echo partial; echo "mariadb-binlog: File not found" >&2; exit 2'], ['cat']),
      commandError((e) => {
        assert.equal(e.program, 'sh');
        assert.equal(e.exitCode, 2);
        assert.match(e.message, /^sh exited with code 2: mariadb-binlog: File not found$/);
      }),
    );
  });

  test(
    'a failing consumer is reported by name, and an endless producer is stopped',
    { timeout: 10_000 },
    async () => {
      await assert.rejects(
        runPipe(
          ['yes', 'INSERT INTO t VALUES (1);'],
          [NODE, '-e', "process.stderr.write('ERROR 2013: lost connection'); process.exit(4)"],
        ),
        commandError((e) => {
          assert.equal(e.program, NODE);
          assert.equal(e.exitCode, 4);
          assert.match(e.message, /exited with code 4: ERROR 2013: lost connection/);
        }),
      );
    },
  );

  test('secrets are redacted from pipe errors', async () => {
    const secret = 'pipe-s3cret-value';
    await assert.rejects(
      runPipe(
        ['sh', '-c', 'true'],
        [NODE, '-e', `process.stderr.write('ERROR 1045: bad password ${secret}'); process.exit(1)`],
        {
          secrets: [secret],
        },
      ),
      commandError((e) => {
        assert.ok(!e.message.includes(secret), e.message);
        assert.match(e.message, /bad password \*\*\*/);
      }),
    );
  });
});
