/**
 * An invocation written once, elsewhere (e.g. on the functions worker thread that produced it), as
 * the JSON protocol writes it: a hub sends its text as it is to JSON connections and decodes it,
 * once and only then, for connections of another protocol.
 * @module
 */
import { encodeUtf8 } from './bytes.ts';
import { invalidMessage } from './errors.ts';
import { RECORD_SEPARATOR } from './json-protocol.ts';
import { type InvocationMessage, MessageType } from './messages.ts';

const PREFIX = '{"type":1,"target":';

export class EncodedInvocation {
  readonly target: string;
  /** `{"type":1,"target":…,"arguments":[…]}`, without the record separator. */
  readonly json: string;
  #message: InvocationMessage | undefined;

  /**
   * Throws HUB_PROTOCOL_INVALID_MESSAGE unless `json` is one JSON protocol invocation record without
   * an invocation id (what `JSON.stringify({ type: 1, target, arguments })` writes) and no record separator.
   * The rest is checked when it is decoded ({@link message}).
   */
  constructor(target: string, json: string) {
    if (!json.startsWith(PREFIX) || !json.endsWith('}') || json.includes(RECORD_SEPARATOR)) {
      throw invalidMessage('An encoded invocation must be one {"type":1,"target":…,"arguments":[…]} record.');
    }
    this.target = target;
    this.json = json;
  }

  /** The invocation, decoded on first use; it must name `target` and carry an arguments array. */
  get message(): InvocationMessage {
    if (this.#message === undefined) {
      let parsed: { type?: unknown; target?: unknown; arguments?: unknown };
      try {
        parsed = JSON.parse(this.json) as typeof parsed;
      } catch (cause) {
        throw invalidMessage('An encoded invocation is not JSON.', cause);
      }
      if (parsed.type !== MessageType.Invocation || parsed.target !== this.target || !Array.isArray(parsed.arguments)) {
        throw invalidMessage('An encoded invocation must be an invocation of its target with an arguments array.');
      }
      this.#message = { type: MessageType.Invocation, target: this.target, arguments: parsed.arguments };
    }
    return this.#message;
  }

  /** Its arguments (decoded on first use). */
  get arguments(): readonly unknown[] {
    return this.message.arguments;
  }

  /** What the JSON protocol writes for it: the record and its separator, as UTF-8. */
  jsonBytes(): Uint8Array {
    return encodeUtf8(this.json + RECORD_SEPARATOR);
  }

  /** Serialised (a backplane that writes JSON) it is left out: the message it travels in carries its arguments. */
  toJSON(): undefined {
    return undefined;
  }
}
