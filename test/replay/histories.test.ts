// Determinism guard: every saved history of a real run (test/histories/*.json, from
// `temporal workflow show --output json`) must replay against today's workflow code with the same
// bundle the worker uses. A change that reorders or renames steps fails here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { workflowBundle } from '../../workers/runbook-worker';
import { historiesDir } from '../support/histories';

Runtime.install({ logger: new DefaultLogger('WARN') });

const files = (await readdir(historiesDir)).filter((f) => f.endsWith('.json')).sort();

test('there is a saved history for the replay suite', () => {
  assert.ok(files.length > 0);
});

for (const file of files) {
  test(`${file} replays deterministically`, async () => {
    const history = historyFromJSON(JSON.parse(await readFile(join(historiesDir, file), 'utf8')));
    assert.ok((history.events?.length ?? 0) > 10, 'a complete history');
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
  });
}
