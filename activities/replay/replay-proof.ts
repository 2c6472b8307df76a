// The proof after replay: the restored server's own binlog (it logs every applied transaction under
// its original GTID, in MIXED format, as the source did) is compared with the archive window — every
// GTID of the window applied exactly once, in order, none renumbered, none missing, none extra, each
// with the archive's row events. Both binlogs are read side by side as streams, domain by domain
// (parallel apply may interleave domains differently), so a window of any size is proved in memory
// of its own. No proof, no success: any difference the replay cannot account for fails the run.
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { isMariadbGtid, parseMariadbGtid } from '../../workflows/gtid';
import { binlogTransactions, type BinlogTransaction } from '../archive/binlog-scan';
import { keepAlive } from '../runtime/command';
import { stateIncludes } from './replay-window';
import type { Endpoint } from '../../workflows/schemas';
import type { BinlogArchive } from '../archive/archive';
import { localCopy } from '../archive/archive-index';
import type { TemporaryServerSpec } from '../mysql/mysqld';
import { verifyAgainstPlan } from './replay-common';
import type { ReplayPlan } from './replay-plan';
import type { SqlPools } from '../mysql/sql';
import { failure } from '../../workflows/failures';
import { classify, type FilterClass } from './replay-filter';

const LISTED = 10;

export interface ReplayProof {
  holds: boolean;
  /** Transactions of the window (after the backup, through the stop GTID). */
  expected: number;
  /** Found in the restored binlog, each once, in order, with the archive's content. */
  applied: number;
  first: string | null;
  last: string | null;
  /** What was compared for row changes: every row event, or (other packing on the source) row statements. */
  compared: 'row events' | 'row statements';
  /**
   * Statement-format transactions the restored server applied without logging them: a statement that
   * changed no row there, one on temporary tables only, the non-transactional part of a transaction
   * that rolled back. No binlog shows them; the table fingerprints cover what they did.
   */
  notLogged: { count: number; gtids: string[] };
  /** Transactions force skipped (all or part), each with the client's error. */
  skippedByForce: { gtid: string; error: string }[];
  /** The first differences the replay cannot account for (empty when the proof holds). */
  problems: string[];
  /**
   * A replay restricted to chosen tables (replay-filter.ts): `expected` counts the window's
   * transactions that touch them; those the filter left out are counted here, the first ones named.
   */
  filter?: { tables: string[]; leftOut: number; gtids: string[]; partly: number };
}

export interface ProofRequest {
  /** Local paths of the window's archived files, in order (verified by the replay). */
  archiveFiles: string[];
  /** The backup's GTID state: the window starts after it. */
  startGtid: string;
  stopGtid: string;
  rowPacking: 'default' | 'other';
  /** The restored server: its datadir and binlog basename (its binlog is read where it lies). */
  restored: { datadir: string; binlogBasename: string; endpoint: Endpoint };
  /** Errors force skipped, by GTID (the pipe maps each client error to its transaction). */
  forced?: { gtid: string; error: string }[];
  /** The replay applied only these tables (`schema.table`): the proof covers that set. */
  only?: string[];
}

type Tx = BinlogTransaction & { cls?: FilterClass };
/** Where a GTID's sequence runs: a MariaDB domain, or a MySQL server uuid. */
const domainOf = (gtid: string) =>
  isMariadbGtid(gtid) ? `d${parseMariadbGtid(gtid).domain}` : (gtid.split(':')[0] ?? '').toLowerCase();
const seqOf = (gtid: string) =>
  isMariadbGtid(gtid) ? parseMariadbGtid(gtid).seq : BigInt(gtid.split(':')[1] ?? 0);

