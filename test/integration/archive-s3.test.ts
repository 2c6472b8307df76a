// S3Archive against a real SeaweedFS S3 server: real objects, signed requests, real errors.
import { test, before, after } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Archive } from '../../activities/archive/archive-s3';
import { emptyIndex, type ArchiveIndex } from '../../activities/archive/archive';
import { startSeaweedS3, type SeaweedS3 } from '../support/seaweedfs';
import { archiveReader } from '../../activities/archive/archive-read';
import { planReplay } from '../../activities/replay/replay-plan';
import { binlogName, chainFile, MemoryArchive, T0 } from '../support/memory-archive';

let s3: SeaweedS3;
let raw: S3Client; // writes objects behind the archive's back, as ground truth
let work: string;

before(async () => {
  const t0 = performance.now();
  s3 = await startSeaweedS3({ bucket: 'binlogs' });
  console.log(`SeaweedFS ${s3.version} S3 ready in ${Math.round(performance.now() - t0)} ms`);
  raw = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  work = await mkdtemp(join(tmpdir(), 'archive-s3-test-'));
});

after(async () => {
  raw?.destroy();
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Each test gets its own prefix so they cannot see each other's objects. */
function archive(prefix: string, secretAccessKey = s3.secretAccessKey): S3Archive {
  return new S3Archive({
    bucket: s3.bucket,
    prefix,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey },
  });
}

void test('putFile/fetchFile/openFile round-trip a file byte for byte', async () => {
  const a = archive('roundtrip');
  // Bigger than SeaweedFS's 4 MiB chunk size, odd length, so chunk joins are checked too.
  const data = randomBytes(9 * 1024 * 1024 + 12_345);
  const src = join(work, 'src.bin');
  await writeFile(src, data);

  await a.putFile('mysql-bin.000001', src);
  assert.deepEqual(await a.listFiles(), [{ name: 'mysql-bin.000001', size: data.length }]);

  const dest = join(work, 'fetched.bin');
  await a.fetchFile('mysql-bin.000001', dest);
  assert.ok((await readFile(dest)).equals(data), 'fetched bytes differ from uploaded bytes');
  assert.equal(existsSync(`${dest}.part`), false, '.part file left behind');

  const chunks: Buffer[] = [];
  for await (const chunk of await a.openFile('mysql-bin.000001')) chunks.push(chunk as Buffer);
  assert.ok(Buffer.concat(chunks).equals(data), 'openFile bytes differ from uploaded bytes');

  assert.equal(a.location, 's3://binlogs/roundtrip');
  assert.equal(a.localPath(), null);
});

void test('readIndex on an empty prefix is an empty index', async () => {
  assert.deepEqual(await archive('never-written').readIndex(), emptyIndex());
});

void test('readIndex in a missing bucket fails instead of pretending the archive is empty', async () => {
  const a = new S3Archive({
    bucket: 'no-such-bucket',
    prefix: 'x',
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  await assert.rejects(a.readIndex(), (err: unknown) => {
    // A missing bucket is a misconfiguration: refused at once, not retried.
    assert.ok(err instanceof ApplicationFailure && err.nonRetryable, 'non-retryable');
    assert.match(
      err.message,
      /^S3 archive s3:\/\/no-such-bucket\/x: cannot read binlog-index\.json: NoSuchBucket/,
    );
    return true;
  });
});

void test('writeIndex/readIndex round trip', async () => {
  const a = archive('index-roundtrip');
  const index: ArchiveIndex = {
    version: 1,
    files: [
      {
        name: 'mysql-bin.000001',
        size: 123_456,
        sha256: 'ab'.repeat(32),
        gtidsBefore: '',
        firstGtid: '0-1-1',
        lastGtid: '0-1-42',
        firstEventTime: 1_700_000_000,
        lastEventTime: 1_700_000_600,
        transactions: 42,
        complete: true,
      },
      {
        name: 'mysql-bin.000002',
        size: 77,
        sha256: 'cd'.repeat(32),
        gtidsBefore: '0-1-42',
        firstGtid: null,
        lastGtid: null,
        firstEventTime: null,
        lastEventTime: null,
        transactions: 0,
        complete: false,
      },
    ],
  };
  await a.writeIndex(index);
  assert.deepEqual(await a.readIndex(), index);

  // Overwrite: the second write wins.
  const smaller: ArchiveIndex = { version: 1, files: index.files.slice(0, 1) };
  await a.writeIndex(smaller);
  assert.deepEqual(await a.readIndex(), smaller);
  // The index is not a binlog file.
  assert.deepEqual(await a.listFiles(), []);
});

void test('listFiles pages past 1,000 keys and skips the index and non-binlog keys', async () => {
  const prefix = 'many';
  const count = 1_050;
  const expected = Array.from({ length: count }, (_, i) => {
    const name = `mysql-bin.${String(i + 1).padStart(6, '0')}`;
    return { name, size: (i % 7) + 1 };
  });
  const put = (key: string, size: number) =>
    raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: Buffer.alloc(size, 120) }));

  for (let i = 0; i < expected.length; i += 50) {
    await Promise.all(expected.slice(i, i + 50).map((f) => put(`${prefix}/${f.name}`, f.size)));
  }
  // Decoys: none of these may be listed.
  await Promise.all([
    put(`${prefix}/notes.txt`, 3),
    put(`${prefix}/mysql-bin.index`, 3),
    put(`${prefix}/mysql-bin.12345`, 3), // fewer than 6 digits
    put(`${prefix}/deeper/mysql-bin.000001`, 3),
    put(`${prefix}-sibling/mysql-bin.009999`, 3), // same string prefix, different "directory"
  ]);
  const a = archive(prefix);
  await a.writeIndex(emptyIndex());

  const listed = await a.listFiles();
  assert.equal(listed.length, count);
  assert.deepEqual(listed, expected);
});

