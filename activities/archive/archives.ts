// Opens the archive an input describes, resolving its credentials on this worker.
import { join } from 'node:path';
import type { Archive } from '../../workflows/schemas';
import type { BinlogArchive } from './archive';
import { FsArchive } from './archive-fs';
import { S3Archive } from './archive-s3';
import { resolveSecret } from '../trust/secrets';
import { statePath } from '../runtime/state-dir';

export async function openArchive(a: Archive): Promise<BinlogArchive> {
  if (a.kind === 'fs') return new FsArchive(a.dir);
  const [accessKeyId, secretAccessKey] = await Promise.all([
    resolveSecret(a.accessKeyId),
    resolveSecret(a.secretAccessKey),
  ]);
  return new S3Archive({
    bucket: a.bucket,
    prefix: a.prefix,
    endpoint: a.endpoint,
    region: a.region,
    forcePathStyle: a.forcePathStyle,
    credentials: { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! },
  });
}

/** Where remote archive files are copied before they are read (per recovery, on this host). */
export function stagingDirFor(a: Archive, recoveryId: string): string {
  return a.kind === 's3' && a.stagingDir ? join(a.stagingDir, recoveryId) : statePath('staging', recoveryId);
}
