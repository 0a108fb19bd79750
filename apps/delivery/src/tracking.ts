/**
 * Tracking links, typed for the launcher and tests: the token code itself lives in the function
 * app (`functions/src/tracking.js`), where the negotiate function verifies it, so one
 * implementation both mints and checks.
 * @module
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '@hubbub/kernel';

interface TrackingModule {
  createTrackingToken(orderId: string, key: string, options?: { ttlSeconds?: number; nowMs?: number }): string;
  verifyTrackingToken(token: string, key: string, nowMs?: number): { orderId: string } | { error: string };
}

const tracking = createRequire(import.meta.url)(
  join(packageRoot(import.meta.url), 'functions/src/tracking.js'),
) as TrackingModule;

/** The app setting that holds the key tracking tokens are signed with. */
export const TRACKING_KEY_SETTING = 'TrackingKey';

export const createTrackingToken = tracking.createTrackingToken;
export const verifyTrackingToken = tracking.verifyTrackingToken;

/** `<base>/track?order=<id>&token=<token>`: the link a customer is sent for one order. */
export function trackingLink(base: string, orderId: string, key: string, ttlSeconds = 86_400): string {
  const token = createTrackingToken(orderId, key, { ttlSeconds });
  return `${base}/track?order=${encodeURIComponent(orderId)}&token=${encodeURIComponent(token)}`;
}