void test('fetching a missing file names the file and the archive, never the secret', async () => {
  const a = archive('missing');
  const dest = join(work, 'missing.bin');
  await assert.rejects(a.fetchFile('mysql-bin.000999', dest), (err: Error) => {
    assert.match(err.message, /mysql-bin\.000999/);
    assert.match(err.message, /s3:\/\/binlogs\/missing/);
    assert.match(err.message, /NoSuchKey|not exist|404/);
    assert.ok(!err.message.includes(s3.secretAccessKey), 'secret key leaked into the message');
    return true;
  });
  assert.equal(existsSync(dest), false);
  assert.equal(existsSync(`${dest}.part`), false);
});

void test('a wrong secret key fails readably without leaking the secret', async () => {
  const wrongSecret = randomBytes(30).toString('base64url');
  const a = archive('roundtrip', wrongSecret);
  for (const op of [() => a.listFiles(), () => a.readIndex()]) {
    // readIndex must not mistake "access denied" for "no index yet".
    await assert.rejects(op(), (err: Error) => {
      assert.match(err.message, /^S3 archive s3:\/\/binlogs\/roundtrip: cannot /);
      assert.match(err.message, /SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId|403/);
      assert.ok(!err.message.includes(wrongSecret), 'wrong secret leaked into the message');
      assert.ok(!err.message.includes(s3.secretAccessKey), 'real secret leaked into the message');
      return true;
    });
  }
});

void test('a plan over S3 stages each window file as it verifies it; a damaged one is refused and not kept', async () => {
  const a = archive('staged-verify');
  const mem = new MemoryArchive([1, 2, 3, 4].map((n) => chainFile(n, 4)));
  for (const [name, f] of mem.files) {
    const local = join(work, `up-${name}`);
    await writeFile(local, f.bytes);
    await a.putFile(name, local);
  }
  await a.writeIndex(mem.index());
  const backup = { file: binlogName(2), position: mem.file(binlogName(2)).txs[2]!.endPos, gtid: '0-1-13' };
  const plan = (staging: string) =>
    planReplay({
      index: mem.index(),
      backup,
      target: { type: 'latest' },
      allowGaps: false,
      nowSeconds: T0 + 100_000,
      read: archiveReader(a, staging),
    });

  const clean = join(work, 'staging-clean');
  const p = await plan(clean);
  assert.deepEqual(p.files, [binlogName(2), binlogName(3), binlogName(4)]);
  for (const name of p.files)
    assert.deepEqual(await readFile(join(clean, name)), mem.file(name).bytes, `${name} staged byte for byte`);

  // One bit flipped inside an event body of file 3 in the bucket, behind the archive's back.
  const damaged = Buffer.from(mem.file(binlogName(3)).bytes);
  damaged[mem.file(binlogName(3)).txs[4]!.startPos + 80]! ^= 0x08;
  await raw.send(
    new PutObjectCommand({ Bucket: s3.bucket, Key: `staged-verify/${binlogName(3)}`, Body: damaged }),
  );
  const staging = join(work, 'staging-damaged');
  await assert.rejects(plan(staging), (err: Error) => {
    assert.match(
      err.message,
      new RegExp(`archive file ${binlogName(3)} is damaged at offset \\d+: CRC32 mismatch`),
    );
    return true;
  });
  assert.equal(existsSync(join(staging, binlogName(3))), false, 'the damaged file is not staged');
  assert.equal(existsSync(join(staging, `${binlogName(3)}.part`)), false, 'nor half of it');
  assert.equal(existsSync(join(staging, binlogName(2))), true, 'the good file before it is');
});
