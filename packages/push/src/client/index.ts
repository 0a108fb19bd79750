/**
 * `@hubbub/push/client`: a TypeScript client for a Notification Hubs front — installations, sends
 * (native or template; broadcast, tag expression, installation, handle; scheduled and cancelled),
 * outcome details — over HTTPS trusting the local CA through the `ca` option.
 * @module
 */

export { isPushError, PushError, type PushErrorCode } from '../errors.ts';
export type { InstallationListing, InstallationListPage, NotificationDetails } from './answers.ts';
export {
  createPushClient,
  type ListInstallationsQuery,
  type PushClient,
  type PushClientOptions,
  parseConnectionString,
} from './client.ts';
