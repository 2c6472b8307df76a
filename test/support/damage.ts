// Damaging archived binlog files the ways disks, networks and people do, for refusal tests: a bit
// flipped inside an event body (header and length intact: only the event's CRC32 shows it), a file cut
// short, and an event edited with its checksum recomputed (every event valid, yet not the bytes that
// were indexed). Each returns where it struck, so a test can check the refusal names it.
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { eventBoundaries } from '../../activities/archive/binlog-scan';

const HEADER = 19;

/** The event of `path` that holds the middle of the file and has a body of at least `min` bytes. */
async function middleEvent(path: string, min = 40): Promise<{ start: number; end: number }> {
  const starts = [...(await eventBoundaries(path))].sort((a, b) => a - b);
  const bytes = await readFile(path);
  const middle = bytes.length / 2;
  for (let i = starts.findIndex((s) => s >= middle); i >= 0 && i < starts.length - 1; i++) {
    const [start, end] = [starts[i]!, starts[i + 1]!];
    if (end - start >= HEADER + min + 4) return { start, end };
  }
  throw new Error(`no event with a body of ${min} bytes after the middle of ${path}`);
}

/** Flips one bit inside an event body; returns the event's offset. */
export async function flipBitInEventBody(path: string): Promise<number> {
  const { start } = await middleEvent(path);
  const bytes = await readFile(path);
  bytes[start + HEADER + 20] = bytes[start + HEADER + 20]! ^ 0x10;
  await writeFile(path, bytes);
  return start;
}

/** Changes a byte inside an event body and writes a correct CRC32 for it: a valid, different event. */
export async function editEventKeepingChecksum(path: string): Promise<number> {
  const { start, end } = await middleEvent(path);
  const bytes = await readFile(path);
  bytes[start + HEADER + 20] = bytes[start + HEADER + 20]! ^ 0x10;
  bytes.writeUInt32LE(crc32(bytes.subarray(start, end - 4)), end - 4);
  await writeFile(path, bytes);
  return start;
}

/** Cuts the file inside the event at its middle; returns that event's offset. */
export async function cutInsideAnEvent(path: string): Promise<number> {
  const { start } = await middleEvent(path);
  await truncate(path, start + HEADER + 10);
  return start;
}
