// NDB epochs are 64-bit (GCI << 32 | micro-GCI) and travel as text: the pool returns BIGINTs as
// strings and the activities bind them as strings. MySQL compares a BIGINT column with a string as
// double-precision numbers (MySQL manual, "Type Conversion in Expression Evaluation"), which cannot
// tell apart epochs a few units apart once the GCI passes 2^21 (about seven weeks of a 2-s GCP): the
// restore epoch (G << 32 | 0xffffffff) and the first epoch after it ((G + 1) << 32) compare equal, and
// `epoch > ?` would skip the first epoch to replay. MariaDB (our test servers) compares them exactly,
// so no integration test can show it: this test reads the SQL of every NDB activity instead.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../scripts/lib/tools';

test('every NDB query that compares an epoch with a bound value CASTs the value to UNSIGNED', async () => {
  const dir = join(projectRoot, 'activities', 'ndb');
  const offenders: string[] = [];
  let compared = 0;
  for (const name of await readdir(dir)) {
    const text = await readFile(join(dir, name), 'utf8');
    for (const m of text.matchAll(/\bepoch\s*(?:[<>]=?|=)\s*(CAST\(\?\s+AS\s+UNSIGNED\)|\?)/gi)) {
      compared++;
      if (m[1] === '?') offenders.push(`${name}: ${m[0]}`);
    }
  }
  assert.ok(compared >= 4, `expected the PITR and failover epoch lookups, found ${compared}`);
  assert.deepEqual(offenders, []);
});
