/**
 * The request/response nodes of one connection: `$cbs` (put-token) and each entity's
 * `$management`. Requests arrive on the client's sending links; replies go out on its receiving
 * link whose name (CBS) or target address (management) the request names in `reply-to`. Also the
 * session locks this connection holds, which session operations on `$management` act on.
 * @module
 */
import type { Broker } from '@hubbub/bus/broker';
import type { Claims } from './claims.ts';
import { Condition } from './conditions.ts';
import { handleManagement, knowsOperation, rightFor } from './management.ts';
import { type AmqpMessage, type RheaLink, types } from './rhea.ts';

const sessionKey = (path: string, sessionId: string): string => `${path.toLowerCase()}\n${sessionId}`;

export class Requests {
  readonly #claims: Claims<RheaLink>;
  readonly #broker: () => Broker;
  readonly #maxMessages: number;
  readonly #replies = new Map<string, RheaLink>();
  readonly #sessionLocks = new Map<string, string>();

  constructor(claims: Claims<RheaLink>, broker: () => Broker, maxMessages: number) {
    this.#claims = claims;
    this.#broker = broker;
    this.#maxMessages = maxMessages;
  }

  /** A client receiving link that takes replies, found by its name or its target address. */
  addReplyLink(link: RheaLink, targetAddress: unknown): void {
    this.#replies.set(link.name, link);
    if (typeof targetAddress === 'string') this.#replies.set(targetAddress, link);
  }

  forget(link: RheaLink): void {
    for (const [k, v] of this.#replies) if (v === link) this.#replies.delete(k);
  }

  lockSession(path: string, sessionId: string, lockToken: string): void {
    this.#sessionLocks.set(sessionKey(path, sessionId), lockToken);
  }

  unlockSession(path: string, sessionId: string): void {
    this.#sessionLocks.delete(sessionKey(path, sessionId));
  }

  putToken(request: AmqpMessage | undefined): void {
    if (request === undefined || request === null || typeof request !== 'object') return;
    this.#reply(request, this.#claims.putToken(request));
  }

  /** Runs a management request for `path` with the rights of `keyName`; `done` once answered. */
  manage(path: string, keyName: string, request: AmqpMessage | undefined, done: () => void): void {
    if (request === undefined || request === null || typeof request !== 'object') {
      done();
      return;
    }
    const operation = String(request.application_properties?.operation ?? '');
    const right = rightFor(operation);
    if (knowsOperation(operation) && !this.#claims.has(keyName, right)) {
      this.#reply(request, {
        correlation_id: request.message_id,
        application_properties: {
          statusCode: types.wrap_int(401),
          statusDescription: `Unauthorized: key '${keyName}' lacks the ${right} right.`,
          errorCondition: Condition.Unauthorized,
        },
      });
      done();
      return;
    }
    handleManagement(
      {
        broker: this.#broker(),
        path,
        sessionToken: (id) => this.#sessionLocks.get(sessionKey(path, id)),
        maxMessages: this.#maxMessages,
      },
      request,
    ).then((reply) => {
      this.#reply(request, reply);
      done();
    });
  }

  #reply(request: AmqpMessage, reply: AmqpMessage): void {
    const to = request.reply_to;
    const link = typeof to === 'string' ? this.#replies.get(to) : undefined;
    if (link === undefined || !link.is_open()) return;
    const outgoing = (link.session as unknown as { outgoing: { available(): number } }).outgoing;
    if (outgoing.available() === 0) {
      link.close({ condition: Condition.ResourceLimit, description: 'Replies are not being read.' });
      return;
    }
    link.send(reply);
  }
}
