// The point a drill can know: before anything else, the archive's lag (the achieved RPO); then a
// marker transaction the drill writes on the source (a row in runbook_drill.marker, a table it creates
// and marks as the project's), and the source's fingerprints at exactly the GTID position that holds
// the marker; then a wait until the archive holds that position.
//
// Why FLUSH TABLES WITH READ LOCK and not START TRANSACTION WITH CONSISTENT SNAPSHOT: the fingerprints
// are row counts and CHECKSUM TABLE (activities/mysql/verify.ts, the same the recovery's verify step
// computes), and CHECKSUM TABLE reads the latest committed rows, not a transaction's snapshot; so a
// consistent snapshot would not bind the checksums to the GTID it reports. The global read lock
// stops every commit while the position is read and the drill's schemas are fingerprinted: the
// source's writes wait for that time (the lock is taken only for the drill's schemas' checksums, and
// released in a finally).
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { openArchive } from '../archive/archives';
import type { ArchiveIndex } from '../archive/archive';
import { fingerprintTables } from '../mysql/verify';
import type { SqlPools } from '../mysql/sql';
import { poll } from '../runtime/poll';
import { failure } from '../../workflows/failures';
import { mariadbPositionIncludes, parseMariadbGtid, parseMariadbGtidList } from '../../workflows/gtid';
import { durationMs, type TableFingerprint } from '../../workflows/schemas';
import { MARKER_COMMENT, MARKER_SCHEMA, MARKER_TABLE } from '../../workflows/schemas-drill';
import { drillContext, refuseProduction } from './drill-entry';

export interface DrillPoint {
  /** The GTID restored to: the source's position (marker's domain) while the fingerprints were taken. */
  gtid: string;
  fingerprints: Record<string, TableFingerprint>;
  /** Archive lag at the drill's start, seconds (null: the archive holds no transaction time). */
  rpoSeconds: number | null;
  scratch: string;
  scratchHost: string | null;
  schemas: string[];
  evidence: string[];
}

/** Newest archived GTID position (per domain, the highest lastGtid) and newest event time. */
function newestArchived(index: ArchiveIndex): { pos: string; time: number | null } {
  const best = new Map<number, string>();
  let time: number | null = null;
  for (const f of index.files) {
    if (f.lastEventTime !== null && (time === null || f.lastEventTime > time)) time = f.lastEventTime;
    if (!f.lastGtid) continue;
    const g = parseMariadbGtid(f.lastGtid);
    const have = best.get(g.domain);
    if (!have || parseMariadbGtid(have).seq < g.seq) best.set(g.domain, f.lastGtid);
  }
  return { pos: [...best.values()].join(','), time };
}

const holds = (archivedPos: string, gtid: string) =>
  !!archivedPos && mariadbPositionIncludes(archivedPos, gtid);

export async function prepareDrill(
  sql: SqlPools,
  req: { cluster: string; drillId: string },
): Promise<DrillPoint> {
  const ctx = await drillContext(req.cluster);
  const evidence = await refuseProduction(sql, ctx);
  const archive = await openArchive(ctx.archive);

  // RPO, before the marker: what a recovery started now could reach.
  const [pos] = await sql.query(ctx.source, 'SELECT @@gtid_binlog_pos AS pos');
  const sourcePos = String(pos?.pos ?? '');
  const archived = newestArchived(await archive.readIndex());
  const behind = [...parseMariadbGtidList(sourcePos).values()].some(
    (g) => !holds(archived.pos, `${g.domain}-${g.server}-${g.seq}`),
  );
  const rpoSeconds = !behind
    ? 0
    : archived.time === null
      ? null
      : Math.max(0, Math.round(Date.now() / 1000 - archived.time));
  evidence.push(
    behind
      ? `archive lag at start: ${rpoSeconds ?? 'unknown'} s (the archive's newest transaction ${archived.pos || 'none'}; the source is at ${sourcePos})`
      : `archive lag at start: 0 s (the archive holds the source's position ${sourcePos})`,
  );

  const schemas = [...ctx.drill.schemas, MARKER_SCHEMA];
  const pool = await sql.get(ctx.source);
  const conn: PoolConnection = await pool.getConnection();
  let gtid: string;
  let fingerprints: Record<string, TableFingerprint>;
  try {
    // Judged before any write (a CREATE … IF NOT EXISTS is binlogged even when the table exists).
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT table_comment AS c FROM information_schema.tables WHERE table_schema = ? AND table_name = ?',
      [MARKER_SCHEMA, MARKER_TABLE],
    );
    if (rows.length && rows[0]?.c !== MARKER_COMMENT)
      throw failure(
        'DrillRefused',
        `drill of ${ctx.cluster} refused: ${MARKER_SCHEMA}.${MARKER_TABLE} exists and is not the drill's (its comment is ${JSON.stringify(rows[0]?.c ?? null)}). Nothing was written`,
      );
    if (!rows.length) {
      await conn.query(`CREATE DATABASE IF NOT EXISTS ${MARKER_SCHEMA}`);
      await conn.query(
        `CREATE TABLE IF NOT EXISTS ${MARKER_SCHEMA}.${MARKER_TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, drill VARCHAR(200) NOT NULL, at DATETIME(6) NOT NULL) ENGINE=InnoDB COMMENT=?`,
        [MARKER_COMMENT],
      );
    }
    await conn.query(
      `INSERT INTO ${MARKER_SCHEMA}.${MARKER_TABLE} (drill, at) VALUES (?, UTC_TIMESTAMP(6))`,
      [req.drillId],
    );
    const [[last]] = await conn.query<RowDataPacket[]>('SELECT @@last_gtid AS g');
    const domain = parseMariadbGtid(String(last?.g)).domain;
    await conn.query('FLUSH TABLES WITH READ LOCK');
    try {
      const [[at]] = await conn.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS pos');
      const list = parseMariadbGtidList(String(at?.pos ?? ''));
      if (list.size !== 1)
        throw failure(
          'DrillRefused',
          `drill of ${ctx.cluster} refused: the source's position ${String(at?.pos)} has ${list.size} GTID domains; a drill restores to one GTID`,
        );
      const g = list.get(domain)!;
      gtid = `${g.domain}-${g.server}-${g.seq}`;
      fingerprints = await fingerprintTables(sql, ctx.source, schemas);
    } finally {
      await conn.query('UNLOCK TABLES');
    }
  } finally {
    conn.release();
  }
  evidence.push(
    `marker written on the source; fingerprints of ${Object.keys(fingerprints).length} table(s) at ${gtid} taken under FLUSH TABLES WITH READ LOCK`,
  );

  await poll({
    check: async () => (holds(newestArchived(await archive.readIndex()).pos, gtid) ? true : undefined),
    timeoutMs: durationMs(ctx.drill.archiveWait),
    everyMs: 500,
    details: { waitingFor: `the archive to hold ${gtid}` },
    onTimeout: () =>
      failure(
        'DrillFailed',
        `the archive ${archive.location} did not hold the drill's marker ${gtid} within ${ctx.drill.archiveWait}: is the archiver running?`,
      ),
  });
  evidence.push(`the archive holds ${gtid}`);
  return {
    gtid,
    fingerprints,
    rpoSeconds,
    scratch: ctx.scratch.name,
    scratchHost: ctx.scratch.host ?? null,
    schemas,
    evidence,
  };
}
