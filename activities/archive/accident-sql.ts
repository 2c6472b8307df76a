// What a logged statement does to which tables, for the accident finder: DDL (DROP TABLE … a, b,
// TRUNCATE, RENAME, ALTER, CREATE OR REPLACE, DROP DATABASE) and STATEMENT-format DML (DELETE,
// UPDATE, INSERT/REPLACE). A tokenizer, not string surgery: comments (`#`, `-- `, `/* */`; the
// versioned `/*!…*/` and `/*M!…*/` are code and read as such), backquoted names (`` `a``b` ``),
// strings, keywords in any case. Names are compared exactly (schema.table), unqualified ones against
// the statement's default database (the Query event's db).
export type ChangeKind = 'drop' | 'truncate' | 'delete' | 'update' | 'insert' | 'ddl';

export interface TableName {
  schema: string;
  table: string;
}

export interface StatementEffect {
  kind: ChangeKind;
  /** The tables it changes (or drops, renames, alters). */
  tables: TableName[];
  /** DROP DATABASE: every table of this schema. */
  schema?: string;
  /** DELETE/UPDATE with neither WHERE nor LIMIT: every row of the table. */
  everyRow?: boolean;
  /** CREATE OR REPLACE TABLE: the existing table is dropped first. */
  replaces?: boolean;
  /** A TEMPORARY table: never the real one. */
  temporary?: boolean;
}

interface Tok {
  t: 'word' | 'quoted' | 'str' | 'punct';
  v: string;
  /** A quote never closed. */
  open?: boolean;
}

const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;

export function tokenize(sql: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '#' || (c === '-' && sql[i + 1] === '-' && (i + 2 >= n || /\s/.test(sql[i + 2]!)))) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const m = /^\/\*M?!\d*/.exec(sql.slice(i, i + 10));
      if (m)
        i += m[0].length; // versioned comment: its content is code, its end is skipped below
      else {
        const end = sql.indexOf('*/', i + 2);
        i = end < 0 ? n : end + 2;
      }
    } else if (c === '*' && sql[i + 1] === '/') i += 2;
    else if (c === '`') {
      let v = '';
      let j = i + 1;
      for (; j < n; j++) {
        if (sql[j] === '`') {
          if (sql[j + 1] === '`') {
            v += '`';
            j++;
          } else break;
        } else v += sql[j];
      }
      out.push(j < n ? { t: 'quoted', v } : { t: 'quoted', v, open: true });
      i = j + 1;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      for (; j < n; j++) {
        if (sql[j] === '\\') j++;
        else if (sql[j] === c) {
          if (sql[j + 1] === c) j++;
          else break;
        }
      }
      out.push({ t: 'str', v: sql.slice(i + 1, j) });
      i = j + 1;
    } else if (WORD.test(c)) {
      let j = i + 1;
      while (j < n && WORD.test(sql[j]!)) j++;
      out.push({ t: 'word', v: sql.slice(i, j) });
      i = j;
    } else {
      out.push({ t: 'punct', v: c });
      i++;
    }
  }
  return out;
}

/** Reads `schema.table` or `table` at `i`: the name and the index after it, or null. */
function nameAt(toks: Tok[], i: number, db: string | null): { name: TableName | null; next: number } | null {
  const a = toks[i];
  if (!a || (a.t !== 'word' && a.t !== 'quoted')) return null;
  const dot = toks[i + 1];
  const b = toks[i + 2];
  if (dot?.t === 'punct' && dot.v === '.' && b && (b.t === 'word' || b.t === 'quoted'))
    return { name: { schema: a.v, table: b.v }, next: i + 3 };
  return { name: db === null ? null : { schema: db, table: a.v }, next: i + 1 };
}

/**
 * A table name as typed by an operator: `schema.table`, either part backquoted when it needs it
 * (`` `my-db`.`order items` ``). Null when it is not exactly one qualified name.
 */
export function parseTableName(text: string): TableName | null {
  if (text.length > 200 || /[\0\n\r]/.test(text)) return null;
  const toks = tokenize(text);
  if (toks.length !== 3 || toks.some((t) => t.open)) return null;
  const at = nameAt(toks, 0, null);
  if (!at?.name || at.next !== 3 || !at.name.schema || !at.name.table) return null;
  return at.name;
}

export const sameTable = (a: TableName, b: TableName) => a.schema === b.schema && a.table === b.table;

const q = (s: string) => `\`${s.replace(/`/g, '``')}\``;
/** `schema`.`table`, quoted only where a name needs it. */
export function showTable(t: TableName): string {
  const part = (s: string) => (/^[A-Za-z0-9_$]+$/.test(s) && !/^\d+$/.test(s) ? s : q(s));
  return `${part(t.schema)}.${part(t.table)}`;
}

const up = (t: Tok | undefined) => (t?.t === 'word' ? t.v.toUpperCase() : '');
const isPunct = (t: Tok | undefined, v: string) => t?.t === 'punct' && t.v === v;

