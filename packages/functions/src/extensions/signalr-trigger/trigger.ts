/**
 * The `signalRTrigger`: runs functions for the upstream requests of a SignalR service in serverless
 * mode — `connected` / `disconnected` events and client invocations, whose Completion (the
 * function's return value, or the error it threw) goes back in the reply. Requests arrive over HTTP
 * at `/runtime/webhooks/signalr`, the route Azure's Functions host serves, or in process through
 * {@link SignalRUpstreamDispatcher.deliver}. Each one is verified first: signed with an access key
 * of a trigger's connection setting, or refused.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { requestTarget } from '@hubbub/kernel';
import type { FunctionEntry } from '../../bindings.ts';
import { FunctionsError, invocationError, isFunctionsError } from '../../errors.ts';
import type { ExtensionContext, Invoke, Trigger, TriggerListener } from '../../extension.ts';
import { fromTypedData, toTypedData } from '../../typed-data.ts';
import { readBody } from '../http/rpc-http.ts';
import { type SignalRTriggerSpec, signalRTriggerBinding, triggerSpec } from './bindings.ts';
import {
  checkSignature,
  completion,
  errorReply,
  handled,
  readUpstreamCall,
  readUpstreamHeaders,
  type UpstreamCall,
  type UpstreamReply,
  type UpstreamRequest,
} from './upstream.ts';

export const UPSTREAM_PATH = '/runtime/webhooks/signalr';

export interface SignalRUpstreamDispatcher extends TriggerListener {
  /** Runs the function an upstream request is for; never rejects (errors are replies). */
  deliver(request: UpstreamRequest): Promise<UpstreamReply>;
}

interface Bound {
  readonly entry: FunctionEntry;
  readonly spec: SignalRTriggerSpec;
}

const routeKey = (hub: string, category: string, event: string) =>
  `${hub.toLowerCase()}\u0000${category}\u0000${event.toLowerCase()}`;

export function signalRTrigger(
  context: ExtensionContext,
  options: { maxBodyBytes: number; started(dispatcher: SignalRUpstreamDispatcher | undefined): void },
): Trigger {
  return {
    binding: signalRTriggerBinding(context),
    start(functions, invoke) {
      const routes = new Map<string, Bound>();
      for (const entry of functions) {
        const spec = triggerSpec(
          entry.trigger.info,
          { functionName: entry.name, binding: entry.trigger.name },
          context,
        );
        const key = routeKey(spec.hub, spec.category, spec.event);
        const taken = routes.get(key);
        if (taken !== undefined) {
          throw new FunctionsError(
            'FUNCTIONS_INVALID_BINDING',
            `Functions "${taken.entry.name}" and "${entry.name}" both take ${spec.category} "${spec.event}" of hub "${spec.hub}".`,
            { detail: { function: entry.name, binding: entry.trigger.name, property: 'event' } },
          );
        }
        routes.set(key, { entry, spec });
      }
      let open = true;
      const deliver = async (request: UpstreamRequest): Promise<UpstreamReply> => {
        try {
          if (!open) throw new FunctionsError('FUNCTIONS_CLOSED', 'The functions host is not running.');
          const head = readUpstreamHeaders(request);
          const bound = routes.get(routeKey(head.hub, head.category, head.event));
          if (bound === undefined) {
            // A connection event nobody listens for is not delivered (nothing runs); an invocation needs a function.
            if (head.category === 'connections') return handled;
            throw new FunctionsError(
              'FUNCTIONS_NOT_FOUND',
              `No signalRTrigger handles "${head.event.slice(0, 64)}" on hub "${head.hub.slice(0, 64)}".`,
              { detail: { hub: head.hub.slice(0, 64), category: head.category, event: head.event.slice(0, 64) } },
            );
          }
          checkSignature(request, head, bound.spec.keys);
          return await run(context, invoke, bound, readUpstreamCall(request, head));
        } catch (err) {
          return errorReply(isFunctionsError(err) ? err : invocationError(err, 'signalRTrigger'));
        }
      };
      const dispatcher: SignalRUpstreamDispatcher = {
        deliver,
        async close() {
          open = false;
          options.started(undefined);
        },
        addresses: (req) => addressed(req),
        async handleRequest(req, res) {
          if ((req.method ?? 'GET').toUpperCase() !== 'POST') {
            throw new FunctionsError('FUNCTIONS_METHOD_NOT_ALLOWED', 'The SignalR upstream takes POST.', {
              detail: { allow: ['POST'] },
            });
          }
          const body = await readBody(req, options.maxBodyBytes);
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(req.headers)) {
            if (typeof value === 'string') headers[name] = value;
          }
          const reply = await deliver({ headers, body });
          res
            .writeHead(reply.status, { ...reply.headers, 'content-length': String(reply.body.byteLength) })
            .end(reply.body);
        },
        describe: (name) => {
          for (const { entry, spec } of routes.values()) {
            // No `route`: that names HTTP functions (the upstream path is the trigger's, not the function's).
            if (entry.name === name) return { hub: spec.hub, category: spec.category, event: spec.event };
          }
          return undefined;
        },
      };
      options.started(dispatcher);
      return dispatcher;
    },
  };
}

/** The InvocationContext the Azure extension hands non-.NET functions (PascalCase, as it serialises it). */
function invocationContext(call: UpstreamCall) {
  return {
    Arguments: call.arguments,
    ...(call.error === undefined ? {} : { Error: call.error }),
    Category: call.category,
    Event: call.event,
    Hub: call.hub,
    ConnectionId: call.connectionId,
    ...(call.userId === undefined ? {} : { UserId: call.userId }),
    Headers: call.headers,
    Query: call.query,
    Claims: call.claims,
  };
}

async function run(
  context: ExtensionContext,
  invoke: Invoke,
  bound: Bound,
  call: UpstreamCall,
): Promise<UpstreamReply> {
  const { entry, spec } = bound;
  const invocationId = context.ids.uuid();
  const value = invocationContext(call);
  const named: Record<string, unknown> = {};
  spec.parameterNames.forEach((name, i) => {
    named[name] = call.arguments[i];
  });
  const triggerMetadata: Record<string, ReturnType<typeof toTypedData>> = {};
  for (const [name, v] of Object.entries({ ...value, ...named })) triggerMetadata[name] = toTypedData(v);
  try {
    const response = await invoke(entry, {
      invocationId,
      triggerData: toTypedData(value),
      triggerMetadata,
      data: { invocationId, expressions: { values: { ...value, ...named } } },
    });
    if (call.invocationId === undefined) return handled;
    const result = fromTypedData(response.returnValue);
    return completion(call.invocationId, result === undefined ? {} : { result });
  } catch (err) {
    const error = invocationError(err, entry.name, invocationId);
    context.events.emit('invocation:failed', error, { function: entry.name, trigger: 'signalRTrigger', invocationId });
    context.logger.error({ err, function: entry.name, invocationId }, 'signalRTrigger function failed.');
    // The caller waiting for a Completion gets the error; a refused connection event is closed (403).
    if (call.invocationId !== undefined) {
      const cause = isFunctionsError(err) ? err : error.cause;
      return completion(call.invocationId, { error: (cause as Error)?.message || error.message });
    }
    if (call.category === 'connections')
      return errorReply(new FunctionsError(error.code, error.message, { status: 403, detail: error.detail ?? {} }));
    return errorReply(error);
  }
}

function addressed(req: IncomingMessage): boolean {
  try {
    return requestTarget(req).pathname.replace(/\/+$/, '').toLowerCase() === UPSTREAM_PATH;
  } catch {
    return false;
  }
}
