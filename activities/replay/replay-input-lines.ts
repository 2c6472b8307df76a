// Follows the text a `mysqlbinlog | mysql` pipe feeds the client, line by line, and remembers on which
// line each transaction starts: the client reports an error as "ERROR n (state) at line N", so under
// force every skipped statement can be named by its transaction's GTID. Only lines that can name a
// transaction are decoded (MariaDB's "# … GTID d-s-n" event comment, MySQL's SET GTID_NEXT), so a
// gigabyte of base64 passes at memory speed.
const NL = 0x0a;
const HASH = 0x23; // '#'
const S = 0x53; // 'S'
const MARIADB_GTID = /\tGTID (\d+-\d+-\d+)/;
const MYSQL_GTID = /^SET @@SESSION\.GTID_NEXT= '([0-9a-f-]{36}:\d+)'/i;

export class InputLines {
  /** Line number (1-based) of the next byte fed. */
  private line = 1;
  /** The start of a line cut by a chunk boundary, when that line may name a transaction. */
  private partial: Buffer | null = null;
  private atLineStart = true;
  private readonly lines: number[] = [];
  private readonly gtids: string[] = [];

  feed(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NL, start);
      const end = nl < 0 ? chunk.length : nl;
      if (this.partial) this.partial = Buffer.concat([this.partial, chunk.subarray(start, end)]);
      else if (this.atLineStart && (chunk[start] === HASH || chunk[start] === S))
        this.partial = Buffer.from(chunk.subarray(start, end));
      if (nl < 0) {
        this.atLineStart = false;
        return;
      }
      if (this.partial) this.inspect(this.partial.toString('latin1'));
      this.partial = null;
      this.atLineStart = true;
      this.line++;
      start = nl + 1;
    }
  }

  private inspect(text: string): void {
    const m = text.charCodeAt(0) === HASH ? MARIADB_GTID.exec(text) : MYSQL_GTID.exec(text);
    if (!m?.[1]) return;
    this.lines.push(this.line);
    this.gtids.push(m[1]);
  }

  /** The transaction that input line `line` belongs to (the last one started at or before it). */
  gtidAt(line: number): string | null {
    let lo = 0;
    let hi = this.lines.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.lines[mid]! <= line) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? null : this.gtids[found]!;
  }
}

/** The client's `ERROR n (state) at line N: message` lines, each with the transaction it hit. */
export function errorsByTransaction(stderr: string, lines: InputLines): { gtid: string; error: string }[] {
  const out: { gtid: string; error: string }[] = [];
  for (const m of stderr.matchAll(/^(ERROR \d+ \([^)]*\)) at line (\d+): (.*)$/gm))
    out.push({ gtid: lines.gtidAt(Number(m[2])) ?? 'unknown', error: `${m[1]}: ${m[3]}` });
  return out;
}
