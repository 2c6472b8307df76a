// Failure messages and stack traces go into the failure's encoded attributes, so the payload codec
// encrypts them like every other payload: with RUNBOOK_CODEC_KEY set, an error that names a path,
// a table or a host is ciphertext in history too. Loaded by path (workers/codec.ts) into the
// workflow bundle and the worker's activity side; clients decode encoded attributes by default.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
