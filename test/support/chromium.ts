// Headless Chromium for the browser tests: Debian's (installed by scripts/bootstrap.sh), driven by
// playwright-core, which never downloads one; a throwaway profile, nothing fetched in the background.
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface HeadlessChromium {
  page: Page;
  close(): Promise<void>;
}

export async function launchChromium(viewport: { width: number; height: number }): Promise<HeadlessChromium> {
  await access(CHROMIUM).catch(() => {
    throw new Error(`${CHROMIUM} is missing: run scripts/bootstrap.sh (it installs Debian's chromium)`);
  });
  const profile = await mkdtemp(join(tmpdir(), 'test-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport,
  });
  return {
    page: context.pages()[0] ?? (await context.newPage()),
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
