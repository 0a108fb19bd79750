/**
 * Reads the frame boundaries of an AMQP byte stream before rhea does, so that a frame is never
 * buffered past `maxFrameSize` (rhea would wait for any size a peer announces) and a peer that
 * sends nothing framed is cut off. Protocol headers (`AMQP` + 4 bytes) may come before the SASL
 * frames and again before the AMQP frames; any other 4 bytes at a boundary are a frame size.
 * @module
 */

export type FrameVerdict = { ok: true } | { ok: false; reason: string };

export class FrameGuard {
  readonly #max: number;
  /** Bytes still to pass in the current frame or header. */
  #remaining = 0;
  /** The first bytes of a boundary, until there are four. */
  #head: number[] = [];
  #failed = false;

  constructor(maxFrameSize: number) {
    this.#max = maxFrameSize;
  }

  /** Checks a chunk; once it fails, every later chunk fails too. */
  check(chunk: Buffer): FrameVerdict {
    if (this.#failed) return { ok: false, reason: 'stream already refused' };
    let i = 0;
    while (i < chunk.length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, chunk.length - i);
        this.#remaining -= take;
        i += take;
        continue;
      }
      this.#head.push(chunk[i]!);
      i++;
      if (this.#head.length < 4) continue;
      const [a, b, c, d] = this.#head as [number, number, number, number];
      this.#head = [];
      if (a === 0x41 && b === 0x4d && c === 0x51 && d === 0x50) {
        this.#remaining = 4;
        continue;
      }
      const size = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
      if (size < 8) return this.#fail(`frame size ${size} is under the minimum of 8`);
      if (size > this.#max) return this.#fail(`frame size ${size} is over the maximum of ${this.#max}`);
      this.#remaining = size - 4;
    }
    return { ok: true };
  }

  #fail(reason: string): FrameVerdict {
    this.#failed = true;
    return { ok: false, reason };
  }
}
