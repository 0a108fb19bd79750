/** A raw WebSocket client for protocol-edge tests: negotiate by hand, send exact bytes, read frames. */
import WebSocket from 'ws';

export async function negotiate(
  base: string,
  hub: string,
  query = 'negotiateVersion=1',
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${base}/hubs/${hub}/negotiate?${query}`, { method: 'POST', headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export class RawClient {
  readonly ws: WebSocket;
  readonly frames: Array<{ data: Buffer; binary: boolean }> = [];
  closed: { code: number; reason: string } | undefined;
  #waiters: Array<() => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer, binary: boolean) => {
      this.frames.push({ data, binary });
      this.#wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.#wake();
    });
  }

  static async connect(url: string, headers: Record<string, string> = {}): Promise<RawClient> {
    const ws = new WebSocket(url, { headers });
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })),
      );
    });
    return client;
  }

  /** Connects and completes a JSON handshake. */
  static async json(base: string, hub: string): Promise<RawClient> {
    const { body } = await negotiate(base, hub);
    const client = await RawClient.connect(`${base.replace('http', 'ws')}/hubs/${hub}?id=${body.connectionToken}`);
    client.send('{"protocol":"json","version":1}\x1e');
    const reply = await client.next();
    if (reply.data.toString() !== '{}\x1e') throw new Error(`handshake failed: ${reply.data.toString()}`);
    return client;
  }

  send(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** The next frame (waits up to 5 s). */
  async next(): Promise<{ data: Buffer; binary: boolean }> {
    await this.#until(() => this.frames.length > 0 || this.closed !== undefined);
    const frame = this.frames.shift();
    if (frame === undefined) throw new Error(`closed (${this.closed?.code}) before a frame arrived`);
    return frame;
  }

  /** Next JSON hub messages (one frame may carry several). Pings are skipped. */
  async nextMessages(): Promise<Array<Record<string, unknown>>> {
    for (;;) {
      const frame = await this.next();
      const messages = frame.data
        .toString()
        .split('\x1e')
        .filter((s) => s !== '')
        .map((s) => JSON.parse(s) as Record<string, unknown>)
        .filter((m) => m.type !== 6);
      if (messages.length > 0) return messages;
    }
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    await this.#until(() => this.closed !== undefined);
    return this.closed!;
  }

  #until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting on the raw client')), 5_000);
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else {
          this.#waiters.push(check);
        }
      };
      this.#waiters.push(check);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
