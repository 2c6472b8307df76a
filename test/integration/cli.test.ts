// The operator's ways in: this project's `runbook` CLI and the real `temporal` CLI, against the run's
// Temporal dev server, a worker, and a real Percona scenario (MariaDB, archive, backup).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { PerconaResult } from '../../workflows/percona-point-in-time-recovery';
import { workflowBundle } from '../../workers/runbook-worker';
import { projectRoot, temporalCli } from '../../scripts/lib/tools';
import { recordAccident, standInCluster, useStandIns, type Accident } from '../support/percona-scenario';
import { startWorker, temporalAddress, uniqueQueue, type RunningWorker } from '../support/temporal';
import { catalogRequest } from '../support/fleet';
import { ed25519 } from '@noble/curves/ed25519.js';
import { Client, Connection } from '@temporalio/client';
import { approveUpdate, progressQuery, type Approval, type RunbookProgress } from '../../workflows/kit';
import { requestDigest, signApproval, signStart } from '../../workflows/approval-signature';
import { updateRejection } from '../support/workflows';
import { saveHistory } from '../../scripts/lib/history';
import { historiesDir } from '../support/histories';
import { approvalJournalPath } from '../../activities/trust/approval-journal';

/** The Percona run's pause-cluster step (looked up by name: fetch-backup now comes before it). */
const pauseStep = (p: RunbookProgress | null) => p?.steps.find((s) => s.name === 'pause-cluster');

useStandIns();
let acc: Accident;
let worker: RunningWorker;
let n = 0;

function runbook(...args: string[]) {
  return execa(process.execPath, ['--import', 'tsx', join(projectRoot, 'scripts/runbook.ts'), ...args], {
    cwd: projectRoot,
    reject: false,
    env: { TEMPORAL_ADDRESS: temporalAddress(), RUNBOOK_TASK_QUEUE: worker.taskQueue },
  });
}

/** `runbook approve <run> --step pause-cluster` signed with an approver's key file. */
function approveWithKey(workflowId: string, approver: string, keyFile: string) {
  return runbook(
    'approve',
    workflowId,
    '--step',
    'pause-cluster',
    '--reason',
    'INC-42',
    '--approver',
    approver,
    '--key',
    keyFile,
  );
}

/** An approval as `runbook approve --key` sends it: the claim's fields and the approver's signature. */
function signedApproval(key: Uint8Array, approver: string, c: Parameters<typeof signApproval>[1]): Approval {
  return {
    step: c.step,
    approver,
    reason: c.reason,
    expiresAt: c.expiresAt,
    signature: signApproval(key, c),
  };
}

/** A request file for a catalog entry of its own (serving the recovery and its rollback). */
async function inputFile(extra: Record<string, unknown> = {}): Promise<string> {
  n++;
  const file = join(acc.base, `input-${n}.json`);
  const input: Record<string, unknown> = {
    cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'shop' },
    backup: { dir: acc.backupDir },
    restore: { datadir: join(acc.base, `cli-restore-${n}`, 'data') },
    archive: { kind: 'fs', dir: acc.source.archiveDir },
    target: { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
    verify: { schemas: ['shop'] },
    ...extra,
  };
  const request = await catalogRequest('perconaPointInTimeRecovery', input, {
    alsoServes: { perconaRollback: { cluster: input.cluster, restore: input.restore } },
  });
  await writeFile(file, JSON.stringify(request));
  return file;
}

before(async () => {
  acc = await recordAccident();
  await standInCluster(join(acc.base, 'k8s'), 'shop');
  worker = await startWorker(uniqueQueue('cli'));
});

after(async () => {
  await worker?.stop();
  await acc?.cleanup();
});

