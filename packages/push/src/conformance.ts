/**
 * `@hubbub/push/conformance`: the suites every implementation of the push service's ports runs —
 * {@link describeInstallationRepository}, {@link describePushQueue} and {@link describeOutcomeStore}.
 * @module
 */
export { describeOutcomeStore, type OutcomeStoreSuiteOptions } from './outcome-conformance.ts';
export { describePushQueue, type PushQueueSuiteOptions } from './queue-conformance.ts';
export {
  describeInstallationRepository,
  type InstallationRepositorySuiteOptions,
  sampleInstallation,
} from './repository-conformance.ts';
