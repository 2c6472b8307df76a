// The restore drill's activities (workflows/restore-drill.ts), each given the cluster's name only:
// what it acts on comes from this worker's own fleet catalog entry for that cluster.
import type { SqlPools } from '../mysql/sql';
import type { DrillRecord } from '../../workflows/schemas-drill';
import { prepareDrill } from './drill-marker';
import { checkDrillTables, teardownDrill } from './drill-scratch';
import { alertDrill, recordDrill } from './drill-record';

export function drillActivities(sql: SqlPools) {
  return {
    prepareDrill: (req: { cluster: string; drillId: string }) => prepareDrill(sql, req),
    checkDrillTables: (req: { cluster: string; schemas: string[] }) => checkDrillTables(sql, req),
    teardownDrill: (req: { cluster: string; recoveryId: string }) => teardownDrill(req),
    recordDrill: (record: DrillRecord) => recordDrill(record),
    alertDrill: (record: DrillRecord) => alertDrill(record),
  };
}
