// One backup stream of a backup catalog (workflows/backup-catalog.ts) as bytes to fetch: its size and
// identity (S3 ETag; a file's size and mtime), and a reader from any offset, so an interrupted download
// resumes where the bytes on disk end. A resumed read is conditional on the identity seen first
// (S3 `If-Match`), so a replaced object is never spliced onto the bytes of the old one.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { GetObjectCommand, HeadObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import type { BackupCatalogLocation, BackupEntry } from '../../workflows/backup-catalog';
import { describe, isMisconfiguration, newS3Client } from '../archive/archive-s3';
import { resolveSecret, redact } from '../trust/secrets';
import { failure } from '../../workflows/failures';

export interface BackupObject {
  /** Where it is, for messages: s3://bucket/key or the file's path. */
  location: string;
  size: number;
  /** S3: the ETag as the store gives it (quotes kept); a file: `<size>:<mtime ms>`. */
  etag: string;
  /** The bytes from `from` to the end, provided the object is still `etag`. */
  read(from: number): Promise<Readable>;
  close(): void;
}

/** A catalog name is a relative path inside the catalog: no `..`, no absolute path, no control characters. */
export function checkEntryName(name: string): string {
  const parts = name.split('/');
  if (
    !name ||
    name.length > 1024 ||
    name.startsWith('/') ||
    /[\0\n\r]/.test(name) ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  )
    throw failure(
      'InvalidInput',
      `not a backup name of the catalog: ${JSON.stringify(name.slice(0, 120))} (a relative path without "..")`,
    );
  return name;
}

/** Opens the entry in its catalog; a missing object or wrong credentials are final failures naming it. */
export async function openBackupObject(
  location: BackupCatalogLocation,
  entry: BackupEntry,
): Promise<BackupObject> {
  const name = checkEntryName(entry.name);
  if (location.kind === 'fs') return openFile(join(location.dir, name), entry);
  return openS3(location, name, entry);
}

async function openFile(path: string, entry: BackupEntry): Promise<BackupObject> {
  const st = await stat(path).catch(() => null);
  if (!st?.isFile())
    throw failure('BackupChanged', `backup ${entry.name}: ${path} is not a file of the catalog any more`);
  const etag = `${st.size}:${Math.floor(st.mtimeMs)}`;
  return {
    location: path,
    size: st.size,
    etag,
    async read(from) {
      const now = await stat(path).catch(() => null);
      if (!now || `${now.size}:${Math.floor(now.mtimeMs)}` !== etag)
        throw failure('BackupChanged', `backup ${entry.name}: ${path} changed while it was read`);
      return createReadStream(path, { start: from });
    },
    close() {},
  };
}

async function openS3(
  loc: Extract<BackupCatalogLocation, { kind: 's3' }>,
  name: string,
  entry: BackupEntry,
): Promise<BackupObject> {
  const [accessKeyId, secretAccessKey] = await Promise.all([
    resolveSecret(loc.accessKeyId),
    resolveSecret(loc.secretAccessKey),
  ]);
  const client = newS3Client({
    endpoint: loc.endpoint,
    region: loc.region,
    forcePathStyle: loc.forcePathStyle,
    credentials: { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! },
  });
  const prefix = loc.prefix.replace(/^\/+|\/+$/g, '');
  const key = prefix ? `${prefix}/${name}` : name;
  const where = `s3://${loc.bucket}/${key}`;
  const fail = (action: string, err: unknown) => {
    const reason = redact(describe(err), [secretAccessKey]);
    const message = `backup ${entry.name}: cannot ${action} ${where}: ${reason}`;
    if (isMisconfiguration(err)) return failure('ArchiveMisconfigured', message);
    if (err instanceof S3ServiceException) {
      const status = err.$metadata.httpStatusCode;
      // Gone, or not the object first seen (If-Match): not the backup the plan chose.
      if (status === 404 || status === 412 || err.name === 'NoSuchKey' || err.name === 'PreconditionFailed')
        return failure('BackupChanged', `${message}: the object is gone or was replaced`);
    }
    return failure('Transient', message);
  };
  let head;
  try {
    head = await client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: key }));
  } catch (err) {
    client.destroy();
    throw fail('read the size of', err);
  }
  const etag = head.ETag ?? '';
  const size = Number(head.ContentLength ?? -1);
  return {
    location: where,
    size,
    etag,
    async read(from) {
      try {
        const res = await client.send(
          new GetObjectCommand({
            Bucket: loc.bucket,
            Key: key,
            ...(from > 0 ? { Range: `bytes=${from}-` } : {}),
            ...(etag ? { IfMatch: etag } : {}),
          }),
        );
        if (!(res.Body instanceof Readable))
          throw failure('RunbookBug', `S3 GetObject ${where}: the response body is not a Node stream`);
        if (res.ETag && etag && res.ETag !== etag)
          throw failure(
            'BackupChanged',
            `backup ${entry.name}: ${where} was replaced (ETag ${res.ETag}, was ${etag})`,
          );
        return res.Body;
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        throw fail(from > 0 ? `resume (bytes ${from}-) the download of` : 'download', err);
      }
    },
    close: () => client.destroy(),
  };
}
