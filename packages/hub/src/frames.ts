/**
 * Encode-once fan-out: a message bound for many connections is written at most once per protocol,
 * and every recipient of that protocol gets the same {@link OutboundFrame}.
 * @module
 */
import { EncodedInvocation, type HubMessage, type HubProtocol } from '@hubbub/hub-protocol';
import { OutboundFrame } from './transport.ts';

export class FanOutMessage {
  /** A message, or an invocation already written as the JSON protocol writes it (decoded only for another protocol). */
  readonly message: HubMessage | EncodedInvocation;
  #protocol: HubProtocol | undefined;
  #frame: OutboundFrame | undefined;
  #others: Map<HubProtocol, OutboundFrame> | undefined;

  constructor(message: HubMessage | EncodedInvocation) {
    this.message = message;
  }

  frameFor(protocol: HubProtocol): OutboundFrame {
    if (protocol === this.#protocol) return this.#frame!;
    if (this.#protocol === undefined) {
      this.#protocol = protocol;
      this.#frame = encode(this.message, protocol);
      return this.#frame;
    }
    this.#others ??= new Map();
    let frame = this.#others.get(protocol);
    if (frame === undefined) {
      frame = encode(this.message, protocol);
      this.#others.set(protocol, frame);
    }
    return frame;
  }
}

function encode(message: HubMessage | EncodedInvocation, protocol: HubProtocol): OutboundFrame {
  if (message instanceof EncodedInvocation) {
    if (protocol.name === 'json') return new OutboundFrame(message.jsonBytes(), false);
    message = message.message;
  }
  return new OutboundFrame(protocol.writeMessage(message), protocol.transferFormat === 'Binary');
}