/** How one archived transaction and its restored counterpart differ, or null when they agree. */
function contentDiffers(a: Tx, r: Tx, packing: ProofRequest['rowPacking']): string | null {
  const rows = (t: Tx) => (packing === 'default' ? t.rowEvents : t.rowStatements);
  const what = packing === 'default' ? 'row events' : 'row statements';
  if (a.queries === 0) {
    // Row format on the source: the restored server logs the very same rows.
    if (r.queries !== 0 || rows(r) !== rows(a))
      return `archive has ${rows(a)} ${what}, restored has ${rows(r)} ${what} and ${r.queries} statement(s)`;
    return null;
  }
  // Statements on the source: an unsafe one may be logged as rows by the restored server (never the
  // other way), so it has at most as many statements, at least as many row events, and not nothing.
  if (r.queries > a.queries || r.rowEvents < a.rowEvents || r.queries + r.rowEvents === 0)
    return `archive has ${a.queries} statement(s) and ${a.rowEvents} row event(s), restored has ${r.queries} and ${r.rowEvents}`;
  return null;
}

class Comparison {
  private readonly archive = new Map<string, Tx[]>();
  private readonly restored = new Map<string, Tx[]>();
  readonly proof: ReplayProof;
  private readonly forced: Map<string, string>;

  constructor(private readonly req: Omit<ProofRequest, 'restored'>) {
    this.forced = new Map((req.forced ?? []).map((f) => [f.gtid, f.error]));
    this.proof = {
      holds: false,
      expected: 0,
      applied: 0,
      first: null,
      last: null,
      compared: req.rowPacking === 'default' ? 'row events' : 'row statements',
      notLogged: { count: 0, gtids: [] },
      skippedByForce: [],
      problems: [],
      ...(req.only ? { filter: { tables: req.only, leftOut: 0, gtids: [], partly: 0 } } : {}),
    };
  }

  private problem(text: string): void {
    if (this.proof.problems.length < LISTED) this.proof.problems.push(text);
    else if (this.proof.problems.length === LISTED) this.proof.problems.push('… and more');
  }

  addArchive(t: Tx): void {
    if (this.req.only) t.cls = classify(t, this.req.only);
    // What the filter leaves out, or may, is expected only once it turns out applied.
    if (t.cls !== 'filtered' && t.cls !== 'maybe') {
      this.proof.expected++;
      this.proof.first ??= t.gtid;
      this.proof.last = t.gtid;
    }
    this.queue(this.archive, t);
  }

  addRestored(t: Tx): void {
    this.queue(this.restored, t);
  }

  private queue(m: Map<string, Tx[]>, t: Tx): void {
    const d = domainOf(t.gtid);
    let q = m.get(d);
    if (!q) m.set(d, (q = []));
    q.push(t);
    this.match(d);
  }

  /** Pairs the heads of one domain's queues: equal GTIDs are compared, the lower one is missing or extra. */
  private match(d: string): void {
    const a = this.archive.get(d);
    const r = this.restored.get(d);
    while (a?.length && r?.length) {
      const x = a[0]!;
      const y = r[0]!;
      const sx = seqOf(x.gtid);
      const sy = seqOf(y.gtid);
      if (sx === sy) {
        a.shift();
        r.shift();
        this.pair(x, y);
      } else if (sx < sy) this.missing(a.shift()!);
      else this.extra(r.shift()!);
    }
  }

  private pair(a: Tx, r: Tx): void {
    if (a.gtid !== r.gtid) {
      this.problem(`${a.gtid} was applied as ${r.gtid} (renumbered: another server id)`);
      return;
    }
    if (a.cls === 'filtered') {
      this.problem(
        `${a.gtid} touches none of the chosen tables (${a.tables.join(', ') || a.statement}) but was applied`,
      );
      return;
    }
    if (a.cls === 'maybe') this.proof.expected++;
    if (a.cls === 'partly') this.proof.filter!.partly++;
    // Partly chosen: only the chosen tables' row events were applied, so fewer, but never none.
    const diff =
      a.cls === 'partly'
        ? r.rowEvents > a.rowEvents || r.rowEvents + r.queries === 0
          ? `archive has ${a.rowEvents} row event(s) over ${a.tables.join(', ')}, restored has ${r.rowEvents}`
          : null
        : contentDiffers(a, r, this.req.rowPacking);
    const forcedError = this.forced.get(a.gtid);
    if (diff && forcedError) this.proof.skippedByForce.push({ gtid: a.gtid, error: forcedError });
    else if (diff) this.problem(`${a.gtid} differs from the archive: ${diff}`);
    this.proof.applied++;
  }

