// Reads the files of a replay window once, in order, and proves they are what the replay needs before
// anything is touched: every event's CRC32 (the only check that sees a damaged event body, since the
// index's own checksums were computed from whatever bytes were there), each file's sha256 against the
// index (changed after indexing), truncation, missing files, and the GTID chain — every file must
// start exactly where the previous one ended and every domain's sequence must go on without a hole. A
// file from another server is refused because its GTIDs do not continue the chain, not because of its
// server id (after a failover the archive legitimately continues on a new primary).
import { createHash, type Hash } from 'node:crypto';
import {
  isMariadbGtid,
  mariadbPositionIncludes,
  mysqlSetIncludes,
  parseMariadbGtid,
  parseMariadbGtidList,
  type MariadbGtid,
} from '../../workflows/gtid';
import { binlogSequence, type ArchivedFile } from '../archive/archive';
import type { ArchiveRead } from '../archive/archive-read';
import {
  BinlogDamaged,
  NotABinlog,
  scanBinlogStream,
  type BinlogFileSummary,
  type BinlogTransaction,
  type ScanOptions,
} from '../archive/binlog-scan';

/** A refusal the plan makes before anything is touched: bad or unreachable target, damage, gap. */
export class PlanError extends Error {
  override name = 'PlanError';
  constructor(
    message: string,
    readonly kind:
      'PlanRefused' | 'ArchiveDamaged' | 'ArchiveGap' | 'ArchiveForeign' | 'NoUsableBackup' = 'PlanRefused',
  ) {
    super(message);
  }
}

/** The target lies at or before the backup's own point: an older backup may reach it (backup choice). */
export class TargetBeforeBackup extends PlanError {}

/** Where the backup's consistent point is in the binlogs. */
export interface BackupCoordinates {
  file: string;
  position: number;
  gtid: string;
}

/** What the plan read and verified of one file: the replay checks the same bytes again. */
export interface VerifiedFile {
  name: string;
  /** Bytes read and verified (the whole file as it was when planned). */
  size: number;
  sha256: string;
  checksums: 'crc32' | 'none';
}

/** Is `gtid` inside the GTID state `state`? MariaDB positions and MySQL sets alike. */
export function stateIncludes(state: string, gtid: string): boolean {
  if (!state) return false;
  return isMariadbGtid(gtid) ? mariadbPositionIncludes(state, gtid) : mysqlSetIncludes(state, gtid);
}

/** The running MariaDB GTID position of a window (domain → last GTID), with hole detection. */
class GtidChain {
  readonly pos = new Map<number, MariadbGtid>();

  constructor(start: string) {
    for (const [d, g] of parseMariadbGtidList(start)) this.pos.set(d, g);
  }

  /** Applies one transaction; returns a description of the hole before it, if any. */
  advance(gtid: string): string | null {
    const g = parseMariadbGtid(gtid);
    const have = this.pos.get(g.domain);
    this.pos.set(g.domain, g);
    if (!have || g.seq === have.seq + 1n) return null;
    if (g.seq <= have.seq)
      return `${gtid} comes after ${have.domain}-${have.server}-${have.seq}: a sequence number repeated or going back`;
    const missing = g.seq - have.seq - 1n;
    return `${gtid} follows ${have.domain}-${have.server}-${have.seq}: ${missing} transaction(s) of domain ${g.domain} missing`;
  }

  /** Does a file whose Gtid_list is `before` start exactly here? The differing domains if not. */
  differences(before: string): string[] {
    const list = parseMariadbGtidList(before);
    const out: string[] = [];
    for (const [d, g] of this.pos) {
      const b = list.get(d);
      if (!b || b.seq !== g.seq)
        out.push(
          `domain ${d}: ${b ? `${b.domain}-${b.server}-${b.seq}` : 'absent'} instead of ${d}-${g.server}-${g.seq}`,
        );
    }
    for (const [d, b] of list)
      if (!this.pos.has(d))
        out.push(`domain ${d}: ${b.domain}-${b.server}-${b.seq} unknown to the previous file`);
    return out;
  }

