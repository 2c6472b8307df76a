// Each host journals the approvals of the work it is given (activities/trust/approval-journal.ts): once
// each, synced, 0600 in its state directory; a header naming a path instead of a recovery is refused.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { approvalJournalPath, journalApprovals } from '../../activities/trust/approval-journal';

let dir = '';
const saved = process.env.RUNBOOK_STATE_DIR;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-journal-'));
  process.env.RUNBOOK_STATE_DIR = join(dir, 'state');
});
after(async () => {
  if (saved === undefined) delete process.env.RUNBOOK_STATE_DIR;
  else process.env.RUNBOOK_STATE_DIR = saved;
  await rm(dir, { recursive: true, force: true });
});

const ana = {
  step: 'pause-cluster',
  approver: 'ana',
  reason: 'INC-1',
  key: 'sha256:aaaa',
  signature: 'c2ln',
};
const bob = { ...ana, approver: 'bob', key: 'sha256:bbbb', signature: 'b3Ro' };

test('each approval is journalled once, with its key and signature, in a 0600 file', async () => {
  const header = { recoveryId: 'rec-1', kind: 'perconaPointInTimeRecovery', approvals: [ana] };
  assert.equal(await journalApprovals(header), 1);
  assert.equal(await journalApprovals(header), 0, 'the same approval again (the next activity): no new line');
  assert.equal(await journalApprovals({ ...header, approvals: [ana, bob] }), 1);
  const file = await approvalJournalPath('rec-1');
  const lines = (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as typeof ana);
  assert.deepEqual(
    lines.map((l) => [l.approver, l.key, l.signature, l.step]),
    [
      ['ana', 'sha256:aaaa', 'c2ln', 'pause-cluster'],
      ['bob', 'sha256:bbbb', 'b3Ro', 'pause-cluster'],
    ],
  );
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});

test('a header whose recovery id is a path is refused and writes nothing outside the journal directory', async () => {
  await assert.rejects(
    journalApprovals({ recoveryId: '../../escape', kind: 'x', approvals: [ana] }),
    /not a recovery id/,
  );
  await assert.rejects(stat(join(dir, 'escape.journal')));
});
