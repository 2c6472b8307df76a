// fetch-backup on real tools: a real `mariadb-backup --stream=xbstream` backup in a real S3 store
// (SeaweedFS), plain, | zstd and | gzip, fetched, extracted with mbstream and prepared; the restored
// tables equal the source's at the backup point. A fetch killed mid-download resumes (one download in
// bytes fetched), one killed mid-prepare prepares again from a fresh extraction (one completed
// prepare); damaged or replaced objects are refused naming the backup and the phase, nothing prepared.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chmod, mkdtemp, rm, stat, truncate, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execa, type ResultPromise } from 'execa';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  fetchBackup,
  fetchPaths,
  type FetchBackupRequest,
  type FetchProgress,
} from '../../activities/mysql/backup-fetch';
import { Ledger } from '../../activities/runtime/ledger';
import type { BackupEntry } from '../../workflows/backup-catalog';
import type { Archive } from '../../workflows/schemas';
import { projectRoot } from '../../scripts/lib/tools';
import { streamWorld, tablesOfPrepared, type StreamWorld } from '../support/backup-stream-world';

let w: StreamWorld;
let state: string;
let n = 0;
const archive: Archive = { kind: 'fs', dir: '/nonexistent-archive' };

before(async () => {
  state = await mkdtemp(join(tmpdir(), 'fetch-state-'));
  await chmod(state, 0o700);
  process.env.RUNBOOK_STATE_DIR = state;
  w = await streamWorld();
});
after(async () => {
  await w?.cleanup();
  if (state) await rm(state, { recursive: true, force: true });
});

const request = (entry: BackupEntry): FetchBackupRequest => ({
  recoveryId: `fetch-${++n}-${Date.now()}`,
  archive,
  location: w.location,
  entry,
});
const journal = (req: FetchBackupRequest) =>
  Ledger.besideDatadir(fetchPaths(archive, req.recoveryId).prepared).readJournal(req.recoveryId);

for (const compression of ['none', 'zstd', 'gzip'] as const)
  void test(`a ${compression === 'none' ? 'plain' : compression} xbstream in S3 is fetched, extracted and prepared; its tables equal the source's at the backup point`, async () => {
    const req = request(w.entries[compression]);
    const r = await fetchBackup(req);
    assert.equal(r.dir, fetchPaths(archive, req.recoveryId).prepared);
    assert.match(
      await readFile(join(r.dir, 'xtrabackup_checkpoints'), 'utf8'),
      /backup_type = (full-prepared|log-applied)/,
    );
    assert.deepEqual(await tablesOfPrepared(r.dir, join(w.base, `restored-${compression}`)), w.truth);
    // Streamed: the kept copy of the stream is gone once prepared; a second call does nothing.
    assert.equal(await stat(fetchPaths(archive, req.recoveryId).kept).catch(() => null), null);
    const again = await fetchBackup(req);
    assert.equal(again.skipped, true);
    const lines = await journal(req);
    assert.equal(lines.filter((l) => l.includes('download finished')).length, 1);
    assert.equal(lines.filter((l) => l.includes('prepare finished')).length, 1);
  });

void test('heartbeats carry the phase, bytes done of the total, the rate and the ETA', async () => {
  const entry = w.entries.none;
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 600 });
  const beats: FetchProgress[] = [];
  env.on('heartbeat', (d: FetchProgress) => beats.push(d));
  await env.run(fetchBackup, request(entry));
  const downloading = beats.filter((b) => b.phase === 'download' && b.bytesDone > 0);
  assert.ok(downloading.length > 0, JSON.stringify(beats.slice(0, 3)));
  for (const b of downloading) {
    assert.equal(b.backup, entry.name);
    assert.equal(b.bytesTotal, entry.bytes);
    assert.ok(
      b.bytesDone <= entry.bytes && b.rate > 0 && typeof b.etaSeconds === 'number',
      JSON.stringify(b),
    );
  }
  assert.ok(beats.some((b) => b.phase === 'prepare' && b.bytesDone === entry.bytes));
});

