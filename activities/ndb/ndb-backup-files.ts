// Every data node's part of an NDB backup, where ndb_restore will read it. Each data node writes its
// own files on its own host, under its BackupDataDir: BACKUP/BACKUP-<id>/BACKUP-<id>.<node>.ctl,
// BACKUP-<id>.<node>.log and BACKUP-<id>-0.<node>.Data — since NDB 8.0.16, with several LDMs
// (ndbmtd), in per-LDM subdirectories BACKUP-<id>-PART-<k>-OF-<n>/ instead (MySQL manual, "NDB Cluster
// Data Node Backup Data Directory" and "Restoring from a backup taken in parallel"). This runbook runs
// every ndb_restore from one directory on the management host: that only works when BackupDataDir is
// storage shared by the data nodes and that host. Checked here, at plan time, before anything is cleared.
import { readdir } from 'node:fs/promises';
import type { Cluster } from './ndb-pitr-common';
import { refuse } from './ndb-pitr-common';

/** The files of `node`'s part in one directory (the backup directory or one PART subdirectory). */
const nodeFiles = (id: number, node: number) => [
  `BACKUP-${id}.${node}.ctl`,
  `BACKUP-${id}.${node}.log`,
  `BACKUP-${id}-0.${node}.Data`,
];

/** The missing files of every data node's part, relative to the backup directory (empty: complete). */
export async function missingNodeFiles(
  backup: { id: number; path: string },
  nodeIds: number[],
): Promise<string[]> {
  const top = await readdir(backup.path).catch(() => [] as string[]);
  const partRe = new RegExp(`^BACKUP-${backup.id}-PART-(\\d+)-OF-(\\d+)$`);
  const parts = top.map((d) => partRe.exec(d)).filter((m): m is RegExpExecArray => !!m);
  const missing: string[] = [];
  if (!parts.length) {
    for (const node of nodeIds) missing.push(...nodeFiles(backup.id, node).filter((f) => !top.includes(f)));
    return missing;
  }
  // Parallel backup: every PART-k-OF-n for k = 1..n, each with every node's files.
  const n = Number(parts[0]![2]);
  for (let k = 1; k <= n; k++) {
    const dir = `BACKUP-${backup.id}-PART-${k}-OF-${n}`;
    const inPart = await readdir(`${backup.path}/${dir}`).catch(() => null);
    if (!inPart) {
      missing.push(`${dir}/`);
      continue;
    }
    for (const node of nodeIds)
      missing.push(
        ...nodeFiles(backup.id, node)
          .filter((f) => !inPart.includes(f))
          .map((f) => `${dir}/${f}`),
      );
  }
  return missing;
}

/** Refuses (nothing touched) a backup some data node's part of which is not where ndb_restore reads. */
export async function checkEveryNodePart(
  backup: { id: number; path: string },
  cluster: Cluster,
): Promise<void> {
  const ids = cluster.dataNodes.map((n) => n.id);
  const missing = await missingNodeFiles(backup, ids);
  if (!missing.length) return;
  const nodes = [...new Set(missing.map((f) => /\.(\d+)\.(ctl|log|Data)$/.exec(f)?.[1]).filter(Boolean))];
  throw refuse(
    `backup ${backup.id} is incomplete in ${backup.path}, where ndb_restore reads it on the management host: missing ${missing.join(', ')}` +
      (nodes.length ? ` (data node(s) ${nodes.join(', ')})` : '') +
      '. Each data node writes its part of a backup on its own host (its BackupDataDir); this runbook restores every part from that one directory, so BackupDataDir must be storage shared by the data nodes and the management host. Nothing was changed.',
    'BackupNotShared',
  );
}