  private missing(a: Tx): void {
    const f = this.proof.filter;
    if (f && (a.cls === 'filtered' || a.cls === 'maybe')) {
      f.leftOut++;
      if (f.gtids.length < LISTED) f.gtids.push(a.gtid);
      return;
    }
    const forcedError = this.forced.get(a.gtid);
    if (forcedError) {
      this.proof.skippedByForce.push({ gtid: a.gtid, error: forcedError });
      return;
    }
    // A statement-format transaction may apply without a trace in the restored binlog (no row changed
    // there, temporary tables only, non-transactional writes rolled back around); a failed one would
    // have stopped the replay. A row-format or DDL transaction is always logged: its absence is a loss.
    if (a.queries > 0 && a.rowEvents === 0 && !a.ddl) {
      this.proof.notLogged.count++;
      if (this.proof.notLogged.gtids.length < LISTED) this.proof.notLogged.gtids.push(a.gtid);
      return;
    }
    this.problem(
      `${a.gtid} (${a.statement || `${a.rowEvents} row event(s)`}) is in the archive window but was never applied`,
    );
  }

  private extra(r: Tx): void {
    this.problem(
      `${r.gtid} was applied but is not in the archive window (${r.statement || `${r.rowEvents} row event(s)`}): renumbered, applied twice or written by someone else`,
    );
  }

  finish(): ReplayProof {
    for (const q of this.archive.values()) while (q.length) this.missing(q.shift()!);
    for (const q of this.restored.values()) while (q.length) this.extra(q.shift()!);
    this.proof.holds = this.proof.problems.length === 0;
    return this.proof;
  }
}

/** The window's transactions: after the backup's GTID state, in file order, through the stop GTID. */
async function* windowTransactions(req: Omit<ProofRequest, 'restored'>): AsyncGenerator<Tx> {
  for (const path of req.archiveFiles)
    for await (const t of binlogTransactions(path)) {
      if (stateIncludes(req.startGtid, t.gtid)) continue;
      yield t;
      if (t.gtid === req.stopGtid) return;
    }
}

