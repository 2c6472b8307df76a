// `runbook approve` and `runbook keygen`: approving a waiting destructive step (signed with an Ed25519
// key when the catalog names approvers) and making such a key.
import type { Command } from 'commander';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { ed25519 } from '@noble/curves/ed25519.js';
import { userInfo } from 'node:os';
import { approveUpdate, progressQuery, type Approval } from '../../workflows/kit';
import { signApproval } from '../../workflows/approval-signature';
import { CliError, connect, type GlobalOptions } from './connect';

/** An Ed25519 secret key file (runbook keygen: 32 bytes in base64); a loose file is refused. */
export async function readSecretKey(file: string): Promise<Uint8Array> {
  const st = await stat(file).catch(() => null);
  if (!st) throw new CliError(`cannot read the key ${file}`, 2);
  if (st.mode & 0o077) throw new CliError(`the key ${file} is readable by others (chmod 600 it)`, 2);
  const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
  if (key.length !== 32) throw new CliError(`${file} is not an Ed25519 secret key (32 bytes in base64)`, 2);
  return new Uint8Array(key);
}

export function addApproveAndKeygenCommands(program: Command, g: () => GlobalOptions): void {
  program
    .command('approve <workflowId>')
    .description(
      'approve a destructive step while it waits; with --key, signed (what a cluster whose catalog names approvers requires)',
    )
    .requiredOption('--step <name>', 'the step to approve')
    .requiredOption('--reason <text>', 'why (e.g. the incident number)')
    .option(
      '--approver <name>',
      'who approves (your name in the catalog)',
      process.env.USER ?? userInfo().username,
    )
    .option('--key <file>', 'your Ed25519 secret key (runbook keygen)')
    .option('--valid-for <minutes>', 'how long the signature counts', '15')
    .option(
      '--print',
      'print the signed Update input (for temporal workflow update execute) instead of sending it',
    )
    .action(
      async (
        id: string,
        o: {
          step: string;
          reason: string;
          approver: string;
          key?: string;
          validFor: string;
          print?: boolean;
        },
      ) => {
        const { client, connection } = await connect(g());
        try {
          const handle = client.workflow.getHandle(id);
          const approval: Approval = { step: o.step, approver: o.approver, reason: o.reason };
          if (o.key) {
            // The signature binds this run, this step and the digest of what it waits on, until expiresAt.
            const d = await handle.describe();
            const waiting = (await handle.query(progressQuery)).steps.find((s) => s.name === o.step);
            if (!waiting?.approvalDigest)
              throw new CliError(`step ${o.step} of ${id} is not waiting for a signed approval`, 2);
            approval.expiresAt = new Date(Date.now() + Number(o.validFor) * 60_000).toISOString();
            approval.signature = signApproval(await readSecretKey(o.key), {
              workflowId: id,
              runId: d.raw.workflowExecutionInfo?.firstRunId ?? d.runId,
              step: o.step,
              digest: waiting.approvalDigest,
              expiresAt: approval.expiresAt,
              reason: o.reason,
            });
          }
          if (o.print) {
            console.log(JSON.stringify(approval));
            return;
          }
          await handle.executeUpdate(approveUpdate, { args: [approval] });
          console.log(`approved ${o.step} of ${id} (${o.approver}${o.key ? ', signed' : ''}: ${o.reason})`);
        } catch (err) {
          if (err instanceof CliError) throw err;
          const e = err as Error;
          throw new CliError(
            `approval refused: ${e.cause instanceof Error ? e.cause.message : e.message}`,
            2,
          );
        } finally {
          await connection.close();
        }
      },
    );

  program
    .command('keygen <file>')
    .description(
      'a new Ed25519 approval key: the secret into <file> (0600), the public key for the catalog printed',
    )
    .action(async (file: string) => {
      const secret = ed25519.utils.randomSecretKey();
      await writeFile(file, `${Buffer.from(secret).toString('base64')}\n`, { mode: 0o600, flag: 'wx' }).catch(
        (err: NodeJS.ErrnoException) => {
          throw new CliError(`cannot write ${file}: ${err.code === 'EEXIST' ? 'it exists' : err.message}`, 2);
        },
      );
      const publicKey = Buffer.from(ed25519.getPublicKey(secret)).toString('base64');
      console.log(JSON.stringify({ name: userInfo().username, publicKey }));
      console.log(`secret key written to ${file}; put the line above in the catalog's approval.approvers`);
    });
}
