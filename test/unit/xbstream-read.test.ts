// The xbstream reader (activities/mysql/xbstream-read.ts) on hand-made streams, each also given to the
// real `mbstream -x` as ground truth: what mbstream accepts the reader accepts with the same file
// contents, and what mbstream refuses the reader refuses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { execa } from 'execa';
import { readXbstream, XbstreamDamaged } from '../../activities/mysql/xbstream-read';
import { readStreamMetadata } from '../../activities/mysql/backup-metadata';

/** One chunk as mariabackup writes it (extra/mariabackup/xbstream_write.cc), little-endian. */
function chunk(
  path: string,
  o: { payload?: Buffer; offset?: number; type?: string; flags?: number; crc?: number } = {},
) {
  const type = o.type ?? 'P';
  const p = Buffer.from(path);
  const head = Buffer.alloc(14);
  head.write('XBSTCK01', 0, 'latin1');
  head[8] = o.flags ?? 0;
  head[9] = type.charCodeAt(0);
  head.writeUInt32LE(p.length, 10);
  if (type === 'E') return Buffer.concat([head, p]);
  const payload = o.payload ?? Buffer.alloc(0);
  const tail = Buffer.alloc(20);
  tail.writeBigUInt64LE(BigInt(payload.length), 0);
  tail.writeBigUInt64LE(BigInt(o.offset ?? 0), 8);
  tail.writeUInt32LE(o.crc ?? crc32(payload) >>> 0, 16);
  return Buffer.concat([head, p, tail, payload]);
}

async function mbstream(
  stream: Buffer,
): Promise<{ ok: boolean; files: Record<string, string>; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'xbs-'));
  try {
    const r = await execa('mbstream', ['-x', '-C', dir], { input: stream, reject: false });
    const files: Record<string, string> = {};
    for (const name of ['a', 'xtrabackup_binlog_info'])
      files[name] = await readFile(join(dir, name), 'utf8').catch(() => '(absent)');
    return { ok: r.exitCode === 0, files, stderr: r.stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const read = (b: Buffer) => readXbstream(Readable.from([b]), () => true);
const info = Buffer.from('mysql-bin.000007\t1234\t0-1-99\n');

test('a file in two chunks at their offsets, an end chunk, and the metadata file: read as mbstream extracts them', async () => {
  const s = Buffer.concat([
    chunk('a', { payload: Buffer.from('hello '), offset: 0 }),
    chunk('a', { payload: Buffer.from('world'), offset: 6 }),
    chunk('a', { type: 'E' }),
    chunk('xtrabackup_binlog_info', { payload: info }),
    chunk('xtrabackup_binlog_info', { type: 'E' }),
  ]);
  const truth = await mbstream(s);
  assert.ok(truth.ok, truth.stderr);
  const r = await read(s);
  assert.equal(r.kept.get('a')?.toString(), truth.files.a);
  assert.equal(r.kept.get('xtrabackup_binlog_info')?.toString(), truth.files.xtrabackup_binlog_info);
  assert.equal(r.dataBytes, 11 + info.length);
  assert.equal(r.streamBytes, s.length);
  // Compressed as a whole (| gzip): the same metadata.
  const meta = await readStreamMetadata(Readable.from([gzipSync(s)]), 'gzip');
  assert.deepEqual(meta.binlog, { file: 'mysql-bin.000007', position: 1234, gtid: '0-1-99' });
  assert.match(meta.problem ?? '', /no xtrabackup_checkpoints/);
});

test('damage mbstream refuses is refused, naming the offset', async () => {
  const good = chunk('xtrabackup_binlog_info', { payload: info });
  const cases: [string, Buffer, RegExp][] = [
    [
      'checksum',
      Buffer.concat([good, chunk('a', { payload: Buffer.from('x'), crc: 1 })]),
      new RegExp(`checksum mismatch .* at offset ${good.length + 14 + 1 + 16}$`),
    ],
    [
      'magic',
      Buffer.concat([good, Buffer.from('XBSTCK02'), good.subarray(8)]),
      new RegExp(`wrong chunk magic at offset ${good.length}$`),
    ],
    [
      'truncated',
      good.subarray(0, good.length - 3),
      /truncated chunk payload of xtrabackup_binlog_info at offset/,
    ],
    [
      'unknown type',
      chunk('a', { type: 'Z', payload: Buffer.from('x') }),
      /unknown chunk type 0x5a at offset 9$/,
    ],
    [
      'out of order',
      Buffer.concat([
        chunk('a', { payload: Buffer.from('ab') }),
        chunk('a', { payload: Buffer.from('c'), offset: 5 }),
      ]),
      /out-of-order chunk of a: its offset is 5, the file is 2 bytes so far at offset \d+$/,
    ],
    [
      'path too long',
      chunk('p'.repeat(600), { payload: Buffer.from('x') }),
      /path length 600 is too large at offset 10$/,
    ],
  ];
  for (const [what, s, pattern] of cases) {
    const truth = await mbstream(s);
    assert.equal(truth.ok, false, `mbstream accepted the ${what} case`);
    await assert.rejects(read(s), (err: Error) => {
      assert.ok(err instanceof XbstreamDamaged, `${what}: ${String(err)}`);
      assert.match(err.message, pattern, what);
      return true;
    });
  }
});

test('an unknown chunk marked ignorable is parsed, and written to its file as mbstream writes it', async () => {
  const s = Buffer.concat([
    chunk('a', { type: 'Z', flags: 1, payload: Buffer.from('ignored') }),
    chunk('a', { payload: Buffer.from('kept'), offset: 7 }),
  ]);
  const truth = await mbstream(s);
  assert.ok(truth.ok, truth.stderr);
  const r = await read(s);
  assert.equal(r.kept.get('a')?.toString(), truth.files.a);
  assert.equal(truth.files.a, 'ignoredkept');
  assert.equal(r.kept.get('a')?.toString(), 'ignoredkept');
});
