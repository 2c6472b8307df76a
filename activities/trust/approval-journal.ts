// Activity interceptor: before an activity runs, the approvals its run has accepted so far (a header
// the workflow adds, workflows/approval-header.ts) are appended to this host's journal of that
// recovery, one line each, once: who approved which step, with which key, why, until when, and the
// signature itself, so the host keeps its own audit trail of what it was authorised to do. A journal
// that cannot be written stops the activity (retried): the work never runs unrecorded.
import { defaultPayloadConverter } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { APPROVALS_HEADER } from '../../workflows/approval-header';
import type { ApprovalRecord } from '../../workflows/kit';
import { SLUG_PATTERN } from '../../workflows/schemas';
import { appendDurably } from '../runtime/durable-file';
import { ensureStateDir } from '../runtime/state-dir';
import { failure } from '../../workflows/failures';

interface ApprovalsHeader {
  recoveryId: string;
  kind: string;
  approvals: ApprovalRecord[];
}

/** This host's journal of a recovery's approvals: `<state dir>/approvals/<recoveryId>.journal`. */
export async function approvalJournalPath(recoveryId: string): Promise<string> {
  return join(await ensureStateDir('approvals'), `${recoveryId}.journal`);
}

/** Appends the approvals not yet in the journal; returns how many were new. */
export async function journalApprovals(h: ApprovalsHeader): Promise<number> {
  if (!SLUG_PATTERN.test(h.recoveryId))
    throw failure('InvalidInput', `not a recovery id: ${JSON.stringify(h.recoveryId.slice(0, 80))}`);
  const file = await approvalJournalPath(h.recoveryId);
  const seen = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  const known = new Set(
    seen
      .split('\n')
      .filter(Boolean)
      .map((line) => identity(JSON.parse(line) as ApprovalRecord)),
  );
  const fresh = h.approvals.filter((a) => !known.has(identity(a)));
  if (!fresh.length) return 0;
  const at = new Date().toISOString();
  const lines = fresh.map((a) => JSON.stringify({ at, kind: h.kind, recoveryId: h.recoveryId, ...a }) + '\n');
  // Synced before the work it records goes on: the record survives a host crash that follows.
  await appendDurably(file, lines.join(''));
  return fresh.length;
}

const identity = (a: ApprovalRecord) => `${a.step}\u0000${a.approver}\u0000${a.signature ?? a.reason}`;

function readHeader(input: ActivityExecuteInput): ApprovalsHeader | undefined {
  const payload = input.headers[APPROVALS_HEADER];
  if (!payload) return undefined;
  const h = defaultPayloadConverter.fromPayload<ApprovalsHeader>(payload);
  if (!h || typeof h.recoveryId !== 'string' || !Array.isArray(h.approvals)) return undefined;
  return h;
}

export class ApprovalJournal implements ActivityInboundCallsInterceptor {
  async execute(
    input: ActivityExecuteInput,
    next: Next<ActivityInboundCallsInterceptor, 'execute'>,
  ): Promise<unknown> {
    const h = readHeader(input);
    if (h) await journalApprovals(h);
    return next(input);
  }
}

/** For `Worker.create({ interceptors: { activity: [approvalJournal] } })`. */
export const approvalJournal = () => ({ inbound: new ApprovalJournal() });
