// Taking a real stream backup for the tests: `mariadb-backup --backup --stream=xbstream`, plain or
// piped through `zstd -c` / `gzip -c` into a file, as operators write them (one helper for every world).
import { createWriteStream } from 'node:fs';
import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';

export type StreamCompression = 'none' | 'zstd' | 'gzip';

/** Streams a backup of the server at `socket` into `file`; `tmp` is mariadb-backup's own scratch dir. */
export async function takeStreamBackup(
  socket: string,
  file: string,
  compression: StreamCompression,
  tmp: string,
): Promise<void> {
  const backup = spawn(
    'mariadb-backup',
    [
      '--no-defaults',
      '--backup',
      `--socket=${socket}`,
      '--user=root',
      '--stream=xbstream',
      `--target-dir=${tmp}`,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const done = new Promise<number | null>((resolve, reject) => {
    backup.on('error', reject);
    backup.on('close', resolve);
  });
  if (compression === 'none') await pipeline(backup.stdout, createWriteStream(file));
  else {
    const z = spawn(compression, ['-c', '-q'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const zDone = new Promise<number | null>((r) => z.on('close', r));
    await Promise.all([pipeline(backup.stdout, z.stdin), pipeline(z.stdout, createWriteStream(file))]);
    if ((await zDone) !== 0) throw new Error(`${compression} failed`);
  }
  const code = await done;
  if (code !== 0) throw new Error(`mariadb-backup --backup --stream=xbstream exited with ${code}`);
}
