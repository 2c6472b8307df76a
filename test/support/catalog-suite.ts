// What every file of the bad-input catalog (test/integration/bad-input/, one file per runbook) shares.
// The catalog: every request the five runbooks must refuse, each run for real against a world of real
// servers (one per runbook, built once), and each checked the same way — a readable, non-retryable
// error, no activity retried, no destructive step started (the run's own history and progress), and
// nothing changed in the world (its nothingChanged helper); the case runner is catalog-case.ts. Cases
// that cannot interfere run at the same time; cases that damage a world on purpose (an index row, the
// THL) run one by one. Every request asks for approval, so one that wrongly gets past its plan stops
// at the first destructive step's gate (and fails) instead of changing the world under the other
// cases. A case that shows a product bug is a `todo` naming the bug: it runs and is in the table,
// never a pass. A table of every case of the file is printed at the end (each test file runs in a
// process of its own, so each prints its own runbook's table and count).
import { after, before } from 'node:test';
import type { Client } from '@temporalio/client';
import { catalogRows, formatCatalogTable } from './catalog-case';
import { useStandIns } from './percona-scenario';
import { startWorker, testClient, uniqueQueue, type RunningWorker } from './temporal';

/** The name of an environment variable the worker does not have. */
export const UNSET_ENV = 'CATALOG_SECRET_NOT_SET_ANYWHERE';
export const ONE_MB = 'x'.repeat(1024 * 1024);

/**
 * The stand-ins first on PATH, a worker and a client for the file (before its cases), and the table
 * of its cases at the end. Call once, at the top of a catalog file; pass the result to catalogTests.
 */
export function catalogFile(): { client: () => Client; taskQueue: () => string } {
  useStandIns();

  let worker: RunningWorker;
  let client: Client;
  let closeClient: () => Promise<void>;

  before(async () => {
    delete process.env[UNSET_ENV];
    worker = await startWorker(uniqueQueue('catalog'));
    ({ client, close: closeClient } = await testClient());
  });

  after(async () => {
    await worker?.stop();
    await closeClient?.();
    console.log(`\n${formatCatalogTable(catalogRows)}\n`);
  });

  return { client: () => client, taskQueue: () => worker.taskQueue };
}
