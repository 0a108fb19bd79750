export { bearerToken, type HubAuthOptions } from './auth.ts';
export {
  type Audience,
  type Backplane,
  type BackplaneMessage,
  type ClusterNode,
  type ClusterPresence,
  createInProcessBackplane,
  type Exclusions,
  type PresenceChange,
  type PresenceQuery,
} from './backplane.ts';
export type { CallerClients, ClientProxy, HubClients, SingleClientProxy } from './clients.ts';
export { ConnectionState, type HubConnection, type Principal } from './connection.ts';
export { type CorsHandler, type CorsOptions, createCors } from './cors.ts';
export { HubError, HubErrorCode } from './errors.ts';
export { type GroupManager, Hub, type HubEvents, type InvocationContext } from './hub.ts';
export { HubMethodError, type InvocationFallback, type MethodOptions } from './invoker.ts';
export type { HubServerOptions } from './options.ts';
export { createHubServer, HubServer, type HubServerEvents, type ListenOptions } from './server.ts';
export { type ClusterOptions, pickNode } from './serverless/cluster.ts';
export {
  type ConnectionString,
  formatConnectionString,
  parseConnectionString,
} from './serverless/connection-string.ts';
export { createRestApi, type RestApiOptions } from './serverless/rest-api.ts';
export {
  createSignalRService,
  SignalRService,
  type SignalRServiceEvents,
  type SignalRServiceOptions,
} from './serverless/service.ts';
export {
  type AccessKey,
  type ClientAccess,
  type ClientAccessOptions,
  type ClientTokenOptions,
  clientUrl,
  createClientAccess,
  createClientToken,
  createServerToken,
  createTokenVerifier,
  type ServerTokenOptions,
  type TokenVerifier,
  type TokenVerifierOptions,
} from './serverless/tokens.ts';
export {
  type UpstreamOptions,
  type UpstreamRule,
  upstreamSignature,
  verifyUpstreamSignature,
} from './serverless/upstream.ts';
export { OutboundFrame, TransportKind } from './transport.ts';
