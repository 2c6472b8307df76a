// S3 backend of the binlog archive: each binlog file is one object `<prefix>/<name>`, next to the JSON
// index `<prefix>/binlog-index.json`. Works with AWS S3 and S3-compatible stores (SeaweedFS, MinIO, Ceph).
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { BINLOG_NAME, INDEX_NAME, emptyIndex, type ArchiveIndex, type BinlogArchive } from './archive';
import type { ApplicationFailure } from '@temporalio/common';
import { failure, type FailureType } from '../../workflows/failures';

export interface S3ArchiveOptions {
  bucket: string;
  /** Key prefix without trailing slash ('' = bucket root). Leading/trailing slashes are ignored. */
  prefix: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** The one way an S3 client is made (the binlog archive, the backup catalog's streams). */
export function newS3Client(opts: Omit<S3ArchiveOptions, 'bucket' | 'prefix'>): S3Client {
  return new S3Client({
    region: opts.region ?? 'us-east-1',
    ...(opts.endpoint !== undefined && { endpoint: opts.endpoint }),
    ...(opts.forcePathStyle !== undefined && { forcePathStyle: opts.forcePathStyle }),
    ...(opts.credentials && { credentials: opts.credentials }),
    // Default flexible checksums send aws-chunked trailers that some S3-compatible stores reject;
    // file integrity is covered by the sha256 in the index (binlogs) or the ETag (backups) instead.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export class S3Archive implements BinlogArchive {
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly secret: string | undefined;

  constructor(opts: S3ArchiveOptions) {
    this.bucket = opts.bucket;
    this.prefix = opts.prefix.replace(/^\/+|\/+$/g, '');
    this.location = `s3://${this.bucket}/${this.prefix}`;
    this.secret = opts.credentials?.secretAccessKey;
    this.client = newS3Client(opts);
  }

  async listFiles(): Promise<{ name: string; size: number }[]> {
    const objects = await this.listObjects((name) => BINLOG_NAME.test(name));
    return objects.map(({ name, size }) => ({ name, size }));
  }

  /**
   * Every object directly under the prefix whose name `keep` accepts, with its size and ETag (all
   * pages, sorted by name). Also used by the backup catalog (activities/mysql/backup-catalog.ts).
   */
  async listObjects(
    keep: (name: string) => boolean,
  ): Promise<{ name: string; size: number; etag: string }[]> {
    const dir = this.prefix ? `${this.prefix}/` : '';
    const files: { name: string; size: number; etag: string }[] = [];
    let token: string | undefined;
    do {
      // Delimiter '/' keeps deeper keys out of Contents (they come back as CommonPrefixes).
      const page = await this.call('list objects', () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: dir,
            Delimiter: '/',
            ...(token !== undefined && { ContinuationToken: token }),
          }),
        ),
      );
      for (const obj of page.Contents ?? []) {
        const name = obj.Key?.slice(dir.length);
        if (name && keep(name)) files.push({ name, size: obj.Size ?? 0, etag: obj.ETag ?? '' });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token) {
        throw this.fail('list objects', new Error('truncated listing without a continuation token'));
      }
    } while (token);
    return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async readIndex(): Promise<ArchiveIndex> {
    const action = `read ${INDEX_NAME}`;
    let text: string;
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key(INDEX_NAME) }),
      );
      text = (await res.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (isNotFound(err)) return emptyIndex(); // a new archive has no index yet
      throw this.fail(action, err);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw this.fail(action, new Error(`invalid JSON: ${(err as Error).message}`), 'ArchiveDamaged');
    }
    const index = parsed as Partial<ArchiveIndex> | null;
    if (index?.version !== 1 || !Array.isArray(index.files)) {
      throw this.fail(action, new Error('not a version 1 archive index'), 'ArchiveDamaged');
    }
    return index as ArchiveIndex;
  }

  async writeIndex(index: ArchiveIndex): Promise<void> {
    await this.call(`write ${INDEX_NAME}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(INDEX_NAME),
          Body: JSON.stringify(index, null, 2) + '\n',
          ContentType: 'application/json',
        }),
      ),
    );
  }

  async putFile(name: string, localPath: string): Promise<void> {
    await this.call(`upload ${name}`, async () => {
      // Stream with an explicit length: binlogs can be 1 GiB, far too big to buffer.
      const { size } = await stat(localPath);
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(name),
          Body: createReadStream(localPath),
          ContentLength: size,
          ContentType: 'application/octet-stream',
        }),
      );
    });
  }

  async fetchFile(name: string, destPath: string): Promise<void> {
    const part = `${destPath}.part`;
    await this.call(`fetch ${name}`, async () => {
      try {
        await pipeline(await this.getBody(name), createWriteStream(part));
        await rename(part, destPath);
      } catch (err) {
        await rm(part, { force: true });
        throw err;
      }
    });
  }

  async openFile(name: string): Promise<Readable> {
    return this.call(`open ${name}`, () => this.getBody(name));
  }

  localPath(): string | null {
    return null;
  }

  private async getBody(name: string): Promise<Readable> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(name) }));
    // In Node the SDK returns an http.IncomingMessage, which is a Readable.
    if (!(res.Body instanceof Readable))
      throw failure('RunbookBug', `S3 GetObject ${name}: the response body is not a Node stream`);
    return res.Body;
  }

  private key(name: string): string {
    if (!name || name === '.' || name === '..' || name.includes('/')) {
      throw failure('ArchiveDamaged', `invalid archive file name: ${JSON.stringify(name)}`);
    }
    return this.prefix ? `${this.prefix}/${name}` : name;
  }

  /** Runs one S3 operation and turns any failure into a readable error naming the archive. */
  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.fail(action, err);
    }
  }

  private fail(action: string, err: unknown, type: FailureType = 'Transient'): ApplicationFailure {
    let reason = describe(err);
    // Belt and braces: no server message should ever echo the secret, but never let it through.
    if (this.secret) reason = reason.split(this.secret).join('***');
    const message = `S3 archive ${this.location}: cannot ${action}: ${reason}`;
    // The SDK's error is not kept as the cause: its bare text would replace this one in step errors.
    // Wrong credentials or a missing bucket do not mend by retrying: fail the step at once.
    if (isMisconfiguration(err)) return failure('ArchiveMisconfigured', message);
    return failure(type, message);
  }
}

const MISCONFIGURED = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'NoSuchBucket',
  'InvalidBucketName',
]);
export function isMisconfiguration(err: unknown): boolean {
  return (
    err instanceof S3ServiceException && (MISCONFIGURED.has(err.name) || err.$metadata.httpStatusCode === 403)
  );
}

function isNotFound(err: unknown): boolean {
  return (
    err instanceof S3ServiceException &&
    err.name !== 'NoSuchBucket' && // a missing bucket is a misconfiguration, not an empty archive
    (err.name === 'NoSuchKey' || err.$metadata.httpStatusCode === 404)
  );
}

/**
 * "NoSuchKey (HTTP 404)": the error code and status only. The server's own message text is not
 * repeated: an endpoint is not trusted to write into our errors (it could echo request headers).
 */
export function describe(err: unknown): string {
  if (err instanceof S3ServiceException) {
    const status = err.$metadata.httpStatusCode;
    const code = /^[A-Za-z][A-Za-z0-9.]{0,63}$/.test(err.name) ? err.name : 'S3 error';
    return status ? `${code} (HTTP ${status})` : code;
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