describe('runbook CLI', () => {
  test('list names the runbooks (the five procedures and the Percona rollback) and their destructive steps', async () => {
    const r = await runbook('list');
    assert.equal(r.exitCode, 0);
    for (const kind of [
      'perconaPointInTimeRecovery',
      'perconaRollback',
      'ndbPointInTimeRecovery',
      'ndbChannelFailover',
      'tungstenExternalRestore',
      'vitessSnapshotRestore',
    ])
      assert.match(r.stdout, new RegExp(`^${kind} — `, 'm'));
    assert.match(r.stdout, /destructive: pause-cluster, restore-backup/);
  });

  test('a request that sets what the catalog decides: exit 2, the fields named, the secret not echoed, nothing started', async () => {
    const file = join(acc.base, 'request-with-restore.json');
    await writeFile(
      file,
      JSON.stringify({
        cluster: 'shop',
        target: { type: 'latest' },
        restore: { datadir: '/etc', password: 'hunter2-cli' },
        backup: { dir: '/' },
      }),
    );
    const r = await runbook('start', 'perconaPointInTimeRecovery', '--input', file, '--id', 'cli-bad-input');
    assert.equal(r.exitCode, 2);
    assert.match(
      r.stderr,
      /invalid request for perconaPointInTimeRecovery: restore: set by the fleet catalog on the workers, not by a request; backup: set by the fleet catalog/,
    );
    assert.doesNotMatch(r.stderr + r.stdout, /hunter2/);
    const s = await runbook('status', 'cli-bad-input');
    assert.equal(s.exitCode, 2);
    assert.match(s.stderr, /no run with workflow id cli-bad-input/);
  });

  test('a missing server: exit 3 with the address', async () => {
    const r = await execa(
      process.execPath,
      ['--import', 'tsx', join(projectRoot, 'scripts/runbook.ts'), 'status', 'x', '--address', '127.0.0.1:1'],
      { reject: false, cwd: projectRoot },
    );
    assert.equal(r.exitCode, 3);
    assert.match(r.stderr, /cannot reach Temporal at 127.0.0.1:1/);
  });

  test("credentials without an address: exit 2 naming TEMPORAL_ADDRESS, never sent to localhost (the workers' check)", async () => {
    const r = await execa(
      process.execPath,
      ['--import', 'tsx', join(projectRoot, 'scripts/runbook.ts'), 'status', 'x'],
      {
        reject: false,
        cwd: projectRoot,
        extendEnv: false,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TEMPORAL_API_KEY: 'k-secret-123' },
      },
    );
    assert.equal(r.exitCode, 2, r.stderr);
    assert.match(r.stderr, /API key credentials are configured but TEMPORAL_ADDRESS is not/);
    assert.doesNotMatch(r.stderr, /k-secret-123/);
  });

  test('plan prints the plan and touches nothing', async () => {
    const file = await inputFile();
    const r = await runbook('plan', 'perconaPointInTimeRecovery', '--input', file);
    assert.equal(r.exitCode, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as PerconaResult;
    assert.equal(plan.mode, 'plan');
    assert.equal(plan.plan.replay.stopGtid, acc.lastGoodGtid);
  });

  test('start, status, approve, status --watch, history: a gated run from start to end; its history replays', async () => {
    const id = `cli-run-${Date.now()}`;
    const file = await inputFile({ requireApproval: true });
    const started = await runbook(
      'start',
      'perconaPointInTimeRecovery',
      '--input',
      file,
      '--id',
      id,
      '--incident',
      'INC-1',
    );
    assert.equal(started.exitCode, 0, started.stderr);
    assert.match(started.stdout, new RegExp(`started perconaPointInTimeRecovery ${id}`));
    // The Web UI's one-line summary of the run, set at start (scripts/lib/run-summary.ts).
    const connection = await Connection.connect({ address: temporalAddress() });
    try {
      const d = await new Client({ connection }).workflow.getHandle(id).describe();
      assert.match(
        String(await d.staticSummary()),
        new RegExp(
          `^perconaPointInTimeRecovery · cluster \\S+ · to GTID ${acc.dropGtid} \\(exclusive\\) · INC-1$`,
        ),
      );
    } finally {
      await connection.close();
    }

    let status = await runbook('status', id);
    for (let i = 0; i < 50 && !/waiting-approval/.test(status.stdout); i++)
      status = await runbook('status', id);
    assert.match(status.stdout, /⏸ pause-cluster\s+waiting-approval/);

    const wrong = await runbook('approve', id, '--step', 'verify', '--reason', 'INC-1');
    assert.equal(wrong.exitCode, 2);
    assert.match(wrong.stderr, /approval refused: step verify is not destructive/);
    for (const step of ['pause-cluster', 'restore-backup']) {
      const ok = await runbook('approve', id, '--step', step, '--reason', 'INC-1', '--approver', 'ana');
      assert.equal(ok.exitCode, 0, ok.stderr);
    }
    const watched = await runbook('status', id, '--watch', '--interval', '200');
    assert.equal(watched.exitCode, 0, watched.stderr);
    assert.match(watched.stdout, /✔ replay-binlogs\s+done/);
    assert.match(watched.stdout, /status: COMPLETED/);

    const out = join(acc.base, 'cli-history.json');
    const h = await runbook('history', id, '--out', out);
    assert.equal(h.exitCode, 0, h.stderr);
    await Worker.runReplayHistory(
      { workflowBundle: await workflowBundle() },
      historyFromJSON(JSON.parse(await readFile(out, 'utf8'))),
      id,
    );
  });

  test('setup-namespace registers the four search attributes on a namespace that lacks them, once', async () => {
    const ns = `cli-ns-${Date.now()}`;
    await execa(temporalCli(), [
      'operator',
      'namespace',
      'create',
      '--address',
      temporalAddress(),
      '--namespace',
      ns,
    ]);
    const first = await runbook('setup-namespace', '--namespace', ns);
    assert.equal(first.exitCode, 0, first.stderr);
    assert.match(
      first.stdout,
      new RegExp(`registered RunbookKind, RunbookStep, RecoveryTarget, Cluster on ${ns}`),
    );
    const listed = await execa(temporalCli(), [
      'operator',
      'search-attribute',
      'list',
      '--address',
      temporalAddress(),
      '--namespace',
      ns,
      '--output',
      'json',
    ]);
    for (const name of ['RunbookKind', 'RunbookStep', 'RecoveryTarget', 'Cluster'])
      assert.match(listed.stdout, new RegExp(`"${name}"`));
    const again = await runbook('setup-namespace', '--namespace', ns);
    assert.match(again.stdout, /already has/);
  });

  test('rollback <run>: a recovery that failed after the pause is rolled back from its own input', async () => {
    // The update of a row the binlog never had cannot apply: the replay fails after pause and restore.
    const cluster = {
      adapter: 'kubernetes',
      name: 'shop',
      namespace: 'db',
      resource: 'shop',
      connection: acc.source.endpoint,
    };
    const file = await inputFile({ cluster, target: { type: 'latest' } });
    const failed = await runbook(
      'start',
      'perconaPointInTimeRecovery',
      '--input',
      file,
      '--id',
      'cli-to-roll-back',
      '--wait',
    );
    assert.equal(failed.exitCode, 1);
    assert.match(
      failed.stderr,
      /To put production back as it was before this run: runbook rollback cli-to-roll-back/,
    );
    const r = await runbook('rollback', 'cli-to-roll-back', '--no-require-approval', '--wait');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^started perconaRollback cli-to-roll-back-rollback for cli-to-roll-back/m);
    const result = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as {
      steps: { name: string; status: string; evidence: string[] }[];
    };
    assert.ok(result.steps.every((s) => s.status === 'done' || s.status === 'skipped-by-checkpoint'));
    assert.match(result.steps.at(-1)!.evidence.join(' '), /as when the recovery paused it/);
    // Refused before anything starts: an unknown run, and a run that is not a Percona recovery.
    const unknown = await runbook('rollback', 'no-such-run');
    assert.equal(unknown.exitCode, 2);
    assert.match(unknown.stderr, /no run with workflow id no-such-run/);
    const again = await runbook('rollback', 'cli-to-roll-back-rollback');
    assert.equal(again.exitCode, 2);
    assert.match(again.stderr, /is a perconaRollback run: rollback undoes perconaPointInTimeRecovery runs/);
  });

  test("cancel ends a run waiting for approval; status then shows it cancelled, not 'waiting-approval'", async () => {
    const id = `cli-cancel-${Date.now()}`;
    await runbook(
      'start',
      'perconaPointInTimeRecovery',
      '--input',
      await inputFile({ requireApproval: true }),
      '--id',
      id,
    );
    let before = await runbook('status', id);
    for (let i = 0; i < 50 && !/waiting-approval/.test(before.stdout); i++)
      before = await runbook('status', id);
    assert.match(before.stdout, /⏸ pause-cluster\s+waiting-approval/);
    const c = await runbook('cancel', id);
    assert.equal(c.exitCode, 0, c.stderr);
    const s = await runbook('status', id, '--watch', '--interval', '200');
    assert.match(s.stdout, /status: CANCELLED/);
    assert.match(s.stdout, /⊘ pause-cluster\s+cancelled\s.*run cancelled while waiting for approval/);
    assert.doesNotMatch(s.stdout, /waiting-approval/);
    assert.match(s.stdout, /✔ locate-binlogs\s+done/, 'steps that finished keep their status');

    const h = await runbook('history', id);
    assert.equal(h.exitCode, 0, h.stderr);
    assert.match(h.stdout, /WorkflowExecutionCancelRequested/);
    assert.match(h.stdout, /UpsertWorkflowSearchAttributes +RunbookStep=pause-cluster:awaiting-approval/);
    // The Percona runbook reports what a cancel left, so the run closes as failed on its cancellation.
    assert.match(h.stdout, /WorkflowExecution(Canceled|Failed +Workflow cancelled)/);
  });
});

