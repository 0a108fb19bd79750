/**
 * Debian's chromium driven by playwright-core (never a downloaded browser), shared by the browser
 * tests of the CLI and the apps (`@hubbub/test-kit`). Under CI a missing
 * browser fails the test; elsewhere the test is skipped with what to install.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** `false` when the browser can be launched, else the reason to skip. */
export function browserSkipReason(): string | false {
  if (existsSync(chromiumPath)) return false;
  if (process.env.CI) throw new Error(`${chromiumPath} is missing: .ci/run must install Debian's chromium package.`);
  return `no browser at ${chromiumPath}: run 'apt-get install chromium' to run the browser tests`;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
