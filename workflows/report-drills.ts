// A cluster's restore drills, as the terminal table of `runbook drills <cluster>` and as a section of
// the report page (`--html FILE`): one self-contained HTML page like the recovery report
// (workflows/report-html.ts: inline CSS, no script, no external asset), with an inline SVG chart of
// each drill's measured RTO (a bar, green passed, red failed) and its RPO (a dot). Pure code.
import { esc } from './report-html';
import type { DrillRecord } from './schemas-drill';

const secs = (ms?: number) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
const rpo = (s?: number | null) => (s === undefined ? '-' : s === null ? 'unknown' : `${s} s`);

/** The rows of the history table, newest first. */
export function drillRows(records: DrillRecord[]): string[][] {
  return [...records]
    .reverse()
    .map((r) => [r.at, r.result, secs(r.rtoMs), rpo(r.rpoSeconds), r.gtid ?? '-', r.why ?? '']);
}

export const DRILL_HEADER = ['time (UTC)', 'result', 'RTO', 'RPO', 'GTID', 'why it failed'];

/** The history as a plain-text table (the last column unpadded: a reason may be long). */
export function renderDrillsText(cluster: string, records: DrillRecord[]): string {
  if (!records.length) return `no drills recorded for ${cluster}`;
  const rows = drillRows(records);
  const widths = DRILL_HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const passed = records.filter((r) => r.result === 'passed').length;
  return [
    `drills of ${cluster}: ${records.length} recorded, ${passed} passed, ${records.length - passed} failed`,
    line(DRILL_HEADER),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}

/** The chart: oldest drill on the left; bars are RTO (left axis), dots RPO (right axis). */
export function drillsChart(records: DrillRecord[]): string {
  const W = 760;
  const H = 220;
  const pad = { l: 56, r: 56, t: 16, b: 36 };
  const n = Math.max(1, records.length);
  const slot = (W - pad.l - pad.r) / n;
  const maxRto = Math.max(1, ...records.map((r) => r.rtoMs ?? 0)) / 1000;
  const maxRpo = Math.max(1, ...records.map((r) => r.rpoSeconds ?? 0));
  const y = (v: number, max: number) => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const parts: string[] = [];
  records.forEach((r, i) => {
    const x = pad.l + i * slot;
    const title = `${r.at}: ${r.result}, RTO ${secs(r.rtoMs)}, RPO ${rpo(r.rpoSeconds)}${r.why ? `, ${r.why}` : ''}`;
    const color = r.result === 'passed' ? '#1a7f37' : '#cf222e';
    const top = r.rtoMs === undefined ? H - pad.b - 3 : y(r.rtoMs / 1000, maxRto);
    parts.push(
      `<rect class="drill-${esc(r.result)}" x="${(x + slot * 0.15).toFixed(1)}" y="${top.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${(H - pad.b - top).toFixed(1)}" fill="${color}"><title>${esc(title)}</title></rect>`,
    );
    if (typeof r.rpoSeconds === 'number')
      parts.push(
        `<circle cx="${(x + slot / 2).toFixed(1)}" cy="${y(r.rpoSeconds, maxRpo).toFixed(1)}" r="4" fill="#0969da"><title>${esc(`RPO ${r.rpoSeconds} s`)}</title></circle>`,
      );
  });
  const axis = `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#57606a"/>`;
  const labels =
    `<text x="4" y="${pad.t + 10}" font-size="11">${esc(`RTO ${maxRto.toFixed(1)} s`)}</text>` +
    `<text x="${W - pad.r + 4}" y="${pad.t + 10}" font-size="11" fill="#0969da">${esc(`RPO ${maxRpo} s`)}</text>` +
    `<text x="${pad.l}" y="${H - 12}" font-size="11">${esc(records[0]?.at ?? '')}</text>` +
    `<text x="${W - pad.r}" y="${H - 12}" font-size="11" text-anchor="end">${esc(records.at(-1)?.at ?? '')}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="restore drills: RTO bars, RPO dots">${axis}${parts.join('')}${labels}</svg>`;
}

/** The drills section: the chart and the table. */
export function drillsSection(cluster: string, records: DrillRecord[]): string {
  if (!records.length) return `<h2>Restore drills</h2><p><em>no drills recorded for ${esc(cluster)}</em></p>`;
  const rows = drillRows(records)
    .map(
      (r) =>
        `<tr>${r.map((c, i) => `<td class="${i === 1 ? (c === 'passed' ? 'yes' : 'no') : i === 5 ? 'ev' : 'nw'}">${esc(c)}</td>`).join('')}</tr>`,
    )
    .join('');
  return `<h2>Restore drills</h2>${drillsChart(records)}<p>Bars: measured RTO (green passed, red failed); dots: RPO (archive lag at the drill's start).</p><table><tr>${DRILL_HEADER.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows}</table>`;
}

/** A page of its own for `runbook drills <cluster> --html FILE`. */
export function renderDrillsHtml(cluster: string, records: DrillRecord[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Restore drills: ${esc(cluster)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#1d2125}table{border-collapse:collapse;width:100%}th,td{border:1px solid #d8dde3;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f5f7}td.nw{white-space:nowrap}td.ev{white-space:pre-wrap;word-break:break-word}.no{color:#cf222e;font-weight:600}.yes{color:#1a7f37}</style></head><body>
<h1>Restore drills: ${esc(cluster)}</h1>
${drillsSection(cluster, records)}
</body></html>
`;
}
