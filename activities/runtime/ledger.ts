// The checkpoint ledger: one JSON file per recovery, kept *beside* the datadir it describes (so it
// survives the datadir being replaced), written atomically and durably (activities/runtime/durable-file.ts).
// A step writes its checkpoint only after its work is complete: a half-done step has no checkpoint
// and is redone.
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { SLUG_PATTERN } from '../../workflows/schemas';
import { appendDurably, writeFileDurably } from './durable-file';
import { failure } from '../../workflows/failures';

export type CheckpointRecord = Record<string, unknown> & { at: string };

/** The directory of the ledger kept beside `datadir` (e.g. /var/lib/mysql → /var/lib/mysql.runbook-ledger). */
export function ledgerDirBeside(datadir: string): string {
  return join(dirname(datadir), `${basename(datadir)}.runbook-ledger`);
}

export class Ledger {
  constructor(private readonly dir: string) {}

  /** The ledger that lives next to `datadir` (e.g. /var/lib/mysql → /var/lib/mysql.runbook-ledger). */
  static besideDatadir(datadir: string): Ledger {
    return new Ledger(ledgerDirBeside(datadir));
  }

  private file(recoveryId: string): string {
    if (!SLUG_PATTERN.test(recoveryId))
      throw failure(
        'InvalidInput',
        `not a recoveryId: ${JSON.stringify(recoveryId.slice(0, 120))}; no ledger file is named by it`,
      );
    return join(this.dir, `${recoveryId}.json`);
  }

  async readAll(recoveryId: string): Promise<Record<string, CheckpointRecord>> {
    try {
      return JSON.parse(await readFile(this.file(recoveryId), 'utf8')) as Record<string, CheckpointRecord>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
  }

  async read(recoveryId: string, step: string): Promise<CheckpointRecord | undefined> {
    return (await this.readAll(recoveryId))[step];
  }

  async write(recoveryId: string, step: string, record: Record<string, unknown>): Promise<CheckpointRecord> {
    await mkdir(this.dir, { recursive: true });
    const all = await this.readAll(recoveryId);
    const entry = { ...record, at: new Date().toISOString() };
    all[step] = entry;
    await writeFileDurably(this.file(recoveryId), JSON.stringify(all, null, 2));
    return entry;
  }

  async remove(recoveryId: string, step: string): Promise<void> {
    const all = await this.readAll(recoveryId);
    if (!(step in all)) return;
    delete all[step];
    await mkdir(this.dir, { recursive: true });
    await writeFileDurably(this.file(recoveryId), JSON.stringify(all, null, 2));
  }

  /** Append-only journal of what was actually done (an audit trail; tests count copy-backs in it). */
  async journal(recoveryId: string, line: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await appendDurably(join(this.dir, `${recoveryId}.journal`), `${new Date().toISOString()} ${line}\n`);
  }

  async readJournal(recoveryId: string): Promise<string[]> {
    const text = await readFile(join(this.dir, `${recoveryId}.journal`), 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean);
  }
}
