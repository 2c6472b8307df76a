// The recovery report as Markdown (workflows/report-model.ts). Text from the run (evidence, reasons,
// errors) is escaped so it stays text: no HTML, no table break, no heading, whatever a viewer does.
import { STEP_MARK } from './run-details';
import { figureMatches, humanDuration, reportFacts, signedText, type RecoveryReport } from './report-model';

/** Markdown-inert text: HTML and Markdown punctuation escaped, one line. */
export function mdText(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]|#~])/g, '\\$1')
    .replace(/\r?\n/g, ' ⏎ ');
}

const fp = (f?: { rows: number; checksum: number | null }) =>
  f ? `${f.rows} rows, checksum ${f.checksum ?? 'none'}` : '—';

export function renderMarkdown(r: RecoveryReport): string {
  const out: string[] = [];
  const line = (s = '') => out.push(s);
  const list = (items: string[], empty: string) => {
    if (!items.length) line(`_${empty}_`);
    for (const i of items) line(`- ${mdText(i)}`);
    line();
  };
  line(`# Recovery report: ${mdText(r.kind)} ${mdText(r.recoveryId)}`);
  line();
  line(`| | |`);
  line(`|---|---|`);
  const facts: [string, string][] = [['Status', r.status], ...reportFacts(r)];
  for (const [k, v] of facts) line(`| ${k} | ${mdText(v)} |`);
  line();
  line('## Plan');
  line();
  list(r.plan, 'no plan recorded');
  line('## Timeline');
  line();
  line('| # | Step | Status | Started | Ended | Duration | Evidence |');
  line('|---|---|---|---|---|---|---|');
  r.steps.forEach((s, i) => {
    const ev = s.error ? `**error:** ${mdText(s.error)}` : s.evidence.map(mdText).join('<br>');
    line(
      `| ${i + 1} | ${mdText(s.name)}${s.destructive ? ' ⚠' : ''} | ${STEP_MARK[s.status]} ${s.status} | ${s.startedAt ?? ''} | ${s.endedAt ?? ''} | ${s.durationMs !== undefined ? humanDuration(s.durationMs) : ''} | ${ev} |`,
    );
  });
  if (!r.steps.length) line('| | _no steps recorded_ | | | | | |');
  line();
  line('## Approvals');
  line();
  if (!r.approvals.length) line('_none: no destructive step was approved in this run_');
  else {
    line('| Step | Approver | Accepted at | Signed | Valid until | Reason |');
    line('|---|---|---|---|---|---|');
    for (const a of r.approvals)
      line(
        `| ${mdText(a.step)} | ${mdText(a.approver)} | ${a.at ?? 'unknown'} | ${mdText(signedText(a))} | ${a.expiresAt ?? ''} | ${mdText(a.reason)} |`,
      );
  }
  line();
  line('## Proof');
  line();
  list(r.proof, 'no proof: the run did not reach its verify step');
  line('## Before and after');
  line();
  if (r.replay) {
    if (r.replay.stateBefore !== undefined)
      line(`- GTID state before the replay: ${mdText(r.replay.stateBefore) || 'empty'}`);
    if (r.replay.stateAfter !== undefined)
      line(`- GTID state after the replay: ${mdText(r.replay.stateAfter) || 'empty'}`);
    if (r.replay.transactionsApplied !== undefined)
      line(`- transactions applied: ${r.replay.transactionsApplied}`);
    line();
  }
  if (!r.figures.length) line('_no table fingerprints in the result_');
  else {
    line('| Table | Expected | Observed | Match |');
    line('|---|---|---|---|');
    for (const f of r.figures) {
      const m = figureMatches(f);
      line(
        `| ${mdText(f.table)} | ${fp(f.expected)} | ${fp(f.observed)} | ${m === undefined ? '—' : m ? 'yes' : '**NO**'} |`,
      );
    }
  }
  line();
  if (r.changed.length) {
    line('## What the run changed');
    line();
    list(r.changed, '');
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}
