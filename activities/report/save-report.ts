// The recovery report saved on the host that holds the run's datadir when the run ends
// (workflows/report-at-end.ts): beside the checkpoint ledger (`<datadir>.runbook-ledger/<recoveryId>.report.md`
// and `.html`) when the run made one, else in this worker's state directory (`reports/`), so a run that
// never touched a datadir leaves no directory beside it.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ledgerDirBeside } from '../runtime/ledger';
import { writeFileDurably } from '../runtime/durable-file';
import { ensureStateDir } from '../runtime/state-dir';
import { SLUG_PATTERN } from '../../workflows/schemas';
import { failure } from '../../workflows/failures';
import type { RecoveryReport } from '../../workflows/report-model';
import { renderMarkdown } from '../../workflows/report-markdown';
import { renderHtml } from '../../workflows/report-html';
import type { StepOutcome } from '../../workflows/kit';

export interface SaveReportRequest {
  report: RecoveryReport;
  /** The run's datadir on this host, when its runbook has one. */
  datadir?: string;
}

export async function saveRunReport(req: SaveReportRequest): Promise<StepOutcome & { files: string[] }> {
  const id = req.report.recoveryId;
  if (!SLUG_PATTERN.test(id))
    throw failure('InvalidInput', `not a recoveryId: ${JSON.stringify(id.slice(0, 120))}; no report written`);
  const ledgerDir = req.datadir ? ledgerDirBeside(req.datadir) : undefined;
  const besideLedger =
    ledgerDir &&
    (await stat(ledgerDir).then(
      (s) => s.isDirectory(),
      () => false,
    ));
  const dir = besideLedger ? ledgerDir : await ensureStateDir('reports');
  // A rollback carries the recovery's id: its report sits beside the recovery's, not over it.
  const base = join(dir, `${id}${req.report.kind === 'perconaRollback' ? '.rollback' : ''}.report`);
  await writeFileDurably(`${base}.md`, renderMarkdown(req.report));
  await writeFileDurably(`${base}.html`, renderHtml(req.report));
  const files = [`${base}.md`, `${base}.html`];
  return { files, evidence: [`recovery report saved: ${files.join(', ')}`] };
}