/** The restored server's binlog files, in order (its index lists them; relative names are in the datadir). */
async function restoredBinlogs(r: ProofRequest['restored']): Promise<string[]> {
  const index = await readFile(join(r.datadir, `${r.binlogBasename}.index`), 'utf8');
  return index
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((f) => (isAbsolute(f) ? f : join(r.datadir, f.replace(/^\.\//, ''))));
}

async function* allTransactions(paths: string[]): AsyncGenerator<Tx> {
  for (const path of paths) yield* binlogTransactions(path);
}

/** Compares the restored server's binlog with the archive window (the server's current file flushed). */
export async function proveReplay(sql: SqlPools, req: ProofRequest): Promise<ReplayProof> {
  // Close the current binlog file, so every applied transaction is in a complete file.
  await sql.query(req.restored.endpoint, 'FLUSH BINARY LOGS');
  return compareWithArchive(req, await restoredBinlogs(req.restored));
}

/** Compares binlog files of a restored server with the archive window; see the file comment. */
export async function compareWithArchive(
  req: Omit<ProofRequest, 'restored'>,
  restoredFiles: string[],
): Promise<ReplayProof> {
  const cmp = new Comparison(req);
  const archive = windowTransactions(req);
  const restored = allTransactions(restoredFiles);
  let a = await archive.next();
  let r = await restored.next();
  while (!a.done || !r.done) {
    if (!a.done) cmp.addArchive(a.value);
    if (!r.done) cmp.addRestored(r.value);
    [a, r] = await Promise.all([a.done ? a : archive.next(), r.done ? r : restored.next()]);
  }
  return cmp.finish();
}

/** The proof in a step's evidence: one line when it holds, the differences when it does not. */
export function describeProof(p: ReplayProof): string[] {
  const span = p.first ? ` (${p.first} … ${p.last})` : '';
  const f = p.filter;
  const lines = [
    `proof: ${p.applied + p.notLogged.count} of ${p.expected} transactions of the window${f ? ` touching ${f.tables.join(', ')}` : ''} applied once, in order${span}, ${p.compared} equal${p.holds ? '' : ' — DOES NOT HOLD'}`,
  ];
  if (f)
    lines.push(
      `proof: ${f.leftOut} transaction(s) of other tables left out by the filter${f.gtids.length ? ` (${f.gtids.join(', ')}${f.leftOut > f.gtids.length ? ', …' : ''})` : ''}${f.partly ? `; ${f.partly} touching other tables too applied with the chosen tables' rows only` : ''}`,
    );
  if (p.notLogged.count)
    lines.push(
      `proof: ${p.notLogged.count} statement-format transaction(s) applied without a trace in the restored binlog (no row changed there, temporary tables only, or rolled back around a non-transactional write): ${p.notLogged.gtids.join(', ')}${p.notLogged.count > p.notLogged.gtids.length ? ', …' : ''}; the table fingerprints cover them`,
    );
  for (const s of p.skippedByForce) lines.push(`proof: force skipped ${s.gtid}: ${s.error}`);
  for (const x of p.problems) lines.push(`proof: ${x}`);
  return lines;
}

/** Proves the replay or fails the step for good, saying what differs. */
export async function requireProof(
  sql: SqlPools,
  req: ProofRequest,
): Promise<ReplayProof & { evidence: string[] }> {
  const proof = await keepAlive({ doing: 'proving the replay', proving: req.stopGtid }, () =>
    proveReplay(sql, req),
  );
  const evidence = describeProof(proof);
  if (!proof.holds)
    throw failure(
      'ProofFailed',
      `the replay cannot be proved: the restored server's transactions differ from the archive window: ${proof.problems.join('; ')}. The restored data is not trusted`,
      proof,
    );
  return { ...proof, evidence };
}

/** What a runbook asks of the proof: the plan, where the files were staged, and the restored server. */
export interface ProveRequest {
  plan: ReplayPlan;
  stagingDir: string;
  server: Pick<TemporaryServerSpec, 'datadir' | 'binlogBasename'>;
  endpoint: Endpoint;
  forced?: { gtid: string; error: string }[];
  /** A replay restricted to these tables (`schema.table`). */
  only?: string[];
}

/** The proof of one runbook's replay: the plan's files where the replay read them, the restored binlog. */
export async function proveRestoredReplay(
  sql: SqlPools,
  archive: BinlogArchive,
  req: ProveRequest,
): Promise<ReplayProof & { evidence: string[] }> {
  const { plan } = req;
  // The proof reads the bytes the plan verified, checked again: a staged copy changed or planted
  // since proves nothing.
  const archiveFiles = plan.window?.files
    ? await verifyAgainstPlan(
        archive,
        plan.window.files,
        req.stagingDir,
        'The replay cannot be proved against it: the restored data is not trusted',
      )
    : await Promise.all(plan.files.map((name) => localCopy(archive, name, req.stagingDir)));
  return requireProof(sql, {
    archiveFiles,
    startGtid: plan.startGtid,
    stopGtid: plan.stopGtid!,
    rowPacking: plan.window?.rowPacking ?? 'default',
    restored: { ...req.server, endpoint: req.endpoint },
    forced: req.forced,
    ...(req.only ? { only: req.only } : {}),
  });
}