/** The fetch in a process of its own, SIGKILLed (its whole group) once `when` holds. */
async function killedWhen(req: FetchBackupRequest, when: () => Promise<boolean>): Promise<void> {
  const child: ResultPromise = execa(
    process.execPath,
    ['--import', 'tsx', join(projectRoot, 'test/support/fetch-backup-child.ts'), JSON.stringify(req)],
    { cwd: projectRoot, detached: true, reject: false, env: process.env },
  );
  let fired = false;
  const deadline = Date.now() + 120_000;
  while (!fired && Date.now() < deadline && child.exitCode === null) {
    if (await when()) {
      process.kill(-child.pid!, 'SIGKILL');
      fired = true;
    } else await new Promise((r) => setTimeout(r, 5));
  }
  const res = await child;
  assert.ok(fired, `the fetch ended before the kill: ${String(res.stdout)} ${String(res.stderr)}`);
}

void test('a fetch killed mid-download resumes from the bytes on disk: one download in bytes fetched, one prepare', async () => {
  const entry = w.entries.none;
  const req = request(entry);
  const part = `${fetchPaths(archive, req.recoveryId).kept}.part`;
  let atKill = 0;
  await killedWhen(req, async () => {
    atKill = (await stat(part).catch(() => null))?.size ?? 0;
    return atKill > entry.bytes * 0.2;
  });
  const r = await fetchBackup(req);
  assert.match(r.evidence!.join('\n'), /resumed at byte \d+/);
  const lines = await journal(req);
  const finished = lines.filter((l) => l.includes('download finished'));
  assert.equal(finished.length, 1, lines.join('\n'));
  const [, fetched, resumed] = /(\d+) fetched by this attempt, (\d+) resumed from disk/.exec(finished[0]!)!;
  assert.ok(Number(resumed) >= atKill, `resumed at ${resumed}, ${atKill} bytes were on disk at the kill`);
  assert.equal(Number(fetched) + Number(resumed), entry.bytes, 'the resumed attempt fetched only the rest');
  assert.equal(lines.filter((l) => l.includes('prepare finished')).length, 1);
  assert.deepEqual(await tablesOfPrepared(r.dir, join(w.base, 'restored-resumed')), w.truth);
});

void test('a fetch killed mid-prepare prepares again from a fresh extraction of the kept stream, without downloading again', async () => {
  const entry = w.entries.zstd;
  const req = request(entry);
  await killedWhen(req, async () => (await journal(req)).some((l) => l.includes('prepare started')));
  assert.equal(
    (await journal(req)).filter((l) => l.includes('prepare finished')).length,
    0,
    'killed mid-prepare',
  );
  const r = await fetchBackup(req);
  assert.match(r.evidence!.join('\n'), /prepare interrupted .* redone from a fresh extraction/);
  assert.match(r.evidence!.join('\n'), /downloaded earlier: extracted again from the copy on disk/);
  const lines = await journal(req);
  assert.equal(lines.filter((l) => l.includes('download finished')).length, 1, 'one download');
  assert.equal(lines.filter((l) => l.includes('prepare started')).length, 2);
  assert.equal(lines.filter((l) => l.includes('prepare finished')).length, 1, 'one completed prepare');
  assert.deepEqual(await tablesOfPrepared(r.dir, join(w.base, 'restored-reprepared')), w.truth);
});

