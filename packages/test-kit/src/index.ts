/**
 * @hubbub/test-kit — private helpers for the tests of the CLI, the system and the apps: a real
 * browser (Debian's chromium through playwright-core), scripts run as processes, and the
 * `@azure/service-bus` SDK's scripts (the seed's `sendToQueue.js` among them) run as a user runs them.
 * @module
 */
export { browserSkipReason, chromiumPath, launchBrowser } from './browser.ts';
export { hubbub, type Running, type RunOptions, ran, runScript } from './processes.ts';
export {
  runSdkScript,
  type SdkScriptOptions,
  sdk7Sender,
  seedSampleDir,
  seedSampleSkipReason,
  seedSender,
} from './sdk-scripts.ts';
