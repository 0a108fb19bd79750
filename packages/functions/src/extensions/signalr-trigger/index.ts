/**
 * The SignalR trigger extension: `signalRTrigger` functions run for the upstream requests of a
 * SignalR service in serverless mode (Hubbub's hub, or Azure SignalR), received at
 * `/runtime/webhooks/signalr` or handed over in process with {@link SignalRTriggerExtension.deliver}
 * (what `@hubbub/system` wires the hub's upstream to).
 * @module
 */
import { FunctionsError } from '../../errors.ts';
import type { Extension } from '../../extension.ts';
import { nonNegativeInteger } from '../../settings.ts';
import { type SignalRUpstreamDispatcher, signalRTrigger } from './trigger.ts';
import { errorReply, type UpstreamReply, type UpstreamRequest } from './upstream.ts';

export interface SignalRTriggerExtensionOptions {
  /** Largest upstream request body, in bytes. @default 1_048_576 (Azure SignalR's 1 MB message limit) */
  readonly maxUpstreamBodyBytes?: number | undefined;
}

export interface SignalRTriggerExtension extends Extension {
  /**
   * Runs the function an upstream request is for, as the `/runtime/webhooks/signalr` route does;
   * resolves with the reply (a framed Completion for an invocation, an error reply otherwise) and
   * never rejects. Before the host started, and after it closed: 503 FUNCTIONS_CLOSED.
   */
  deliver(request: UpstreamRequest): Promise<UpstreamReply>;
}

export function signalRTriggerExtension(options: SignalRTriggerExtensionOptions = {}): SignalRTriggerExtension {
  nonNegativeInteger(options.maxUpstreamBodyBytes, 'maxUpstreamBodyBytes');
  const maxBodyBytes = options.maxUpstreamBodyBytes ?? 1_048_576;
  let current: SignalRUpstreamDispatcher | undefined;
  return {
    name: 'signalRTrigger',
    setup(context) {
      return {
        trigger: signalRTrigger(context, {
          maxBodyBytes,
          started: (dispatcher) => {
            current = dispatcher;
          },
        }),
      };
    },
    async deliver(request) {
      if (request.body.byteLength > maxBodyBytes) {
        return errorReply(
          new FunctionsError('FUNCTIONS_PAYLOAD_TOO_LARGE', `Upstream body exceeds ${maxBodyBytes} bytes.`, {
            detail: { limit: maxBodyBytes },
          }),
        );
      }
      return (
        current?.deliver(request) ??
        errorReply(new FunctionsError('FUNCTIONS_CLOSED', 'The functions host is not running.'))
      );
    },
  };
}

export type { UpstreamReply, UpstreamRequest } from './upstream.ts';
