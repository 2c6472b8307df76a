// Starts a throwaway SeaweedFS (`weed mini`) with a signed S3 API for integration tests: its own temp
// data dir, only free ports on 127.0.0.1, random credentials, and a stop() that leaves nothing behind.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { weedBin } from '../../scripts/lib/tools';

export interface SeaweedS3 {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  version: string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

export async function startSeaweedS3(opts: { bucket?: string; volumes?: number } = {}): Promise<SeaweedS3> {
  const weed = weedBin();
  const version = await weedVersion(weed);
  const bucket = opts.bucket ?? 'test-archive';
  const region = 'us-east-1';
  const accessKeyId = `AK${randomBytes(9).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(30).toString('base64url');

  const dir = await mkdtemp(join(tmpdir(), 'seaweedfs-'));
  const logPath = join(dir, 'weed.log');
  const configPath = join(dir, 's3.json');
  // One identity with full rights; anonymous requests are refused once any identity exists.
  await writeFile(
    configPath,
    JSON.stringify({
      identities: [
        {
          name: 'test',
          credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }],
          actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'],
        },
      ],
    }),
    { mode: 0o600 },
  );

  // Every listener gets an explicit free port, gRPC included, instead of the implicit "http + 10000".
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc, admin, adminGrpc] =
    await freePorts(10);
  const args = [
    '-logtostderr', // glog would otherwise drop weed.* files into /tmp
    'mini',
    `-dir=${join(dir, 'data')}`,
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    `-master.port=${master}`,
    `-master.port.grpc=${masterGrpc}`,
    `-volume.port=${volume}`,
    `-volume.port.grpc=${volumeGrpc}`,
    `-filer.port=${filer}`,
    `-filer.port.grpc=${filerGrpc}`,
    `-s3.port=${s3}`,
    `-s3.port.grpc=${s3Grpc}`,
    `-admin.port=${admin}`, // the admin server still listens (for its workers) with the UI off
    `-admin.port.grpc=${adminGrpc}`,
    '-admin.ui=false',
    '-webdav=false',
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
    `-s3.config=${configPath}`,
    `-s3.localSocket=${join(dir, 's3.sock')}`,
    `-filer.localSocket=${join(dir, 'filer.sock')}`,
    '-master.telemetry=false',
    // Small volumes and few of them: sparse files, little memory, fast startup.
    '-master.volumeSizeLimitMB=16',
    `-volume.max=${opts.volumes ?? 8}`, // 16 MB each: the store holds about 16 MB times this
    '-volume.preStopSeconds=0',
  ];

  // detached: weed leads its own process group, so stop() can kill the whole tree.
  const proc = execa(weed, args, {
    cwd: dir,
    detached: true,
    stdin: 'ignore',
    stdout: { file: logPath, append: true },
    stderr: { file: logPath, append: true },
    reject: false,
  });
  const pid = proc.pid;
  let exited = false;
  const exitedPromise = proc.then(() => {
    exited = true;
  });
  // execa does not clean up detached children, so do it ourselves if the test process dies first.
  const killOnExit = () => killGroup(pid, 'SIGKILL');
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killOnExit);
    if (!exited) {
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), STOP_GRACE_MS);
      await exitedPromise;
      clearTimeout(timer);
    }
    // weed puts its gRPC unix sockets in /tmp by port number; remove any it left behind.
    const sockets = [
      ['master', masterGrpc],
      ['volume', volumeGrpc],
      ['filer', filerGrpc],
      ['s3', s3Grpc],
      ['admin', adminGrpc],
    ].map(([kind, port]) => `/tmp/seaweedfs-${kind}-grpc-${port}.sock`);
    await Promise.all([...sockets, dir].map((p) => rm(p, { recursive: true, force: true })));
  };

  const endpoint = `http://127.0.0.1:${s3}`;
  try {
    await createBucketWhenReady({
      endpoint,
      region,
      credentials: { accessKeyId, secretAccessKey },
      bucket,
      hasExited: () => exited,
      logPath,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, region, accessKeyId, secretAccessKey, bucket, version, stop };
}

/** Retries CreateBucket until the S3 gateway answers; that also proves the signed identity works. */
async function createBucketWhenReady(o: {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  bucket: string;
  hasExited: () => boolean;
  logPath: string;
}): Promise<void> {
  const client = new S3Client({
    endpoint: o.endpoint,
    region: o.region,
    credentials: o.credentials,
    forcePathStyle: true,
    maxAttempts: 1, // we retry ourselves, quickly
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError = 'no attempt made';
  try {
    for (;;) {
      try {
        await client.send(new CreateBucketCommand({ Bucket: o.bucket }));
        return;
      } catch (err) {
        const name = (err as Error).name;
        if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return;
        lastError = `${name}: ${(err as Error).message}`;
      }
      if (o.hasExited()) {
        throw new Error(`SeaweedFS exited during startup\n${await logTail(o.logPath)}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `SeaweedFS S3 at ${o.endpoint} not ready after ${START_TIMEOUT_MS / 1000} s ` +
            `(last error: ${lastError})\n${await logTail(o.logPath)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    client.destroy();
  }
}

async function weedVersion(weed: string): Promise<string> {
  // e.g. "version 8000GB 4.48 pypi linux amd64"
  const { stdout } = await execa(weed, ['version']);
  return /\b(\d+\.\d+(?:\.\d+)?)\b/.exec(stdout)?.[1] ?? stdout.trim();
}

/** Distinct free ports: all listeners stay open until every port is chosen, so none repeats. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

async function logTail(logPath: string, lines = 30): Promise<string> {
  try {
    const text = await readFile(logPath, 'utf8');
    return `--- last ${lines} lines of ${logPath} ---\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`;
  } catch {
    return `(no SeaweedFS log at ${logPath})`;
  }
}