describe('signed approvals: M of N keys the catalog names', () => {
  test('forged, unsigned, replayed, stale, expired and early approvals lose; two distinct signatures let the step run', async () => {
    const key = () => ed25519.utils.randomSecretKey();
    const keys = { ana: key(), bob: key(), carol: key(), mallory: key() };
    const pub = (k: Uint8Array) => Buffer.from(ed25519.getPublicKey(k)).toString('base64');
    const carolKeyFile = join(acc.base, 'carol.key');
    await writeFile(carolKeyFile, Buffer.from(keys.carol).toString('base64'), { mode: 0o600 });
    const looseKeyFile = join(acc.base, 'carol-loose.key');
    await writeFile(looseKeyFile, Buffer.from(keys.carol).toString('base64'), { mode: 0o644 });

    n++;
    const request = await catalogRequest(
      'perconaPointInTimeRecovery',
      {
        cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'shop' },
        backup: { dir: acc.backupDir },
        restore: { datadir: join(acc.base, `cli-signed-${n}`, 'data') },
        archive: { kind: 'fs', dir: acc.source.archiveDir },
        target: { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
      },
      {
        approval: {
          approvers: [
            { name: 'ana', publicKey: pub(keys.ana) },
            { name: 'bob', publicKey: pub(keys.bob) },
            { name: 'carol', publicKey: pub(keys.carol) },
          ],
          quorum: 2,
        },
      },
    );
    const connection = await Connection.connect({ address: temporalAddress() });
    const client = new Client({ connection });
    // Named like its saved history: the replay suite replays a history under its file name, and the
    // signed start covers the workflow id.
    const id = 'percona-pitr-signed-approvals.json';
    // Ana starts the run, signed: her name is proven, so she may not approve it.
    const startedBy = (who: 'ana' | 'mallory', as: string, workflowId: string) => {
      const expiresAt = new Date(Date.now() + 600_000).toISOString();
      const digest = requestDigest(request as Record<string, unknown>);
      const claim = { workflowId, kind: 'perconaPointInTimeRecovery', digest, expiresAt };
      return { name: as, expiresAt, signature: signStart(keys[who], claim) };
    };
    // A forged start (mallory signing as bob) ends before any step.
    const forgedId = `${id}-forged`;
    const forged = await client.workflow.start('perconaPointInTimeRecovery', {
      taskQueue: worker.taskQueue,
      workflowId: forgedId,
      args: [{ ...(request as object), startedBy: startedBy('mallory', 'bob', forgedId) }],
    });
    await assert.rejects(forged.result(), (err: Error) => {
      assert.match(String((err.cause as Error)?.message), /startedBy: the signature is not bob's/);
      return true;
    });
    const handle = await client.workflow.start('perconaPointInTimeRecovery', {
      taskQueue: worker.taskQueue,
      workflowId: id,
      args: [{ ...(request as object), startedBy: startedBy('ana', 'ana', id) }],
    });
    try {
      let p: RunbookProgress = await handle.query(progressQuery);
      for (let i = 0; i < 200 && pauseStep(p)?.status !== 'waiting-approval'; i++) {
        await acc.sleep(100);
        p = await handle.query(progressQuery);
      }
      const pause = p.steps.find((s) => s.name === 'pause-cluster')!;
      assert.equal(pause.status, 'waiting-approval');
      assert.match(pause.approvalDigest ?? '', /^[0-9a-f]{64}$/);
      const runId = (await handle.describe()).runId;
      const claim = (o: Partial<Parameters<typeof signApproval>[1]> = {}) => ({
        workflowId: id,
        runId,
        step: 'pause-cluster',
        digest: pause.approvalDigest!,
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
        reason: 'INC-42',
        ...o,
      });
      const signed = (who: 'ana' | 'bob' | 'carol' | 'mallory', as: string, c = claim()) =>
        signedApproval(keys[who], as, c);
      const approve = (a: Approval) => handle.executeUpdate(approveUpdate, { args: [a] });

      const attacks: [string, Approval, RegExp][] = [
        [
          'a typed name',
          { step: 'pause-cluster', approver: 'bob', reason: 'INC-42' },
          /is signed: give expiresAt and signature/,
        ],
        ['mallory signing as bob', signed('mallory', 'bob'), /the signature is not bob's/],
        ['mallory as herself', signed('mallory', 'mallory'), /"mallory" is not an approver of this cluster/],
        [
          'a signature of another run',
          signed('bob', 'bob', claim({ workflowId: 'another-run' })),
          /the signature is not bob's/,
        ],
        [
          'a signature over another digest (another plan)',
          signed('bob', 'bob', claim({ digest: '0'.repeat(64) })),
          /the signature is not bob's/,
        ],
        [
          'a signature whose reason was changed afterwards',
          { ...signed('bob', 'bob'), reason: 'INC-43' },
          /the signature is not bob's/,
        ],
        [
          'an expired signature',
          signed('bob', 'bob', claim({ expiresAt: new Date(Date.now() - 1000).toISOString() })),
          /expired/,
        ],
        [
          'a signature valid for a week',
          signed('bob', 'bob', claim({ expiresAt: new Date(Date.now() + 7 * 86400_000).toISOString() })),
          /at most 24 hours/,
        ],
        [
          'a step that is not waiting yet',
          signed('bob', 'bob', claim({ step: 'restore-backup' })),
          /not waiting for approval/,
        ],
        [
          'the starter approving her own run',
          signed('ana', 'ana'),
          /ana started this run: the catalog does not let the starter approve it/,
        ],
      ];
      for (const [name, a, expected] of attacks)
        assert.match(await updateRejection(approve(a)), expected, name);

      await approve(signed('bob', 'bob'));
      assert.match(
        await updateRejection(approve(signed('bob', 'bob'))),
        /bob already approved pause-cluster/,
      );
      p = await handle.query(progressQuery);
      assert.equal(pauseStep(p)?.status, 'waiting-approval', 'one of two approvals: still waiting');

      const loose = await approveWithKey(id, 'carol', looseKeyFile);
      assert.equal(loose.exitCode, 2);
      assert.match(loose.stderr, /readable by others/);
      const ok = await approveWithKey(id, 'carol', carolKeyFile);
      assert.equal(ok.exitCode, 0, ok.stderr);
      for (let i = 0; i < 200 && pauseStep(p)?.status === 'waiting-approval'; i++) {
        await acc.sleep(100);
        p = await handle.query(progressQuery);
      }
      const approved = pauseStep(p)!;
      assert.notEqual(approved.status, 'waiting-approval');
      assert.deepEqual(
        approved.approvals?.map((a) => a.approver),
        ['bob', 'carol'],
      );
      assert.match(
        approved.evidence.join('\n'),
        /approved by carol \(Ed25519 key sha256:[0-9a-f]{16}, signature verified/,
      );
      assert.match(
        approved.evidence.join('\n'),
        /approved by bob \(Ed25519 key sha256:[0-9a-f]{16}, signature verified/,
      );

      // The CLI signs a start too: the run knows (and the history shows) who started it.
      const anaKeyFile = join(acc.base, 'ana.key');
      await writeFile(anaKeyFile, Buffer.from(keys.ana).toString('base64'), { mode: 0o600 });
      const requestFile = join(acc.base, 'signed-request.json');
      await writeFile(requestFile, JSON.stringify(request));
      const cliId = `${id}-cli-start`;
      const started = await runbook(
        'start',
        'perconaPointInTimeRecovery',
        '--input',
        requestFile,
        '--id',
        cliId,
        '--key',
        anaKeyFile,
        '--approver',
        'ana',
      );
      assert.equal(started.exitCode, 0, started.stderr);
      const cliRun = client.workflow.getHandle(cliId);
      let q: RunbookProgress | null = null;
      for (let i = 0; i < 200 && pauseStep(q)?.status !== 'waiting-approval'; i++) {
        await acc.sleep(100);
        q = await cliRun.query(progressQuery).catch(() => null);
      }
      assert.equal(pauseStep(q)?.status, 'waiting-approval', 'the signed start was accepted');
      const refused = await approveWithKey(cliId, 'ana', anaKeyFile);
      assert.equal(refused.exitCode, 2);
      assert.match(refused.stderr, /ana started this run/);
      await cliRun.terminate('signed start checked');
    } finally {
      await handle.terminate('signed approval test done').catch(() => {});
      // With RECORD_HISTORIES=1, the history (signed Updates included) is saved for the replay suite.
      if (process.env.RECORD_HISTORIES === '1')
        await saveHistory(temporalAddress(), id, join(historiesDir, 'percona-pitr-signed-approvals.json'));
      await connection.close();
    }
  });
});

describe('an unsigned start proves no starter', () => {
  test('with quorum 1, the one approval of an approver who may have started the run is not enough: a second approver must sign', async () => {
    const keys = { ana: ed25519.utils.randomSecretKey(), bob: ed25519.utils.randomSecretKey() };
    const pub = (k: Uint8Array) => Buffer.from(ed25519.getPublicKey(k)).toString('base64');
    n++;
    const datadir = join(acc.base, `cli-unsigned-${n}`, 'data');
    const request = await catalogRequest(
      'perconaPointInTimeRecovery',
      {
        cluster: { adapter: 'kubernetes', name: 'shop', namespace: 'db', resource: 'shop' },
        backup: { dir: acc.backupDir },
        restore: { datadir },
        archive: { kind: 'fs', dir: acc.source.archiveDir },
        target: { type: 'gtid', gtid: acc.dropGtid, exclusive: true },
      },
      {
        approval: {
          approvers: [
            { name: 'ana', publicKey: pub(keys.ana) },
            { name: 'bob', publicKey: pub(keys.bob) },
          ],
          quorum: 1,
        },
      },
    );
    const connection = await Connection.connect({ address: temporalAddress() });
    const client = new Client({ connection });
    // Ana starts it without signing (as `temporal workflow start` would), then approves it herself.
    const handle = await client.workflow.start('perconaPointInTimeRecovery', {
      taskQueue: worker.taskQueue,
      workflowId: `unsigned-start-${n}-${Date.now()}`,
      args: [request],
    });
    try {
      let p: RunbookProgress = await handle.query(progressQuery);
      for (let i = 0; i < 200 && pauseStep(p)?.status !== 'waiting-approval'; i++) {
        await acc.sleep(100);
        p = await handle.query(progressQuery);
      }
      const pause = pauseStep(p)!;
      assert.equal(pause.status, 'waiting-approval');
      assert.equal(pause.approvalsNeeded, 2, 'the quorum plus one: the starter is not known');
      const { runId } = await handle.describe();
      const signed = (who: 'ana' | 'bob') =>
        signedApproval(keys[who], who, {
          workflowId: handle.workflowId,
          runId,
          step: 'pause-cluster',
          digest: pause.approvalDigest!,
          expiresAt: new Date(Date.now() + 600_000).toISOString(),
          reason: 'INC-77',
        });
      await handle.executeUpdate(approveUpdate, { args: [signed('ana')] });
      assert.match(
        await updateRejection(handle.executeUpdate(approveUpdate, { args: [signed('ana')] })),
        /ana already approved pause-cluster: it needs 2 distinct approvers \(one more than the quorum: the start was not signed/,
      );
      await acc.sleep(500);
      p = await handle.query(progressQuery);
      assert.equal(pauseStep(p)?.status, 'waiting-approval', "ana's approval alone ran nothing");
      const afterPause = p.steps.slice(p.steps.findIndex((s) => s.name === 'pause-cluster') + 1);
      assert.deepEqual(
        afterPause.map((s) => s.status),
        afterPause.map(() => 'pending'),
      );
      await handle.executeUpdate(approveUpdate, { args: [signed('bob')] });
      for (let i = 0; i < 200 && pauseStep(p)?.status === 'waiting-approval'; i++) {
        await acc.sleep(100);
        p = await handle.query(progressQuery);
      }
      assert.notEqual(pauseStep(p)?.status, 'waiting-approval', "bob's approval completes it");
      // The host that ran the approved step journalled both approvals, with their keys, before acting.
      const journal = await approvalJournalPath(handle.workflowId);
      let lines: { approver: string; key: string; step: string }[] = [];
      for (let i = 0; i < 100 && lines.length < 2; i++) {
        lines = (await readFile(journal, 'utf8').catch(() => ''))
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as (typeof lines)[0]);
        if (lines.length < 2) await acc.sleep(100);
      }
      assert.deepEqual(
        lines.map((l) => [l.step, l.approver]),
        [
          ['pause-cluster', 'ana'],
          ['pause-cluster', 'bob'],
        ],
      );
      for (const l of lines) assert.match(l.key, /^sha256:[0-9a-f]{16}$/);
    } finally {
      await handle.terminate('unsigned start checked').catch(() => {});
      await connection.close();
    }
  });
});

describe('the real temporal CLI', () => {
  test('temporal workflow start --type … --input-file … runs a recovery to the end', async () => {
    const id = `temporal-cli-${Date.now()}`;
    const file = await inputFile();
    const cli = temporalCli();
    const start = await execa(cli, [
      'workflow',
      'start',
      '--address',
      temporalAddress(),
      '--type',
      'perconaPointInTimeRecovery',
      '--task-queue',
      worker.taskQueue,
      '--workflow-id',
      id,
      '--input-file',
      file,
    ]);
    assert.match(start.stdout, new RegExp(id));
    const result = await execa(cli, [
      'workflow',
      'result',
      '--address',
      temporalAddress(),
      '--workflow-id',
      id,
      '--output',
      'json',
    ]);
    const parsed = JSON.parse(result.stdout) as { status: string; result: PerconaResult };
    assert.equal(parsed.status, 'COMPLETED');
    assert.deepEqual(parsed.result.tables, acc.truth);
  });
});
