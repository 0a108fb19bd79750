/**
 * The outbound half of stateful reconnect for one connection: each sequenced frame from the moment
 * it is sent until the client acknowledges it. The front of the buffer has been handed to the
 * current transport; the rest waits until the socket has room, so the buffer — not the socket —
 * holds what a slow or absent client has yet to read. After a reconnect everything still
 * unacknowledged is written again, from the first unacknowledged id.
 * @module
 */
import type { OutboundFrame, Transport } from './transport.ts';

export class ReplayBuffer {
  /** Unacknowledged frames, oldest first; their ids are consecutive. */
  #frames: Array<{ id: number; frame: OutboundFrame }> = [];
  #bytes = 0;
  /** Id of the last frame added (sequence ids start at 1). */
  #sent = 0;
  /** Id of the last frame handed to the current transport. */
  #written = 0;

  /** Payload bytes held: sent or waiting, not yet acknowledged. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds the next sequenced frame (it waits until {@link writeTo} hands it to a transport). */
  push(frame: OutboundFrame): void {
    this.#frames.push({ id: ++this.#sent, frame });
    this.#bytes += frame.byteLength;
  }

  /** The client has processed every frame up to `id`. */
  acknowledge(id: number): void {
    const frames = this.#frames;
    let drop = 0;
    while (drop < frames.length && frames[drop]!.id <= id) {
      this.#bytes -= frames[drop]!.frame.byteLength;
      drop++;
    }
    if (drop > 0) frames.splice(0, drop);
    // Never write again what the client says it has (an ack may even run ahead of what was written).
    if (id > this.#written) this.#written = Math.min(id, this.#sent);
  }

  /** A new transport: every unacknowledged frame is to be written again. Returns the first id. */
  rewind(): number {
    const first = this.#frames[0]?.id ?? this.#sent + 1;
    this.#written = first - 1;
    return first;
  }

  /** Hands waiting frames to `transport`, in order, while it holds less than `room` bytes. Returns whether any went. */
  writeTo(transport: Transport, room: number): boolean {
    const frames = this.#frames;
    if (frames.length === 0 || this.#written >= this.#sent) return false;
    let index = this.#written + 1 - frames[0]!.id;
    if (transport.bufferedBytes() >= room) return false;
    do {
      const entry = frames[index++]!;
      transport.send(entry.frame);
      this.#written = entry.id;
    } while (index < frames.length && transport.bufferedBytes() < room);
    return true;
  }
}
