/**
 * The hub's upstream, in process: the SignalR service posts its upstream requests (connection
 * events and client invocations) through a `fetch` of its own, and this one hands them to the
 * functions host's `signalRTrigger` extension instead of a socket. The requests are the ones Azure
 * SignalR sends — signed, with the `X-ASRS-*` headers — so the trigger checks them as it checks
 * those that reach `/runtime/webhooks/signalr` over HTTP. The trigger reads the JSON hub protocol;
 * a MessagePack client's invocation is carried across as JSON and its Completion back as
 * MessagePack (binary arguments then reach the function as JSON of their bytes).
 * @module
 */
import type { SignalRTriggerExtension, UpstreamReply } from '@hubbub/functions';
import type { UpstreamRule } from '@hubbub/hub';
import { jsonProtocol, messagePackProtocol, writeVarInt } from '@hubbub/hub-protocol';

/** The path the Functions host serves upstream requests at, as in Azure. */
export const SIGNALR_UPSTREAM_PATH = '/runtime/webhooks/signalr';

const MSGPACK = 'application/x-msgpack';

/** The one upstream rule of a function app at `baseUrl`: every hub, category and event. */
export function functionsUpstream(baseUrl: string): UpstreamRule {
  return { urlTemplate: `${baseUrl.replace(/\/+$/, '')}${SIGNALR_UPSTREAM_PATH}` };
}

/** An unframed MessagePack hub message as the JSON hub message the trigger reads. */
function msgpackToJson(body: Uint8Array): Uint8Array {
  const prefix = new Uint8Array(5);
  const size = writeVarInt(body.byteLength, prefix, 0);
  const framed = new Uint8Array(size + body.byteLength);
  framed.set(prefix.subarray(0, size), 0);
  framed.set(body, size);
  const [message] = messagePackProtocol.parseMessages(framed);
  return Buffer.from(JSON.stringify(message ?? {}));
}

/** A framed JSON Completion as a framed MessagePack one. */
function jsonReplyToMsgpack(reply: UpstreamReply): UpstreamReply {
  if (reply.status !== 200 || reply.body.byteLength === 0) return reply;
  const [message] = jsonProtocol.parseMessages(reply.body);
  if (message === undefined) return reply;
  return {
    ...reply,
    headers: { ...reply.headers, 'content-type': MSGPACK },
    body: messagePackProtocol.writeMessage(message),
  };
}

/** A `fetch` for the service's `upstreamOptions` that delivers to `extension` in process. */
export function upstreamFetch(extension: Pick<SignalRTriggerExtension, 'deliver'>): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    let body: Uint8Array = new Uint8Array(await request.arrayBuffer());
    request.signal.throwIfAborted();
    const binary = (headers['content-type'] ?? '').toLowerCase().startsWith(MSGPACK);
    if (binary) {
      body = msgpackToJson(body);
      headers['content-type'] = 'application/json';
    }
    const answer = await extension.deliver({ headers, body });
    const reply = binary ? jsonReplyToMsgpack(answer) : answer;
    const nullBody = reply.status === 204 || reply.status === 304;
    return new Response(nullBody ? null : reply.body, { status: reply.status, headers: reply.headers });
  };
}
