import { fileURLToPath } from 'node:url';

export const historiesDir = fileURLToPath(new URL('../histories', import.meta.url));
