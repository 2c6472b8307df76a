// `runbook drills <cluster>`: the cluster's restore drills (docs/restore-drills.md) as a table — time,
// result, RTO, RPO, GTID, why it failed — read from the controller's state directory (run it on the
// controller's host, like `runbook backups`); `--html FILE` writes them as a page with a chart;
// `--schedule` creates (or updates) the cluster's Temporal Schedule from its catalog entry's drill
// section, which this host's fleet catalog must hold and validate.
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { ScheduleOverlapPolicy, type Client, type ScheduleSpec } from '@temporalio/client';
import { catalogDir, loadCatalog } from '../../activities/trust/fleet-catalog';
import { readDrills } from '../../activities/drill/drill-record';
import { renderDrillsHtml, renderDrillsText } from '../../workflows/report-drills';
import { SLUG_PATTERN } from '../../workflows/schemas';
import type { DrillSpec } from '../../workflows/schemas-drill';
import { ClusterKey, RunbookKindKey } from '../../workflows/search-attributes';
import { CliError, connect, type GlobalOptions } from './connect';

export const drillScheduleId = (cluster: string) => `drill-${cluster}`;

function scheduleSpec(d: DrillSpec): ScheduleSpec {
  return 'cron' in d.schedule
    ? { cronExpressions: [d.schedule.cron] }
    : { intervals: [{ every: d.schedule.every as `${number}${'ms' | 's' | 'm' | 'h' | 'd'}` }] };
}

/**
 * The drill section of `cluster` in this host's catalog; refused (exit 2, nothing scheduled) when the
 * entry is unknown, invalid (a scratch server that is production included) or has no drill section.
 */
export async function drillOf(cluster: string): Promise<DrillSpec> {
  if (!SLUG_PATTERN.test(cluster)) throw new CliError(`not a cluster name: ${JSON.stringify(cluster)}`, 2);
  let entries;
  try {
    entries = await loadCatalog(undefined, { usableOnly: true });
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  const entry = entries.get(cluster);
  if (!entry)
    throw new CliError(
      `${cluster} is not a usable entry of the fleet catalog ${catalogDir()} (unknown, or invalid: a worker would name why at start); nothing scheduled`,
      2,
    );
  if (!entry.drill)
    throw new CliError(`the catalog entry ${cluster} has no drill section; nothing scheduled`, 2);
  return entry.drill;
}

/** Creates or updates the drill schedule of `cluster` from this host's catalog; returns the schedule id. */
export async function scheduleDrill(client: Client, cluster: string, taskQueue: string): Promise<string> {
  const drill = await drillOf(cluster);
  const scheduleId = drillScheduleId(cluster);
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'restoreDrill',
    args: [{ cluster }],
    taskQueue,
    workflowId: `drill-${cluster}`,
    typedSearchAttributes: [
      { key: ClusterKey, value: cluster },
      { key: RunbookKindKey, value: 'restoreDrill' },
    ],
  };
  const spec = scheduleSpec(drill);
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1h' } as const;
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
  } catch (err) {
    if ((err as Error).name !== 'ScheduleAlreadyRunning') throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec, action, policies }));
  }
  return scheduleId;
}

export function addDrillsCommand(program: Command, g: () => GlobalOptions): void {
  program
    .command('drills <cluster>')
    .description("the cluster's restore drills (time, result, RTO, RPO, GTID, why it failed)")
    .option('--html <file>', 'write the drills as a page with a chart')
    .option('--json', 'print the records as JSON')
    .option('--schedule', "create or update the cluster's drill schedule from the fleet catalog")
    .action(async (cluster: string, o: { html?: string; json?: boolean; schedule?: boolean }) => {
      if (!SLUG_PATTERN.test(cluster))
        throw new CliError(`not a cluster name: ${JSON.stringify(cluster)}`, 2);
      if (o.schedule) {
        await drillOf(cluster); // refused before Temporal is asked
        const { client, connection } = await connect(g());
        try {
          const id = await scheduleDrill(client, cluster, g().taskQueue);
          console.log(
            `schedule ${id}: drills of ${cluster} as its catalog entry says (temporal schedule describe --schedule-id ${id})`,
          );
        } finally {
          await connection.close();
        }
        return;
      }
      const records = await readDrills(cluster);
      if (o.html) {
        await writeFile(o.html, renderDrillsHtml(cluster, records));
        console.log(`wrote ${o.html} (${records.length} drill(s))`);
      } else if (o.json) console.log(JSON.stringify(records, null, 2));
      else console.log(renderDrillsText(cluster, records));
    });
}
