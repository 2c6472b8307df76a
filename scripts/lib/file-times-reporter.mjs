// A node:test reporter (scripts/run-tests.ts adds it beside `spec`): one line per test file when the
// file ends, with its wall time, e.g. "✓ test/integration/cli.test.ts  12.3 s". Plain JavaScript:
// the runner loads reporters before tsx is registered.
import { relative } from 'node:path';

/** @param {AsyncIterable<{ type: string, data: any }>} source */
export default async function* fileTimes(source) {
  for await (const e of source) {
    const d = e.data;
    // The runner reports each file as a test of its own, named by its path, once the file is done.
    if (e.type === 'test:complete' && d.nesting === 0 && d.file && d.name === d.file) {
      const seconds = ((d.details?.duration_ms ?? 0) / 1000).toFixed(1);
      yield `${d.details?.passed === false ? '✗' : '✓'} ${relative(process.cwd(), d.file)}  ${seconds} s\n`;
    }
  }
}
