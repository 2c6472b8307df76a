// The deliveries the webhook has accepted, remembered on disk (one JSON line each, fsynced) for as
// long as a delivery's signed timestamp is accepted, and beyond Temporal's retention of the run: a
// captured delivery sent again starts nothing new, across webhook restarts too.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

interface Delivery {
  digest: string;
  workflowId: string;
  at: number;
}

export const deliveryDigest = (rawBody: Buffer) => createHash('sha256').update(rawBody).digest('hex');

export class DeliveryStore {
  private constructor(
    private readonly path: string,
    private readonly keepMs: number,
    private readonly seen: Map<string, Delivery>,
  ) {}

  /** Loads the file (a torn last line from a crash is skipped), drops what has expired, compacts it. */
  static async open(path: string, keepMs: number): Promise<DeliveryStore> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    const now = Date.now();
    const seen = new Map<string, Delivery>();
    for (const line of text.split('\n')) {
      try {
        const d = JSON.parse(line) as Delivery;
        if (typeof d.digest === 'string' && now - d.at <= keepMs) seen.set(d.digest, d);
      } catch {
        /* a torn line */
      }
    }
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, [...seen.values()].map((d) => `${JSON.stringify(d)}\n`).join(''), { mode: 0o600 });
    await rename(tmp, path);
    return new DeliveryStore(path, keepMs, seen);
  }

  /** The run a delivery with this body started, if it was accepted before. */
  get(digest: string): string | undefined {
    const d = this.seen.get(digest);
    return d && Date.now() - d.at <= this.keepMs ? d.workflowId : undefined;
  }

  /** Remembers a delivery; returns once it is on disk. */
  async remember(digest: string, workflowId: string): Promise<void> {
    const d = { digest, workflowId, at: Date.now() };
    this.seen.set(digest, d);
    const f = await open(this.path, 'a', 0o600);
    try {
      await f.write(`${JSON.stringify(d)}\n`);
      await f.sync();
    } finally {
      await f.close();
    }
  }
}
