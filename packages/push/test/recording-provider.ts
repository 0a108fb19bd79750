/**
 * A test double of a platform provider (another team's component): it records every delivery and
 * answers from a script, so the service's retries, expiry, gone channels and counts can be driven
 * outcome by outcome. Channels are checked the way the real providers check them, loosely.
 */
import { PushError, PushErrorCode } from '../src/errors.ts';
import type { Delivery, DeliveryOutcome, Platform, PushProvider } from '../src/providers/provider.ts';

export type Script = (delivery: Delivery, n: number) => DeliveryOutcome | Promise<DeliveryOutcome>;

export class RecordingProvider implements PushProvider {
  readonly platform: Platform;
  readonly maxPayloadBytes: number;
  readonly deliveries: Delivery[] = [];
  script: Script = () => ({ kind: 'delivered', status: 201 });
  closed = false;

  constructor(platform: Platform, maxPayloadBytes = 4096) {
    this.platform = platform;
    this.maxPayloadBytes = maxPayloadBytes;
  }

  validateChannel(channel: unknown): void {
    const bad = (reason: string) =>
      new PushError(PushErrorCode.InvalidChannel, `bad ${this.platform} channel: ${reason}`, {
        status: 400,
        detail: { reason },
      });
    if (this.platform === 'browser') {
      const c = channel as { endpoint?: unknown; p256dh?: unknown; auth?: unknown } | null;
      if (c === null || typeof c !== 'object') throw bad('not a subscription object');
      if (typeof c.endpoint !== 'string' || !/^https?:\/\//.test(c.endpoint)) throw bad('endpoint');
      if (typeof c.p256dh !== 'string' || typeof c.auth !== 'string') throw bad('keys');
      return;
    }
    if (typeof channel !== 'string' || channel.length === 0) throw bad('not a token');
    if (this.platform === 'apns' && !/^[0-9a-fA-F]{64}$/.test(channel)) throw bad('not a hex device token');
  }

  async deliver(delivery: Delivery): Promise<DeliveryOutcome> {
    this.deliveries.push(delivery);
    return this.script(delivery, this.deliveries.length);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Handles delivered to, in order. */
  handles(): string[] {
    return this.deliveries.map((d) => (typeof d.channel === 'string' ? d.channel : d.channel.endpoint));
  }
}

export const apnsToken = (n: number) => n.toString(16).padStart(64, '0');
