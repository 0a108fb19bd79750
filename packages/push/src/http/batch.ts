/**
 * Direct batch sends: `POST /{hub}/messages/$batch?direct=true`, a `multipart/mixed` body (the
 * SDK writes `boundary = "…"`, spaces and quotes included) with a `notification` part and a
 * `devices` part holding a JSON array of at most 1000 handles. Each handle becomes one direct send
 * of the service; the answer's `Location` names the first. Browser handles need their keys, which
 * a batch cannot carry, so batches are for `fcmv1` and `apple`.
 * @module
 */
import type { Exchange } from './exchange.ts';
import { invalidRequest, replyEmpty } from './reply.ts';
import { readNotification } from './sends.ts';

const maxHandles = 1000;

interface Part {
  readonly headers: Map<string, string>;
  readonly body: string;
}

/** The parts of a multipart body; throws PUSH_INVALID_REQUEST when it is not one. */
export function parseMultipart(contentType: string | undefined, text: string): Part[] {
  const boundary = /boundary\s*=\s*(?:"([^"]{1,200})"|([^\s;,]{1,200}))/i.exec(contentType ?? '');
  if (!/^\s*multipart\//i.test(contentType ?? '') || boundary === null)
    throw invalidRequest('A batch send is multipart/mixed with a boundary.', 'Content-Type');
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  const chunks = text.split(delimiter);
  if (chunks.length < 3 || !chunks[chunks.length - 1]!.startsWith('--'))
    throw invalidRequest('The multipart body does not end with its closing boundary.', 'body');
  return chunks.slice(1, -1).map((chunk) => {
    const raw = chunk.replace(/^\r\n/, '').replace(/\r\n$/, '');
    const split = raw.indexOf('\r\n\r\n');
    if (split < 0) throw invalidRequest('A multipart part has no header block.', 'body');
    const headers = new Map<string, string>();
    for (const line of raw.slice(0, split).split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    return { headers, body: raw.slice(split + 4) };
  });
}

function named(parts: Part[], name: string): Part | undefined {
  return parts.find((p) =>
    new RegExp(`name\\s*=\\s*"?${name}"?\\s*(;|$)`, 'i').test(p.headers.get('content-disposition') ?? ''),
  );
}

export async function serveBatch(x: Exchange): Promise<void> {
  if (!x.url.searchParams.has('direct')) throw invalidRequest('A batch send is a direct send (direct=true).', 'direct');
  const parts = parseMultipart(x.header('Content-Type'), x.text());
  const notificationPart = named(parts, 'notification');
  const devicesPart = named(parts, 'devices');
  if (notificationPart === undefined || devicesPart === undefined)
    throw invalidRequest('A batch send needs a notification part and a devices part.', 'body');
  let devices: unknown;
  try {
    devices = JSON.parse(devicesPart.body);
  } catch (cause) {
    throw invalidRequest('The devices part must be a JSON array of handles.', 'devices', cause);
  }
  if (
    !Array.isArray(devices) ||
    devices.length === 0 ||
    devices.length > maxHandles ||
    !devices.every((d) => typeof d === 'string' && d !== '')
  )
    throw invalidRequest(`The devices part must be a JSON array of 1–${maxHandles} handles.`, 'devices');
  const notification = readNotification(x, notificationPart.body);
  if (notification.format === 'template' || notification.format === 'browser')
    throw invalidRequest(
      'A batch send takes fcmv1 or apple notifications (browser handles need their keys).',
      'ServiceBusNotification-Format',
    );
  const requestId = x.header('x-ms-client-request-id');
  const ids: string[] = [];
  for (const [i, handle] of (devices as string[]).entries()) {
    const result = await x.service.send(
      notification,
      { kind: 'handle', platform: notification.format, channel: handle },
      requestId === undefined || requestId === '' ? {} : { idempotencyKey: `${requestId.slice(0, 120)}:${i}` },
    );
    ids.push(result.notificationId);
  }
  const trackingId = x.response.getHeader('TrackingId') as string;
  return replyEmpty(x.response, 201, {
    'x-ms-correlation-request-id': trackingId,
    Location: x.location(`messages/${ids[0]}`),
  });
}