/** Skips the given optional keywords at `i` (in any order). */
function skipWords(toks: Tok[], i: number, words: string[]): number {
  while (words.includes(up(toks[i]))) i++;
  return i;
}

/** `IF EXISTS` / `IF NOT EXISTS` at `i`. */
function skipIf(toks: Tok[], i: number): number {
  if (up(toks[i]) !== 'IF') return i;
  return up(toks[i + 1]) === 'NOT' ? i + 3 : i + 2;
}

/** A comma-separated list of names from `i`. */
function nameList(toks: Tok[], i: number, db: string | null): TableName[] {
  const out: TableName[] = [];
  for (;;) {
    const at = nameAt(toks, i, db);
    if (!at) break;
    if (at.name) out.push(at.name);
    i = at.next;
    if (!isPunct(toks[i], ',')) break;
    i++;
  }
  return out;
}

/** Words after which a table reference ends and an alias is not possible. */
const REF_END = new Set(
  'SET WHERE ORDER LIMIT USING ON JOIN INNER LEFT RIGHT CROSS NATURAL STRAIGHT_JOIN OUTER FROM VALUES VALUE SELECT PARTITION RETURNING AS USE FORCE IGNORE WINDOW GROUP HAVING'.split(
    ' ',
  ),
);

/**
 * The table references from `i` up to one of `stop` (depth 0): each name with its alias. Names inside
 * parentheses (subqueries, which only read) are skipped.
 */
function references(toks: Tok[], i: number, db: string | null, stop: Set<string>) {
  const refs: { name: TableName; alias: string }[] = [];
  let expectName = true;
  let depth = 0;
  for (; i < toks.length; i++) {
    const t = toks[i]!;
    if (isPunct(t, '(')) depth++;
    else if (isPunct(t, ')')) depth--;
    if (depth > 0 || isPunct(t, ')')) continue;
    const w = up(t);
    if (stop.has(w)) return { refs, end: i };
    if (isPunct(t, ',') || w === 'JOIN' || w === 'STRAIGHT_JOIN') {
      expectName = true;
      continue;
    }
    if (!expectName) continue;
    const at = nameAt(toks, i, db);
    if (!at) continue;
    expectName = false;
    let j = at.next;
    if (up(toks[j]) === 'AS') j++;
    const aliasTok = toks[j];
    const alias =
      aliasTok && (aliasTok.t === 'quoted' || (aliasTok.t === 'word' && !REF_END.has(up(aliasTok))))
        ? aliasTok.v
        : (at.name?.table ?? '');
    if (at.name) refs.push({ name: at.name, alias });
    i = (alias && alias !== at.name?.table ? j + 1 : at.next) - 1;
  }
  return { refs, end: i };
}

/** Whether WHERE or LIMIT appears at depth 0 from `i` on. */
function restricted(toks: Tok[], i: number): boolean {
  let depth = 0;
  for (; i < toks.length; i++) {
    if (isPunct(toks[i], '(')) depth++;
    else if (isPunct(toks[i], ')')) depth--;
    else if (depth === 0 && (up(toks[i]) === 'WHERE' || up(toks[i]) === 'LIMIT')) return true;
  }
  return false;
}

const DELETE_STOP = new Set(['WHERE', 'ORDER', 'LIMIT', 'USING', 'RETURNING', 'FROM']);

function deleteEffect(toks: Tok[], db: string | null): StatementEffect {
  const i = skipWords(toks, 1, ['LOW_PRIORITY', 'QUICK', 'IGNORE']);
  let targets: TableName[];
  if (up(toks[i]) === 'FROM') {
    const first = references(toks, i + 1, db, DELETE_STOP);
    if (up(toks[first.end]) !== 'USING') {
      return { kind: 'delete', tables: first.refs.map((r) => r.name), everyRow: !restricted(toks, i) };
    }
    // DELETE FROM t1, t2 USING <references>: the first list names (aliases of) the references.
    const using = references(toks, first.end + 1, db, DELETE_STOP);
    targets = resolveAliases(first.refs, using.refs);
  } else {
    // DELETE t1, t2 FROM <references>
    const list = references(toks, i, db, DELETE_STOP);
    const from = references(toks, list.end + 1, db, DELETE_STOP);
    targets = resolveAliases(list.refs, from.refs);
  }
  return { kind: 'delete', tables: targets, everyRow: false };
}

/** Names in a multi-table DELETE's target list are aliases of its references (or the tables themselves). */
function resolveAliases(
  list: { name: TableName; alias: string }[],
  refs: { name: TableName; alias: string }[],
): TableName[] {
  return list.map((l) => refs.find((r) => r.alias === l.name.table)?.name ?? l.name);
}

