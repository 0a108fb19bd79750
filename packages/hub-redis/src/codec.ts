/**
 * Backplane envelopes on the wire: `{nodeId}\n{JSON}`. The node id comes first so a node skips its
 * own messages (it delivered them in process already) without parsing them. Bytes (the REST API's
 * MessagePack payloads) travel as `{"\u0000b": base64}` and come back as a `Uint8Array`. What
 * arrives is checked before a hub sees it: the channel is shared, its input is not trusted.
 * @module
 */
import type { Audience, BackplaneMessage } from '@hubbub/hub';
import { HubError, HubErrorCode } from '@hubbub/hub';

const BYTES = '\u0000b';

function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  return original instanceof Uint8Array ? { [BYTES]: Buffer.from(original).toString('base64') } : value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && BYTES in value) {
    const text = (value as Record<string, unknown>)[BYTES];
    if (typeof text === 'string' && Object.keys(value).length === 1) return new Uint8Array(Buffer.from(text, 'base64'));
  }
  return value;
}

export function encodeEnvelope(nodeId: string, message: BackplaneMessage): string {
  return `${nodeId}\n${JSON.stringify(message, replacer)}`;
}

/** The sender's node id and message; HUB_INVALID_MESSAGE when it is not a backplane envelope. */
export function decodeEnvelope(text: string): { nodeId: string; message: BackplaneMessage } {
  const cut = text.indexOf('\n');
  if (cut <= 0) throw invalid('no node id');
  let value: unknown;
  try {
    value = JSON.parse(text.slice(cut + 1), reviver);
  } catch (err) {
    throw invalid('not JSON', err);
  }
  if (!isMessage(value)) throw invalid('not a backplane message');
  return { nodeId: text.slice(0, cut), message: value };
}

const strings = (value: unknown): boolean => Array.isArray(value) && value.every((v) => typeof v === 'string');
const optionalString = (value: unknown): boolean => value === undefined || typeof value === 'string';

function isAudience(value: unknown): value is Audience {
  if (value === null || typeof value !== 'object') return false;
  const a = value as Record<string, unknown>;
  if (a.kind === 'all') return true;
  if (a.kind === 'connections' || a.kind === 'users') return strings(a.ids);
  return a.kind === 'groups' && strings(a.names);
}

function isExclusions(value: unknown): boolean {
  if (value === undefined) return true;
  if (value === null || typeof value !== 'object') return false;
  const e = value as Record<string, unknown>;
  return (e.connectionIds === undefined || strings(e.connectionIds)) && (e.userIds === undefined || strings(e.userIds));
}

function isMessage(value: unknown): value is BackplaneMessage {
  if (value === null || typeof value !== 'object') return false;
  const m = value as Record<string, unknown>;
  if (typeof m.hub !== 'string') return false;
  switch (m.kind) {
    case 'send':
      return (
        isAudience(m.audience) && isExclusions(m.exclude) && typeof m.target === 'string' && Array.isArray(m.arguments)
      );
    case 'close':
      return isAudience(m.audience) && isExclusions(m.exclude) && optionalString(m.reason);
    case 'group':
      return (
        (m.action === 'add' || m.action === 'remove' || m.action === 'remove-all') &&
        optionalString(m.group) &&
        optionalString(m.connectionId) &&
        optionalString(m.userId)
      );
    default:
      return false;
  }
}

function invalid(why: string, cause?: unknown): HubError {
  return new HubError(HubErrorCode.InvalidMessage, `A backplane message was dropped: ${why}.`, {
    ...(cause === undefined ? {} : { cause }),
    detail: { why },
  });
}