  text(): string {
    return [...this.pos.values()]
      .sort((a, b) => a.domain - b.domain)
      .map((g) => `${g.domain}-${g.server}-${g.seq}`)
      .join(',');
  }
}

/** Hashes every chunk, and also the first `prefix` bytes on their own (an index entry of a growing file). */
class Digests {
  private readonly whole: Hash = createHash('sha256');
  private readonly head: Hash | null;
  private seen = 0;
  headDigest: string | null = null;

  constructor(private readonly prefix: number | null) {
    this.head = prefix === null ? null : createHash('sha256');
    if (prefix === 0) this.headDigest = this.head!.digest('hex');
  }

  update(chunk: Buffer): void {
    this.whole.update(chunk);
    if (this.head && this.headDigest === null) {
      const take = Math.min(chunk.length, this.prefix! - this.seen);
      this.head.update(chunk.subarray(0, take));
      if (this.seen + take === this.prefix) this.headDigest = this.head.digest('hex');
    }
    this.seen += chunk.length;
  }

  private wholeDigest: string | null = null;

  digest(): string {
    this.wholeDigest ??= this.whole.digest('hex');
    return this.wholeDigest;
  }
}

export interface WindowTransaction extends BinlogTransaction {
  file: string;
}

/**
 * Reads the window's files in order (from the backup's file on), verifying each as above, and hands
 * every transaction after the backup's consistent point to the caller, which decides where the window
 * ends (`close`). Every file is read to its end, so its sha256 can be compared with the index. What
 * `allowGaps` may accept (a missing file, a hole in the chain) is collected in `gaps`; damage, a
 * changed file and an archive that does not hold the backup's history are refused at once.
 */
export class WindowReader {
  private chain: GtidChain | null = null;
  private previous: ArchivedFile | null = null;
  private lastTx: WindowTransaction | null = null;
  private closed = false;
  private handingOut = true;
  private flavor: string | null = null;
  readonly verified: VerifiedFile[] = [];
  readonly gaps: string[] = [];
  readonly warnings: string[] = [];
  events = 0;
  /** Time of the last transaction the backup holds (Unix seconds), when its file shows it. */
  backupTime: number | null = null;

  constructor(private readonly backup: BackupCoordinates) {}

