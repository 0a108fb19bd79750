/** Test helpers for the CLI and the apps: a real browser, and scripts run as processes. */
export { browserSkipReason, chromiumPath, launchBrowser } from './browser.ts';
export { hubbub, type Running, type RunOptions, ran, runScript } from './cli.ts';
