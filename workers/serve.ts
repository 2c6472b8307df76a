// What the controller and the host agent do once built: poll until SIGINT/SIGTERM, then close their
// SQL pools and connection; and exit 1 with a one-line message (never a stack) when start-up fails.
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { ActivityDeps } from '../activities';

export async function serveUntilStopped(
  worker: Worker,
  deps: ActivityDeps,
  connection: NativeConnection,
): Promise<void> {
  try {
    await worker.run();
  } finally {
    await deps.sql.closeAll();
    await connection.close();
  }
}

export function runMain(label: string, main: () => Promise<void>): void {
  // What a worker creates (ledgers, staged binlogs, option files, logs) is its user's alone; a
  // mysqld it starts keeps its own modes within this (it runs as the files' owner).
  process.umask(0o077);
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`${label}: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