  /**
   * No transaction after this point is replayed: files are still read to their end (and verified),
   * but the chain is no longer followed, and transactions are handed out only when asked.
   */
  close(opts: { keepHandingOut?: boolean } = {}): void {
    this.closed = true;
    this.handingOut = opts.keepHandingOut ?? false;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Reads one file; `onTransaction` gets each transaction after the backup's point until close(). */
  async read(
    entry: ArchivedFile,
    source: ArchiveRead,
    onTransaction: (t: WindowTransaction) => void,
    onEventEnd?: (end: number) => void,
    onEvent?: ScanOptions['onEvent'],
  ): Promise<BinlogFileSummary> {
    this.checkSequence(entry);
    const digests = new Digests(entry.complete ? null : entry.size);
    const hashed = async function* (chunks: AsyncIterable<Buffer>) {
      for await (const c of chunks) {
        digests.update(c);
        yield c;
      }
    };
    const isBackupFile = this.previous === null;
    let atBackup: string | null = null;
    let first = true;
    let summary: BinlogFileSummary;
    try {
      summary = await scanBinlogStream(
        hashed(source.chunks),
        entry.size,
        (t, file) => {
          const tx: WindowTransaction = { ...t, file: entry.name };
          if (this.closed) {
            if (this.handingOut) onTransaction(tx);
            return;
          }
          if (first) this.startFile(entry, file);
          first = false;
          this.follow(tx);
          this.lastTx = tx;
          const inBackup = isBackupFile && !this.afterBackup(tx);
          if (inBackup) {
            if (tx.endPos <= this.backup.position) {
              atBackup = this.chainText();
              this.backupTime = tx.time;
            }
            return;
          }
          onTransaction(tx);
        },
        { name: entry.name, onEventEnd, onEvent },
      );
    } catch (err) {
      throw this.refusal(err, entry);
    }
    if (first && !this.closed) this.startFile(entry, summary);
    this.checkWhole(entry, summary, digests);
    if (isBackupFile) this.checkBackupPoint(atBackup ?? summary.gtidsBefore);
    this.events += summary.events;
    this.verified.push({
      name: entry.name,
      size: summary.size,
      sha256: digests.digest(),
      checksums: summary.checksums === 'crc32' ? 'crc32' : 'none',
    });
    if (summary.checksums !== 'crc32')
      this.warnings.push(
        `${entry.name} has no event checksums (binlog_checksum=NONE): a damaged event body in it cannot be detected`,
      );
    this.previous = entry;
    return summary;
  }

  /** The GTID chain as of the last transaction followed. */
  chainText(): string {
    return this.chain?.text() ?? '';
  }

  private checkSequence(entry: ArchivedFile): void {
    const prev = this.previous;
    if (!prev) return;
    const missing = binlogSequence(entry.name) - binlogSequence(prev.name) - 1;
    if (missing > 0) this.gaps.push(`${missing} file(s) missing between ${prev.name} and ${entry.name}`);
  }

  /** A file must be of the same kind as the window's and start where the chain is (MariaDB GTIDs). */
  private startFile(entry: ArchivedFile, s: BinlogFileSummary): void {
    if (this.flavor && s.flavor !== this.flavor)
      throw new PlanError(
        `archive file ${entry.name} was written by ${s.flavor === 'mysql' ? 'MySQL' : 'another server kind'} (${s.serverVersion}), the rest of the window by ${this.flavor}: it does not belong to this archive; nothing was touched`,
        'ArchiveForeign',
      );
    this.flavor ??= s.flavor;
    if (s.flavor === 'mysql') return this.checkMysqlContinuity(entry, s);
    if (s.flavor !== 'mariadb') return;
    if (!this.chain) {
      this.chain = new GtidChain(s.gtidsBefore);
      return;
    }
    const diff = this.chain.differences(s.gtidsBefore);
    if (diff.length)
      this.gaps.push(
        `${entry.name} does not continue ${this.previous?.name ?? 'the previous file'}: it starts after ${s.gtidsBefore || '(nothing)'}, but the chain is at ${this.chain.text()} (${diff.join('; ')})`,
      );
    // Follow the file's own view from here, so one break is reported once.
    this.chain = new GtidChain(s.gtidsBefore);
  }

  /** MySQL: the file's Previous_gtids must hold the previous file's last GTID and not the one after it. */
  private checkMysqlContinuity(entry: ArchivedFile, s: BinlogFileSummary): void {
    const last = this.lastTx?.gtid;
    if (!last || !this.previous || !/^[0-9a-f-]{36}:\d+$/i.test(last)) return;
    const [uuid, n] = last.split(':');
    const next = `${uuid}:${BigInt(n!) + 1n}`;
    if (!mysqlSetIncludes(s.gtidsBefore, last) || mysqlSetIncludes(s.gtidsBefore, next))
      this.gaps.push(
        `${entry.name} does not continue ${this.previous.name}: it starts after ${s.gtidsBefore || '(nothing)'}, but ${this.previous.name} ends at ${last}`,
      );
  }

  /** Follows the GTID chain through one transaction (MariaDB; MySQL files are checked by Previous_gtids). */
  private follow(tx: WindowTransaction): void {
    if (!this.chain || !isMariadbGtid(tx.gtid)) return;
    const hole = this.chain.advance(tx.gtid);
    if (hole) this.gaps.push(`${tx.file} at ${tx.startPos}: ${hole}`);
  }

  private afterBackup(tx: WindowTransaction): boolean {
    if (this.backup.gtid) return !stateIncludes(this.backup.gtid, tx.gtid);
    return tx.startPos >= this.backup.position;
  }

  private checkWhole(entry: ArchivedFile, s: BinlogFileSummary, d: Digests): void {
    if (entry.complete) {
      const now = d.digest();
      if (s.size !== entry.size || now !== entry.sha256)
        throw new PlanError(
          `archive file ${entry.name} changed after it was indexed (now ${s.size} bytes, sha256 ${now.slice(0, 12)}…; indexed ${entry.size} bytes, ${entry.sha256.slice(0, 12)}…). Re-fetch it from the source, or re-index the archive if the change is known to be legitimate; nothing was touched`,
          'ArchiveDamaged',
        );
      if (s.validEnd < s.size)
        throw new PlanError(
          `archive file ${entry.name} ends inside an event at offset ${s.validEnd} (${s.size} bytes): it was cut short. Re-fetch it from the source; nothing was touched`,
          'ArchiveDamaged',
        );
      return;
    }
    if (d.headDigest !== null && d.headDigest !== entry.sha256)
      throw new PlanError(
        `archive file ${entry.name} changed after it was indexed: its first ${entry.size} bytes are no longer the ones indexed. Re-fetch it from the source; nothing was touched`,
        'ArchiveDamaged',
      );
  }

  /** The archive must hold the backup's own history: the backup's GTID state at its binlog position. */
  private checkBackupPoint(atPoint: string): void {
    if (!this.backup.gtid || !this.backup.gtid.split(',').every((g) => isMariadbGtid(g))) return;
    const here = parseMariadbGtidList(atPoint);
    const differs = [...parseMariadbGtidList(this.backup.gtid).values()].filter(
      (g) => here.get(g.domain)?.seq !== g.seq,
    );
    if (differs.length)
      throw new PlanError(
        `the archive does not hold this backup's history: at ${this.backup.file}:${this.backup.position} the backup says GTID ${this.backup.gtid}, the archive says ${atPoint || '(none)'}. The archive belongs to another server, or the backup to another archive; nothing was touched`,
        'ArchiveForeign',
      );
  }

  private refusal(err: unknown, entry: ArchivedFile): unknown {
    const last = this.lastTx;
    const fallback = last
      ? `, or restore to ${last.gtid} (the last complete transaction before the damage, ${last.file}:${last.endPos})`
      : '';
    if (err instanceof BinlogDamaged)
      return new PlanError(
        `archive file ${entry.name} is damaged at offset ${err.offset}: ${err.what}. Re-fetch it from the source${fallback}; nothing was touched`,
        'ArchiveDamaged',
      );
    if (err instanceof NotABinlog)
      return new PlanError(`${err.message}; nothing was touched`, 'ArchiveDamaged');
    return err;
  }
}

/**
 * Reads and verifies a window given by binlog positions (runbooks without GTIDs, such as NDB's
 * epochs): every file from `from.file` through `to.file`, each in full, as the plan of a GTID window
 * does. Returns what was verified (the replay verifies the same bytes again) and how many
 * transactions lie between the two positions. Damage, a changed file and gaps are refused.
 */
export async function verifyPositionWindow(p: {
  files: ArchivedFile[];
  read: (f: ArchivedFile) => Promise<ArchiveRead>;
  from: { file: string; position: number };
  to: { file: string; position: number };
  allowGaps?: boolean;
}): Promise<{ verified: VerifiedFile[]; transactions: number; warnings: string[] }> {
  const first = p.files.findIndex((f) => f.name === p.from.file);
  const last = p.files.findIndex((f) => f.name === p.to.file);
  if (first < 0 || last < first)
    throw new PlanError(
      `the archive does not hold ${first < 0 ? p.from.file : p.to.file}, which the replay needs (${p.from.file}:${p.from.position} … ${p.to.file}:${p.to.position})`,
      'ArchiveGap',
    );
  const reader = new WindowReader({ file: p.from.file, position: p.from.position, gtid: '' });
  let transactions = 0;
  for (const entry of p.files.slice(first, last + 1))
    await reader.read(entry, await p.read(entry), (t) => {
      if (t.file === p.to.file && t.endPos > p.to.position) reader.close();
      else transactions++;
    });
  if (reader.gaps.length && !p.allowGaps)
    throw new PlanError(
      `the archive has gaps inside the replay window: ${reader.gaps.join('; ')}; nothing was touched`,
      'ArchiveGap',
    );
  return { verified: reader.verified, transactions, warnings: reader.warnings };
}
