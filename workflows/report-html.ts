// The recovery report as one self-contained HTML page (workflows/report-model.ts): inline CSS, no
// script, no external asset, and a Content-Security-Policy that forbids both; every text from the run
// (evidence may hold anything a server or a file said) is escaped, so it is shown, never run.
import { figureMatches, humanDuration, reportFacts, signedText, type RecoveryReport } from './report-model';

export function esc(s: string | number | undefined | null): string {
  return String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#1d2125}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;margin:.4em 0}th,td{border:1px solid #d8dde3;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f7}td.nw{white-space:nowrap}td.ev{white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,Menlo,monospace;font-size:12px}
.facts th{width:11em}.s-done{color:#1a7f37}.s-failed{color:#cf222e;font-weight:600}.s-skipped-by-checkpoint{color:#6e7781}
.s-waiting-approval,.s-waiting-host,.s-running{color:#9a6700}.destructive{color:#bc4c00}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600}
.st-COMPLETED{background:#dafbe1;color:#1a7f37}.st-FAILED,.st-TERMINATED,.st-TIMED_OUT{background:#ffebe9;color:#cf222e}
.st-CANCELLED{background:#eaeef2;color:#57606a}.st-RUNNING{background:#fff8c5;color:#9a6700}
.bar{display:inline-block;height:10px;background:#0969da;border-radius:2px;vertical-align:middle}
.no{color:#cf222e;font-weight:600}.yes{color:#1a7f37}ul{padding-left:1.3em}li{white-space:pre-wrap;word-break:break-word}
`;

function list(items: string[], empty: string): string {
  return items.length
    ? `<ul>${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>`
    : `<p><em>${esc(empty)}</em></p>`;
}

const fp = (f?: { rows: number; checksum: number | null }) =>
  f ? `${f.rows} rows, checksum ${f.checksum ?? 'none'}` : '—';

/** A step's time of day (UTC, to the millisecond); the whole timestamp on hover. */
function clock(at?: string): string {
  return at ? `<span title="${esc(at)}">${esc(at.slice(11, 23))}</span>` : '';
}

function timeline(r: RecoveryReport): string {
  const longest = Math.max(1, ...r.steps.map((s) => s.durationMs ?? 0));
  const rows = r.steps.map((s, i) => {
    const width = s.durationMs !== undefined ? Math.max(2, Math.round((s.durationMs / longest) * 80)) : 0;
    const ev = s.error ? `error: ${s.error}` : s.evidence.join('\n');
    return `<tr><td>${i + 1}</td><td class="nw">${esc(s.name)}${s.destructive ? ' <span class="destructive" title="destructive">⚠</span>' : ''}</td><td class="nw s-${esc(s.status)}">${esc(s.status)}</td><td>${clock(s.startedAt)}</td><td>${clock(s.endedAt)}</td><td class="nw">${s.durationMs !== undefined ? `<span class="bar" style="width:${width}px"></span> ${esc(humanDuration(s.durationMs))}` : ''}</td><td class="ev">${esc(ev)}</td></tr>`;
  });
  return `<table><tr><th>#</th><th>Step</th><th>Status</th><th>Started (UTC)</th><th>Ended (UTC)</th><th>Duration</th><th>Evidence</th></tr>${rows.join('') || '<tr><td colspan="7"><em>no steps recorded</em></td></tr>'}</table>`;
}

function approvals(r: RecoveryReport): string {
  if (!r.approvals.length) return '<p><em>none: no destructive step was approved in this run</em></p>';
  const rows = r.approvals.map(
    (a) =>
      `<tr><td>${esc(a.step)}</td><td>${esc(a.approver)}</td><td>${esc(a.at ?? 'unknown')}</td><td>${esc(signedText(a))}</td><td>${esc(a.expiresAt)}</td><td class="ev">${esc(a.reason)}</td></tr>`,
  );
  return `<table><tr><th>Step</th><th>Approver</th><th>Accepted at</th><th>Signed</th><th>Valid until</th><th>Reason</th></tr>${rows.join('')}</table>`;
}

function figures(r: RecoveryReport): string {
  const replay = r.replay
    ? list(
        [
          ...(r.replay.stateBefore !== undefined
            ? [`GTID state before the replay: ${r.replay.stateBefore || 'empty'}`]
            : []),
          ...(r.replay.stateAfter !== undefined
            ? [`GTID state after the replay: ${r.replay.stateAfter || 'empty'}`]
            : []),
          ...(r.replay.transactionsApplied !== undefined
            ? [`transactions applied: ${r.replay.transactionsApplied}`]
            : []),
        ],
        '',
      )
    : '';
  if (!r.figures.length) return `${replay}<p><em>no table fingerprints in the result</em></p>`;
  const rows = r.figures.map((f) => {
    const m = figureMatches(f);
    return `<tr><td>${esc(f.table)}</td><td>${esc(fp(f.expected))}</td><td>${esc(fp(f.observed))}</td><td class="${m === false ? 'no' : 'yes'}">${m === undefined ? '—' : m ? 'yes' : 'NO'}</td></tr>`;
  });
  return `${replay}<table><tr><th>Table</th><th>Expected</th><th>Observed</th><th>Match</th></tr>${rows.join('')}</table>`;
}

export function renderHtml(r: RecoveryReport): string {
  const factRows = reportFacts(r)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td class="ev">${esc(v)}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Recovery report: ${esc(r.kind)} ${esc(r.recoveryId)}</title>
<style>${CSS}</style></head><body>
<h1>Recovery report: ${esc(r.kind)} ${esc(r.recoveryId)} <span class="badge st-${esc(r.status)}">${esc(r.status)}</span></h1>
<table class="facts">${factRows}</table>
<h2>Plan</h2>${list(r.plan, 'no plan recorded')}
<h2>Timeline</h2>${timeline(r)}
<h2>Approvals</h2>${approvals(r)}
<h2>Proof</h2>${list(r.proof, 'no proof: the run did not reach its verify step')}
<h2>Before and after</h2>${figures(r)}
${r.changed.length ? `<h2>What the run changed</h2>${list(r.changed, '')}` : ''}
</body></html>
`;
}
