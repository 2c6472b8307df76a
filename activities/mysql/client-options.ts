// Command-line clients get credentials through a private option file, never argv (argv is visible
// to every user in `ps`). Without a password, `--no-defaults` keeps /etc/mysql out of the way.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Endpoint } from '../../workflows/schemas';
import { clientTlsArgs } from './endpoint-tls';
import { resolveSecret } from '../trust/secrets';
import { ensureStateDir } from '../runtime/state-dir';
import { failure } from '../../workflows/failures';

export interface ClientOptions {
  /** Arguments to put right after the program name (the defaults option must come first). */
  args: string[];
  secrets: string[];
  cleanup(): Promise<void>;
}

function optionValue(v: string): string {
  if (/[\n\r\0]/.test(v))
    throw failure('SecretUnavailable', 'a credential contains a newline or NUL and cannot be used');
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export async function clientOptions(
  e: Endpoint,
  dialect: 'mariadb' | 'mysql' = 'mariadb',
): Promise<ClientOptions> {
  const password = await resolveSecret(e.password);
  const target = e.socket
    ? [`--socket=${e.socket}`]
    : [`--host=${e.host}`, `--port=${e.port ?? 3306}`, '--protocol=TCP', ...clientTlsArgs(e, dialect)];
  const user = [`--user=${e.user}`];
  if (password === undefined)
    return { args: ['--no-defaults', ...target, ...user], secrets: [], cleanup: async () => {} };
  const dir = await mkdtemp(join(await ensureStateDir('auth'), 'client-'));
  const file = join(dir, 'client.cnf');
  await writeFile(
    file,
    `[client]\npassword=${optionValue(password)}\n[mysqlbinlog]\npassword=${optionValue(password)}\n`,
    { mode: 0o600 },
  );
  return {
    args: [`--defaults-file=${file}`, ...target, ...user],
    secrets: [password],
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
