#!/usr/bin/env node
// `runbook` executable (package.json "bin"): loads the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./runbook.ts');
process.exit(await main(process.argv.slice(2)));
