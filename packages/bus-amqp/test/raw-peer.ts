/**
 * A raw AMQP peer for hostile-input tests: it writes exactly the bytes a test asks for (frames
 * built with rhea's codec, or garbage) and reads what the server answers, frame by frame.
 * @module
 */
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { waitFor } from '@hubbub/kernel';

interface Frames {
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  sasl_frame(performative: unknown): unknown;
  write_frame(frame: unknown): Buffer;
  read_frame(buffer: Buffer): { performative?: { constructor: { toString(): string } } & Record<string, unknown> };
  open(fields: Record<string, unknown>): unknown;
  begin(fields: Record<string, unknown>): unknown;
  attach(fields: Record<string, unknown>): unknown;
  flow(fields: Record<string, unknown>): unknown;
  transfer(fields: Record<string, unknown>): unknown;
  close(fields: Record<string, unknown>): unknown;
  sasl_init(fields: Record<string, unknown>): unknown;
}

export const frames = createRequire(import.meta.url)('rhea/lib/frames.js') as Frames;

export const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);
export const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);

export interface Received {
  /** `open`, `close`, `sasl_mechanisms`, … or `empty` for a heartbeat. */
  name: string;
  fields: Record<string, unknown>;
}

export class RawPeer {
  readonly socket: Socket;
  readonly received: Received[] = [];
  closed = false;
  #buffer = Buffer.alloc(0);

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawPeer(socket);
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  frame(performative: unknown, channel = 0, payload?: Buffer): void {
    this.write(frames.write_frame(frames.amqp_frame(channel, performative, payload)));
  }

  /** SASL ANONYMOUS (or another mechanism), the AMQP header and an open. */
  async handshake(mechanism = 'ANONYMOUS', open: Record<string, unknown> = {}): Promise<void> {
    this.write(SASL_HEADER);
    this.write(
      frames.write_frame(frames.sasl_frame(frames.sasl_init({ mechanism, initial_response: Buffer.from('\0peer') }))),
    );
    await this.waitFor('sasl_outcome');
    this.write(AMQP_HEADER);
    this.frame(frames.open({ container_id: 'raw-peer', ...open }));
    await this.waitFor('open');
  }

  async waitFor(name: string, timeoutMs = 5000): Promise<Received> {
    return waitFor(() => this.received.find((r) => r.name === name), { timeoutMs, what: `a ${name} frame` });
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.closed, { timeoutMs, what: 'the socket to close' });
  }

  /** The error condition of the server's close, detach or end. */
  condition(name: 'close' | 'detach' | 'end'): string | undefined {
    const f = this.received.find((r) => r.name === name);
    const error = f?.fields.error as { condition?: unknown } | undefined;
    return error?.condition === undefined ? undefined : String(error.condition);
  }

  destroy(): void {
    this.socket.destroy();
  }

  #read(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#buffer.length >= 8 && this.#buffer.subarray(0, 4).toString('latin1') === 'AMQP') {
        this.received.push({ name: 'header', fields: { protocol: this.#buffer[4] } });
        this.#buffer = this.#buffer.subarray(8);
        continue;
      }
      if (this.#buffer.length < 8) return;
      const size = this.#buffer.readUInt32BE(0);
      if (this.#buffer.length < size) return;
      const frame = frames.read_frame(this.#buffer.subarray(0, size));
      this.#buffer = this.#buffer.subarray(size);
      const p = frame.performative;
      if (p === undefined) this.received.push({ name: 'empty', fields: {} });
      else {
        const name = p.constructor.toString().split('#')[0] ?? '?';
        const fields: Record<string, unknown> = {};
        for (const key of [
          'error',
          'sasl_server_mechanisms',
          'code',
          'idle_time_out',
          'max_frame_size',
          'channel_max',
        ]) {
          fields[key] = p[key];
        }
        this.received.push({ name, fields });
      }
    }
  }
}
