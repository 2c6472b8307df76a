// Writes that survive a host crash, for everything a later attempt trusts (checkpoints, journals,
// the archive and its index, a datadir moved aside): the bytes are synced before the rename that
// publishes them, and the directory is synced after it, so "checkpoint last" holds across a power
// cut and not only in program order. A crash leaves the old file or the new one, never half of one.
import { randomUUID } from 'node:crypto';
import { copyFile, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** fsync a directory: makes the creations, renames and removals inside it durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Publishes `tmp` (its bytes already on disk) as `target`; `tmp` is removed if the rename fails. */
async function publish(tmp: string, target: string): Promise<void> {
  await rename(tmp, target).catch(async (err: unknown) => {
    await rm(tmp, { force: true });
    throw err;
  });
  await syncDir(dirname(target));
}

const tmpName = (target: string) => `${target}.${randomUUID().slice(0, 8)}.tmp`;

/** Replaces `target` with `data`, atomically and durably (mode 0600). */
export async function writeFileDurably(target: string, data: string | Uint8Array): Promise<void> {
  const tmp = tmpName(target);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync(); // on the handle that wrote: the bytes reach the disk before the rename publishes them
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await publish(tmp, target);
}

/** Copies `source` to `target`, atomically and durably. */
export async function copyFileDurably(source: string, target: string): Promise<void> {
  const tmp = tmpName(target);
  await copyFile(source, tmp);
  await syncFile(tmp).catch(async (err: unknown) => {
    await rm(tmp, { force: true });
    throw err;
  });
  await publish(tmp, target);
}

/** Appends `text` to `file` and syncs it (an audit line survives the crash that follows it). */
export async function appendDurably(file: string, text: string): Promise<void> {
  const fh = await open(file, 'a', 0o600);
  try {
    await fh.appendFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Renames a directory (or file) and syncs the parents of both names. */
export async function renameDurably(from: string, to: string): Promise<void> {
  await rename(from, to);
  await syncDir(dirname(to));
  if (dirname(from) !== dirname(to)) await syncDir(dirname(from));
}