/** ALTER TABLE x … RENAME [TO|AS] y (not RENAME COLUMN/INDEX/KEY): y. */
function alterRename(toks: Tok[], i: number, db: string | null): TableName[] {
  for (; i < toks.length; i++) {
    if (up(toks[i]) !== 'RENAME') continue;
    const next = up(toks[i + 1]);
    if (next === 'COLUMN' || next === 'INDEX' || next === 'KEY') continue;
    const at = nameAt(toks, next === 'TO' || next === 'AS' ? i + 2 : i + 1, db);
    return at?.name ? [at.name] : [];
  }
  return [];
}

/** What `sql`, run with default database `db`, changes; null when it changes no table. */
export function statementEffect(sql: string, db: string | null): StatementEffect | null {
  const toks = tokenize(sql);
  const verb = up(toks[0]);
  switch (verb) {
    case 'DROP': {
      let i = 1;
      const temporary = up(toks[i]) === 'TEMPORARY';
      if (temporary) i++;
      const what = up(toks[i]);
      if (what === 'TABLE' || what === 'TABLES')
        return { kind: 'drop', tables: nameList(toks, skipIf(toks, i + 1), db), temporary };
      if (what === 'DATABASE' || what === 'SCHEMA') {
        const at = nameAt(toks, skipIf(toks, i + 1), null);
        return at?.name ? null : at ? { kind: 'drop', tables: [], schema: toks[at.next - 1]!.v } : null;
      }
      if (what === 'INDEX') {
        let j = skipIf(toks, i + 1) + 1;
        while (j < toks.length && up(toks[j]) !== 'ON') j++;
        const at = nameAt(toks, j + 1, db);
        return at?.name ? { kind: 'ddl', tables: [at.name] } : null;
      }
      return null;
    }
    case 'TRUNCATE': {
      const at = nameAt(toks, up(toks[1]) === 'TABLE' ? 2 : 1, db);
      return at?.name ? { kind: 'truncate', tables: [at.name] } : null;
    }
    case 'RENAME': {
      if (up(toks[1]) !== 'TABLE' && up(toks[1]) !== 'TABLES') return null;
      const tables: TableName[] = [];
      let i = 2;
      while (i < toks.length) {
        const at = nameAt(toks, i, db);
        if (!at) break;
        if (at.name) tables.push(at.name);
        i = at.next;
        if (up(toks[i]) === 'TO' || isPunct(toks[i], ',')) i++;
        else if (up(toks[i]) === 'WAIT' || up(toks[i]) === 'NOWAIT') break;
      }
      return { kind: 'ddl', tables };
    }
    case 'ALTER': {
      const i = skipWords(toks, 1, ['ONLINE', 'OFFLINE', 'IGNORE']);
      if (up(toks[i]) !== 'TABLE') return null;
      const at = nameAt(toks, skipIf(toks, i + 1), db);
      if (!at?.name) return null;
      return { kind: 'ddl', tables: [at.name, ...alterRename(toks, at.next, db)] };
    }
    case 'CREATE': {
      let i = 1;
      let replaces = false;
      if (up(toks[i]) === 'OR' && up(toks[i + 1]) === 'REPLACE') [i, replaces] = [i + 2, true];
      const temporary = up(toks[i]) === 'TEMPORARY';
      if (temporary) i++;
      i = skipWords(toks, i, ['UNIQUE', 'FULLTEXT', 'SPATIAL']);
      if (up(toks[i]) === 'INDEX') {
        let j = i + 1;
        while (j < toks.length && up(toks[j]) !== 'ON') j++;
        const at = nameAt(toks, j + 1, db);
        return at?.name ? { kind: 'ddl', tables: [at.name] } : null;
      }
      if (up(toks[i]) !== 'TABLE') return null;
      const at = nameAt(toks, skipIf(toks, i + 1), db);
      return at?.name ? { kind: 'ddl', tables: [at.name], replaces, temporary } : null;
    }
    case 'DELETE':
      return deleteEffect(toks, db);
    case 'UPDATE': {
      const i = skipWords(toks, 1, ['LOW_PRIORITY', 'IGNORE']);
      const r = references(toks, i, db, new Set(['SET']));
      return { kind: 'update', tables: r.refs.map((x) => x.name), everyRow: !restricted(toks, r.end) };
    }
    case 'INSERT':
    case 'REPLACE': {
      let i = skipWords(toks, 1, ['LOW_PRIORITY', 'DELAYED', 'HIGH_PRIORITY', 'IGNORE']);
      if (up(toks[i]) === 'INTO') i++;
      const at = nameAt(toks, i, db);
      return at?.name ? { kind: 'insert', tables: [at.name] } : null;
    }
    default:
      return null;
  }
}

/** Whether the effect reaches `table`, and how (a temporary table of the same name never does). */
export function effectOn(e: StatementEffect, table: TableName): boolean {
  if (e.temporary) return false;
  if (e.schema !== undefined) return e.schema === table.schema;
  return e.tables.some((t) => sameTable(t, table));
}
