// `runbook history <run>` without options: a table of the run's events a person reads (a saved
// history of a gated Percona recovery), wrapped at the pane width, workflow-task bookkeeping left out.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { eventName, renderHistory } from '../../scripts/lib/history-view';
import { historiesDir } from '../support/histories';

const history = historyFromJSON(
  JSON.parse(readFileSync(join(historiesDir, 'percona-pitr-approval.json'), 'utf8')),
);

test('the table names each event, its time since the start, and the activity, approval or step it concerns', () => {
  const text = renderHistory(history, { width: 120 });
  const lines = text.split('\n');
  assert.match(lines[0]!, /^ +# +time \(UTC\) +elapsed +event +detail$/);
  assert.match(
    lines[1]!,
    /^ +1 +\d\d:\d\d:\d\d\.\d{3} +\+0\.0s +WorkflowExecutionStarted +perconaPointInTimeRecovery on /,
  );
  assert.match(text, /ActivityTaskScheduled +restoreBackup on percona-/);
  assert.match(text, /ActivityTaskStarted +restoreBackup attempt 1 by /);
  assert.match(text, /WorkflowExecutionUpdateAccepted +approve from /);
  assert.match(text, /UpsertWorkflowSearchAttributes +RunbookStep=pause-cluster:awaiting-approval/);
  assert.match(text, /TimerStarted +timer 1 for 86400 s/);
  assert.match(text, /WorkflowExecutionCompleted\n/);
  assert.doesNotMatch(text, /WorkflowTaskScheduled/);
  assert.match(lines.at(-1)!, /^107 event\(s\), 45 workflow-task event\(s\) not shown \(--all shows them\)$/);
});

test('--all shows the workflow-task events too; the detail column wraps, it is not cut', () => {
  const all = renderHistory(history, { width: 120, all: true });
  assert.match(all, /WorkflowTaskScheduled/);
  assert.match(all.split('\n').at(-1)!, /^107 event\(s\)$/);
  const narrow = renderHistory(history, { width: 100 });
  for (const line of narrow.split('\n')) assert.ok(line.length <= 100, JSON.stringify(line));
  const joined = narrow.replace(/\n +/g, ' ');
  assert.match(joined, /RunbookKind=perconaPointInTimeRecovery ?; RunbookStep=locate-binlogs/);
  assert.match(
    joined,
    /TemporalChangeVersion=fleet-catalog, record-before-run, remove-run-files, replay-proof/,
  );
});

test('event type names read as words', () => {
  assert.equal(eventName(10), 'ActivityTaskScheduled');
  assert.equal(eventName(1), 'WorkflowExecutionStarted');
});
