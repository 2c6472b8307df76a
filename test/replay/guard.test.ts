// The replay suite can fail: a reordered workflow does not replay a real history.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { historiesDir } from '../support/histories';

Runtime.install({ logger: new DefaultLogger('ERROR') });

test('a history of perconaPointInTimeRecovery does not replay against a reordered workflow', async () => {
  const history = historyFromJSON(
    JSON.parse(await readFile(join(historiesDir, 'percona-pitr-gtid-exclusive.json'), 'utf8')),
  );
  const workflowsPath = fileURLToPath(new URL('./fixtures/reordered-percona.ts', import.meta.url));
  const workflowBundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('ERROR') });
  await assert.rejects(Worker.runReplayHistory({ workflowBundle }, history, 'reordered'), (err: unknown) => {
    assert.ok(
      err instanceof DeterminismViolationError,
      `expected a determinism violation, got ${String(err)}`,
    );
    assert.match((err as Error).message, /pauseCluster|planPerconaRecovery|Nondeterminism/);
    return true;
  });
});
