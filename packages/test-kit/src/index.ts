/**
 * @hubbub/test-kit — private helpers for the tests of the CLI, the system and the apps: a real
 * browser (Debian's chromium through playwright-core) and scripts run as processes.
 * @module
 */
export { browserSkipReason, chromiumPath, launchBrowser } from './browser.ts';
export { hubbub, type Running, type RunOptions, ran, runScript } from './processes.ts';
