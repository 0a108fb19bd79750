/**
 * Debian's chromium for the delivery app's browser tests (the launcher the CLI's tests use), and
 * where this app's screenshots go.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { browserSkipReason, launchBrowser as launch } from '@hubbub/test-kit';
import type { Browser } from 'playwright-core';

export { browserSkipReason };

/** Where screenshots go (gitignored). */
export const artifactsDir = fileURLToPath(new URL('../../../test-artifacts/delivery/', import.meta.url));

export function launchBrowser(): Promise<Browser> {
  mkdirSync(artifactsDir, { recursive: true });
  return launch();
}
