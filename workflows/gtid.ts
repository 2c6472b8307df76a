// GTID arithmetic shared by workflows (validation, plans) and activities. Pure code: no Node built-ins.
//
// MariaDB GTIDs are `domain-server-seq`; a position is a list with one GTID per domain.
// MySQL GTIDs are `uuid:n`; a set is `uuid:1-5:7,uuid2:1-3`.

export interface MariadbGtid {
  domain: number;
  server: number;
  seq: bigint;
}

const MARIADB_GTID = /^(\d{1,10})-(\d{1,10})-(\d{1,20})$/;
const MYSQL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseMariadbGtid(text: string): MariadbGtid {
  const m = MARIADB_GTID.exec(text.trim());
  if (!m)
    throw new Error(`not a MariaDB GTID (domain-server-sequence, e.g. 0-1-42): ${JSON.stringify(text)}`);
  return { domain: Number(m[1]), server: Number(m[2]), seq: BigInt(m[3]!) };
}

export function formatMariadbGtid(g: MariadbGtid): string {
  return `${g.domain}-${g.server}-${g.seq}`;
}

/** `0-1-5,1-2-9` → map domain → GTID. Empty text is the empty position. */
export function parseMariadbGtidList(text: string): Map<number, MariadbGtid> {
  const out = new Map<number, MariadbGtid>();
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const g = parseMariadbGtid(part);
    if (out.has(g.domain))
      throw new Error(`GTID list names domain ${g.domain} twice: ${JSON.stringify(text)}`);
    out.set(g.domain, g);
  }
  return out;
}

export function formatMariadbGtidList(list: Map<number, MariadbGtid>): string {
  return [...list.values()]
    .sort((a, b) => a.domain - b.domain)
    .map(formatMariadbGtid)
    .join(',');
}

/** True when the position `pos` already includes `gtid` (same domain, sequence at or past it). */
export function mariadbPositionIncludes(pos: string, gtid: string): boolean {
  const g = parseMariadbGtid(gtid);
  const have = parseMariadbGtidList(pos).get(g.domain);
  return have !== undefined && have.seq >= g.seq;
}

/** Advances a GTID position by one applied transaction. */
export function mariadbPositionAdvance(pos: Map<number, MariadbGtid>, gtid: MariadbGtid): void {
  const have = pos.get(gtid.domain);
  if (!have || have.seq < gtid.seq) pos.set(gtid.domain, gtid);
}

export function isMariadbGtid(text: string): boolean {
  return MARIADB_GTID.test(text.trim());
}

/** A single MySQL GTID `uuid:n`. */
export function isMysqlGtid(text: string): boolean {
  const [uuid, n, extra] = text.trim().split(':');
  return extra === undefined && !!uuid && MYSQL_UUID.test(uuid) && !!n && /^[1-9]\d{0,18}$/.test(n);
}

/** A MySQL GTID set: `uuid:1-5:7,uuid2:3`. Empty is the empty set. */
export function isMysqlGtidSet(text: string): boolean {
  if (text.trim() === '') return true;
  return text.split(',').every((part) => {
    const [uuid, ...ranges] = part.trim().split(':');
    return (
      !!uuid &&
      MYSQL_UUID.test(uuid) &&
      ranges.length > 0 &&
      ranges.every((r) => /^[1-9]\d{0,18}(-[1-9]\d{0,18})?$/.test(r))
    );
  });
}

/** True when MySQL GTID set `set` contains the single GTID `uuid:n`. */
export function mysqlSetIncludes(set: string, gtid: string): boolean {
  const [uuid, nText] = gtid.trim().split(':');
  const n = BigInt(nText ?? '0');
  for (const part of set.split(',')) {
    const [u, ...ranges] = part.trim().split(':');
    if (u?.toLowerCase() !== uuid?.toLowerCase()) continue;
    for (const r of ranges) {
      const [a, b] = r.split('-');
      if (BigInt(a!) <= n && n <= BigInt(b ?? a!)) return true;
    }
  }
  return false;
}

/** Two GTID sets (either flavor's comma-separated text) hold the same members, in any order. */
export function sameGtidSet(a: string, b: string): boolean {
  const members = (s: string) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
      .sort()
      .join(',');
  return members(a) === members(b);
}
