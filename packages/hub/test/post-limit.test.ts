/**
 * A long-polling send (HTTP POST) over the body limit gets the documented 413 with its JSON
 * error, read by a raw HTTP client, instead of a connection reset.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { HubServer } from '../src/index.ts';
import { startHub } from './helpers.ts';
import { negotiate } from './raw.ts';

let server: HubServer;
let base: string;

before(async () => {
  ({ server, url: base } = await startHub({ transports: ['LongPolling'] }));
  server.hub('chat');
});
after(() => server.close());

/** A long-polling connection whose transport is active; its connection token. */
async function longPolling(): Promise<string> {
  const { body } = await negotiate(base, 'chat');
  const token = String(body.connectionToken);
  assert.equal((await fetch(`${base}/hubs/chat?id=${token}`)).status, 200); // the first poll activates it
  return token;
}

/** Sends a POST of `size` bytes over a raw socket and returns everything the server answered. */
function rawPost(token: string, size: number, chunked: boolean): Promise<string> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', (error) => reject(new Error(`the connection failed: ${error.message}`)));
    socket.on('close', () => resolve(Buffer.concat(received).toString('latin1')));
    socket.on('connect', () => {
      socket.write(
        `POST /hubs/chat?id=${token} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n` +
          (chunked ? 'Transfer-Encoding: chunked\r\n\r\n' : `Content-Length: ${size}\r\n\r\n`),
      );
      const chunk = Buffer.alloc(64 * 1024, 'a');
      let left = size;
      const pump = () => {
        while (left > 0 && !socket.destroyed) {
          const n = Math.min(left, chunk.length);
          left -= n;
          const piece = chunked
            ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), chunk.subarray(0, n), Buffer.from('\r\n')])
            : chunk.subarray(0, n);
          if (!socket.write(piece)) return void socket.once('drain', pump);
        }
        if (chunked && !socket.destroyed) socket.write('0\r\n\r\n');
      };
      pump();
    });
  });
}

describe('long-polling send over the body limit', () => {
  for (const chunked of [false, true]) {
    it(`answers 413 with the JSON error (${chunked ? 'chunked' : 'Content-Length'}), then closes`, async () => {
      const token = await longPolling();
      const answer = await rawPost(token, 2 * 1_048_576, chunked);
      assert.match(answer, /^HTTP\/1\.1 413 /);
      assert.match(answer, /\r\nconnection: close\r\n/i);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { code: string; message: string };
      assert.equal(body.code, 'KERNEL_BODY_TOO_LARGE');
      // The connection itself is unharmed: a send under the limit still goes through.
      const ok = await fetch(`${base}/hubs/chat?id=${token}`, {
        method: 'POST',
        body: '{"protocol":"json","version":1}\x1e',
        headers: { 'content-type': 'text/plain' },
      });
      assert.equal(ok.status, 200);
    });
  }
});
