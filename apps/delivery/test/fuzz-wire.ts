/**
 * The fuzz suite's wire: raw TCP exchanges that put malformed request lines on the wire unmodified,
 * and a minimal WebSocket peer that can write frames no well-behaved client would. Every connection
 * goes to 127.0.0.1 from a given loopback address (`from`), so that the server's per-address
 * budgets of the fuzzing clients and of the alive checks stay apart.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { waitFor } from '@hubbub/kernel';

const host = '127.0.0.1';

/**
 * Writes `bytes` on a new connection and collects what comes back until the server closes it, a
 * second passes, or (with `hold`) the first answer arrives; without `hold` it half-closes right
 * after writing. Never rejects: a reset is an answer too.
 */
export function exchange(port: number, from: string, bytes: Uint8Array, options: { hold?: boolean } = {}) {
  const { hold = false } = options;
  return new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host, localAddress: from });
    const timer = setTimeout(() => socket.destroy(), 1_000);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (hold) socket.end();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.write(bytes, () => {
      if (!hold) socket.end();
    });
  });
}

/** A client WebSocket frame; `length` lies about the payload size when given. */
export function wsFrame(
  opcode: number,
  payload: Uint8Array,
  options: { fin?: boolean; masked?: boolean; rsv?: number; length?: number } = {},
): Buffer {
  const { fin = true, masked = true, rsv = 0, length = payload.length } = options;
  const head = [(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)];
  const mask = masked ? 0x80 : 0;
  let extended = Buffer.alloc(0);
  if (length < 126) head.push(mask | length);
  else if (length < 0x10000) {
    head.push(mask | 126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(length);
  } else {
    head.push(mask | 127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(BigInt(length));
  }
  const key = masked ? randomBytes(4) : Buffer.alloc(0);
  const body = Buffer.from(payload);
  if (masked) for (let i = 0; i < body.length; i++) body[i]! ^= key[i % 4]!;
  return Buffer.concat([Buffer.from(head), extended, key, body]);
}

/** The upgrade request a browser sends, to `target`. */
export function upgradeRequest(target: string, extraHeaders = ''): string {
  const key = randomBytes(16).toString('base64');
  return `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`;
}

/** A raw WebSocket connection after a 101: writes anything, reads the server's frames. */
export interface WsPeer {
  readonly socket: Socket;
  /** Data frames (text and binary) received so far. */
  readonly messages: Buffer[];
  /**
   * Pings (or, with `end`, half-closes) and resolves once the server has read everything before
   * it: true on the pong, false when it closed instead or `timeoutMs` passed.
   */
  settle(timeoutMs: number, options?: { end?: boolean }): Promise<boolean>;
  close(): void;
}

export function openWebSocket(port: number, from: string, target: string, timeoutMs = 5_000): Promise<WsPeer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host, localAddress: from });
    const messages: Buffer[] = [];
    let pongs = 0;
    let closing = false; // the server sent a close frame: it reads no more
    let buffer = Buffer.alloc(0);
    let upgraded = false;
    const timer = setTimeout(() => fail(new Error(`no 101 from ${target} within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const peer: WsPeer = {
      socket,
      messages,
      settle: (ms, { end = false } = {}) => {
        const seen = pongs;
        if (end) socket.end();
        else socket.write(wsFrame(0x9, Buffer.alloc(0)));
        const done = () => pongs > seen || closing || socket.destroyed || socket.readableEnded;
        return waitFor(done, { timeoutMs: ms, intervalMs: 2 })
          .then(() => pongs > seen)
          .catch(() => false);
      },
      close: () => socket.destroy(),
    };
    socket.on('error', (err) => (upgraded ? undefined : fail(err)));
    socket.on('close', () => (upgraded ? undefined : fail(new Error(`${target} closed before a 101`))));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString('latin1');
        if (!head.startsWith('HTTP/1.1 101')) return fail(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        upgraded = true;
        clearTimeout(timer);
        buffer = buffer.subarray(end + 4);
        resolve(peer);
      }
      for (let frame = readFrame(buffer); frame !== undefined; frame = readFrame(buffer)) {
        buffer = buffer.subarray(frame.size);
        if (frame.opcode === 0x1 || frame.opcode === 0x2) messages.push(frame.payload);
        if (frame.opcode === 0xa) pongs++;
        if (frame.opcode === 0x8) closing = true;
      }
    });
    socket.write(upgradeRequest(target));
  });
}

/** One server frame (unmasked, unfragmented as Hubbub sends them) from the start of `buffer`. */
function readFrame(buffer: Buffer): { opcode: number; payload: Buffer; size: number } | undefined {
  if (buffer.length < 2) return undefined;
  let length = buffer[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  if (buffer.length < offset + length) return undefined;
  return { opcode: buffer[0]! & 0x0f, payload: buffer.subarray(offset, offset + length), size: offset + length };
}

/** Connects to the demo hub with `token` and completes the SignalR handshake; rejects without `{}\x1e`. */
export async function handshake(
  port: number,
  from: string,
  token: string,
  protocol: 'json' | 'messagepack',
): Promise<WsPeer> {
  const peer = await openWebSocket(port, from, `/hubs/demo?id=${encodeURIComponent(token)}`);
  const request = Buffer.from(`${JSON.stringify({ protocol, version: 1 })}\x1e`);
  peer.socket.write(wsFrame(0x1, request));
  try {
    await waitFor(() => peer.messages.length > 0, { timeoutMs: 5_000, intervalMs: 2, what: 'the handshake response' });
  } catch (err) {
    peer.close();
    throw err;
  }
  const answer = peer.messages[0]!.toString('latin1');
  if (!answer.startsWith('{}\x1e')) {
    peer.close();
    throw new Error(`handshake refused: ${JSON.stringify(answer.slice(0, 200))}`);
  }
  return peer;
}