/** A refusal: final, BackupDamaged or BackupChanged, naming the backup and the phase; nothing prepared. */
async function refused(req: FetchBackupRequest, type: string, phase: RegExp): Promise<string> {
  const err = await fetchBackup(req).then(
    () => assert.fail('the fetch succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, String(err));
  assert.equal(err.type, type, err.message);
  assert.equal(err.nonRetryable, true);
  assert.ok(err.message.includes(req.entry.name), err.message);
  assert.match(err.message, phase);
  const paths = fetchPaths(archive, req.recoveryId);
  assert.equal(await stat(paths.prepared).catch(() => null), null, 'no prepared directory');
  assert.equal(
    await Ledger.besideDatadir(paths.prepared).read(req.recoveryId, 'fetch-backup-prepared'),
    undefined,
  );
  return err.message;
}

async function damagedCopy(name: string, from: string, damage: (file: string) => Promise<void>) {
  const file = join(w.base, name);
  await execa('cp', [from, file]);
  await damage(file);
  return file;
}
const flipByte = (at: number) => async (file: string) => {
  const fh = await import('node:fs/promises').then((m) => m.open(file, 'r+'));
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, at);
  b[0] = b[0]! ^ 0xff;
  await fh.write(b, 0, 1, at);
  await fh.close();
};

void test('damaged streams are refused naming the backup and the phase that saw it; nothing is prepared', async () => {
  const size = (await stat(w.streamFile)).size;
  const cases: [string, string, BackupEntry['compression'], (f: string) => Promise<void>, RegExp][] = [
    ['cut.xbstream', w.streamFile, 'none', (f) => truncate(f, Math.floor(size * 0.6)), /refused at extract/],
    [
      'flipped.xbstream',
      w.streamFile,
      'none',
      flipByte(Math.floor(size * 0.5)),
      /refused at extract: mbstream/,
    ],
    [
      'cut.xbstream.zst',
      `${w.streamFile}.zst`,
      'zstd',
      (f) => truncate(f, 1_000_000),
      /refused at decompress: zstd/,
    ],
    ['flipped.xbstream.gz', `${w.streamFile}.gz`, 'gzip', flipByte(2_000_000), /refused at decompress: gzip/],
  ];
  for (const [name, from, compression, damage, phase] of cases) {
    const file = await damagedCopy(name, from, damage);
    await refused(request(await w.upload(name, file, compression)), 'BackupDamaged', phase);
  }
});

void test('a stream cut exactly between two chunks (mbstream exits 0) is refused as truncated', async () => {
  // The offset of the chunk that carries ib_logfile0, found by walking the xbstream chunk headers.
  const data = await readFile(w.streamFile);
  let at = 0;
  let cut = -1;
  while (at < data.length) {
    const type = String.fromCharCode(data[at + 9]!);
    const pathLen = data.readUInt32LE(at + 10);
    const path = data.subarray(at + 14, at + 14 + pathLen).toString();
    if (path === 'ib_logfile0' && cut < 0) cut = at;
    let next = at + 14 + pathLen;
    if (type !== 'E') next += 16 + 4 + Number(data.readBigUInt64LE(next));
    at = next;
  }
  assert.ok(cut > 0);
  const file = await damagedCopy('chunk-cut.xbstream', w.streamFile, (f) => truncate(f, cut));
  const msg = await refused(
    request(await w.upload('chunk-cut.xbstream', file, 'none')),
    'BackupDamaged',
    /refused at extract/,
  );
  assert.match(msg, /truncated/);
});

void test('an object replaced after a download began is not spliced: refused, and a size the catalog did not list is refused', async () => {
  const name = 'replaced.xbstream';
  const entry = await w.upload(name, w.streamFile, 'none');
  const req = request(entry);
  const part = `${fetchPaths(archive, req.recoveryId).kept}.part`;
  await killedWhen(req, async () => ((await stat(part).catch(() => null))?.size ?? 0) > entry.bytes * 0.1);
  const other = await damagedCopy('other.xbstream', w.streamFile, flipByte(100));
  await w.upload(name, other, 'none'); // same size, other bytes, another ETag
  const msg = await refused(req, 'BackupChanged', /not the object this run began to download/);
  assert.match(msg, /not spliced/);
  assert.ok((await stat(part)).size > 0, 'the partial download is kept, not resumed');

  const listed = w.entries.none;
  await refused(
    request({ ...listed, bytes: listed.bytes - 1 }),
    'BackupChanged',
    /the catalog entry the plan chose/,
  );
});
