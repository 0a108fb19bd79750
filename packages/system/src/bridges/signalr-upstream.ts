/**
 * The hub's upstream, in process: the SignalR service posts its upstream requests (connection
 * events and client invocations) through a `fetch` of its own, and this one hands them to the
 * functions host's `signalRTrigger` extension instead of a socket. The requests are the ones Azure
 * SignalR sends — signed, with the `X-ASRS-*` headers — so the trigger checks them as it checks
 * those that reach `/runtime/webhooks/signalr` over HTTP.
 * @module
 */
import type { SignalRTriggerExtension } from '@hubbub/functions';
import type { UpstreamRule } from '@hubbub/hub';

/** The path the Functions host serves upstream requests at, as in Azure. */
export const SIGNALR_UPSTREAM_PATH = '/runtime/webhooks/signalr';

/** The one upstream rule of a function app at `baseUrl`: every hub, category and event. */
export function functionsUpstream(baseUrl: string): UpstreamRule {
  return { urlTemplate: `${baseUrl.replace(/\/+$/, '')}${SIGNALR_UPSTREAM_PATH}` };
}

/** A `fetch` for the service's `upstreamOptions` that delivers to `extension` in process. */
export function upstreamFetch(extension: Pick<SignalRTriggerExtension, 'deliver'>): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const body = new Uint8Array(await request.arrayBuffer());
    request.signal.throwIfAborted();
    const reply = await extension.deliver({ headers, body });
    const nullBody = reply.status === 204 || reply.status === 304;
    return new Response(nullBody ? null : reply.body, { status: reply.status, headers: reply.headers });
  };
}
