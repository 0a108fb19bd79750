/**
 * `@hubbub/push/conformance`: the suites every implementation of the push service's ports runs —
 * {@link describeInstallationRepository} and {@link describePushQueue}.
 * @module
 */
export { describePushQueue, type PushQueueSuiteOptions } from './queue-conformance.ts';
export {
  describeInstallationRepository,
  type InstallationRepositorySuiteOptions,
  sampleInstallation,
} from './repository-conformance.ts';
