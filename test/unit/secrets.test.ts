import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { redact, resolveSecret } from '../../activities/trust/secrets';

/** A secret that does not resolve is final: a retry would meet the same missing variable or file. */
function assertFinal(e: Error): void {
  assert.ok(e instanceof ApplicationFailure, `not an ApplicationFailure: ${e.message}`);
  assert.equal(e.nonRetryable, true);
  assert.equal(e.type, 'SecretUnavailable');
}

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'secrets-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('resolveSecret', () => {
  test('no reference resolves to undefined', async () => {
    assert.equal(await resolveSecret(undefined), undefined);
  });

  test('an env reference resolves to the variable value unchanged', async () => {
    const name = 'RUNBOOK_UNIT_TEST_SECRET_A';
    process.env[name] = ' s3cret with spaces\n';
    try {
      assert.equal(await resolveSecret({ env: name }), ' s3cret with spaces\n');
    } finally {
      delete process.env[name];
    }
  });

  test('a missing environment variable gives an error naming the variable', async () => {
    const name = 'RUNBOOK_UNIT_TEST_SECRET_MISSING';
    delete process.env[name];
    await assert.rejects(resolveSecret({ env: name }), (e: Error) => {
      assert.match(e.message, /secret not available/);
      assert.ok(e.message.includes(name), e.message);
      assertFinal(e);
      return true;
    });
  });

  test('a file reference resolves to the file content with one trailing newline removed', async () => {
    const p = join(dir, 'pw-lf');
    await writeFile(p, 'file-s3cret\n');
    assert.equal(await resolveSecret({ file: p }), 'file-s3cret');
  });

  test('a CRLF line ending is removed too, and a file without a newline is taken as is', async () => {
    const crlf = join(dir, 'pw-crlf');
    const bare = join(dir, 'pw-bare');
    await writeFile(crlf, 'crlf-s3cret\r\n');
    await writeFile(bare, 'bare-s3cret');
    assert.equal(await resolveSecret({ file: crlf }), 'crlf-s3cret');
    assert.equal(await resolveSecret({ file: bare }), 'bare-s3cret');
  });

  test('inner newlines and leading spaces of a file secret are kept', async () => {
    const p = join(dir, 'pw-multi');
    await writeFile(p, '  line1\nline2\n');
    assert.equal(await resolveSecret({ file: p }), '  line1\nline2');
  });

  test('a missing file gives an error naming the file and the reason', async () => {
    const p = join(dir, 'does-not-exist');
    await assert.rejects(resolveSecret({ file: p }), (e: Error) => {
      assert.equal(e.message, `secret not available: cannot read ${p} (ENOENT)`);
      assertFinal(e);
      return true;
    });
  });

  test('an unreadable path (a directory) gives an error that does not contain any secret', async () => {
    const d = join(dir, 'a-directory');
    await mkdir(d);
    await writeFile(join(d, 'inner'), 'inner-s3cret-value');
    await assert.rejects(resolveSecret({ file: d }), (e: Error) => {
      assert.match(e.message, /secret not available: cannot read .*a-directory \(EISDIR\)/);
      assert.ok(!e.message.includes('inner-s3cret-value'));
      assertFinal(e);
      return true;
    });
  });

  test('an empty file (or one with only a newline) is refused, naming the file', async () => {
    for (const [name, content] of [
      ['pw-empty', ''],
      ['pw-newline', '\n'],
    ] as const) {
      const p = join(dir, name);
      await writeFile(p, content);
      await assert.rejects(resolveSecret({ file: p }), (e: Error) => {
        assert.equal(e.message, `secret not available: ${p} is empty`);
        assertFinal(e);
        return true;
      });
    }
  });
});

describe('redact', () => {
  test('every occurrence of every secret becomes ***', () => {
    assert.equal(
      redact('user=bob pass=tops3cret again tops3cret key=AKIA123', ['tops3cret', 'AKIA123']),
      'user=bob pass=*** again *** key=***',
    );
  });

  test('undefined and empty secrets are ignored', () => {
    assert.equal(redact('nothing to hide', [undefined, '']), 'nothing to hide');
  });

  test('secrets with regular-expression characters are matched literally', () => {
    assert.equal(redact('p=a.b*c+(d) q=aXbbc', ['a.b*c+(d)']), 'p=*** q=aXbbc');
  });

  test('text without the secret is returned unchanged', () => {
    assert.equal(
      redact('ERROR 1045 (28000): Access denied', ['hunter2']),
      'ERROR 1045 (28000): Access denied',
    );
  });
});
