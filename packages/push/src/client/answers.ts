/**
 * The front's XML answers read back into the service's terms: a registration feed page as
 * installation listings, `NotificationDetails` as the outcome with the service's count names.
 * @module
 */
import { XMLParser } from 'fast-xml-parser';
import type { BrowserChannel, NotificationState, OutcomeCounts, Platform } from '../model.ts';

const xml = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
});

/** An installation as the registration feed lists it (Notification Hubs has no installation list). */
export interface InstallationListing {
  readonly installationId: string;
  readonly platform: Platform;
  readonly pushChannel: BrowserChannel | string;
  /** The caller's tags (without `$UserId`/`$InstallationId`). */
  readonly tags: readonly string[];
  /** The first template (a registration carries one); `getInstallation` reads them all. */
  readonly template?: { readonly name: string; readonly body: string };
  readonly expirationTime?: string;
  /** ISO 8601, the last create, update or patch. */
  readonly lastUpdate?: string;
}

export interface InstallationListPage {
  readonly installations: readonly InstallationListing[];
  /** Pass as `continuationToken` for the next page; absent on the last. */
  readonly continuationToken?: string;
}

/** What `getNotificationOutcome` answers: Notification Hubs' `NotificationDetails`. Times in ms since the epoch. */
export interface NotificationDetails {
  readonly notificationId: string;
  readonly state: NotificationState;
  readonly enqueueTime?: number;
  readonly startTime?: number;
  readonly endTime?: number;
  readonly targetPlatforms: readonly Platform[];
  /** Per platform a delivery went to, every count (0 when the front listed none). */
  readonly counts: Readonly<Partial<Record<Platform, Readonly<OutcomeCounts>>>>;
}

const kinds: Record<string, Platform> = { browser: 'browser', fcmv1: 'fcmv1', apple: 'apns' };
const countElements: Record<string, Platform> = {
  BrowserOutcomeCounts: 'browser',
  FcmV1OutcomeCounts: 'fcmv1',
  ApnsOutcomeCounts: 'apns',
};
const countNames: Record<string, keyof OutcomeCounts> = {
  Success: 'success',
  ExpiredChannel: 'gone',
  BadChannel: 'invalid',
  Throttled: 'throttled',
  Expired: 'expired',
  PnsInterfaceError: 'failed',
};
const states = new Set<string>(['Enqueued', 'Processing', 'Completed', 'NoTargetFound', 'Cancelled', 'Abandoned']);

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const time = (v: unknown): number | undefined => {
  const ms = Date.parse(text(v) ?? '');
  return Number.isFinite(ms) ? ms : undefined;
};

/** A feed page's entries; `undefined` when the body is not an Atom feed. */
export function readFeed(body: string): InstallationListing[] | undefined {
  let doc: { feed?: { entry?: unknown } | string };
  try {
    doc = xml.parse(body) as typeof doc;
  } catch {
    return undefined;
  }
  if (doc.feed === undefined) return undefined;
  const out: InstallationListing[] = [];
  for (const entry of list(typeof doc.feed === 'string' ? undefined : doc.feed.entry)) {
    const content = (entry as { content?: Record<string, Record<string, unknown>> } | undefined)?.content ?? {};
    const [element, d] = Object.entries(content)[0] ?? [];
    const m = /^(\w+?)(Template)?RegistrationDescription$/.exec(element ?? '');
    const platform = m === null ? undefined : kinds[m[1]!.toLowerCase()];
    const id = text(d?.RegistrationId);
    if (platform === undefined || d === undefined || id === undefined) continue;
    const pushChannel: BrowserChannel | string =
      platform === 'browser'
        ? { endpoint: text(d.Endpoint) ?? '', p256dh: text(d.P256DH) ?? '', auth: text(d.Auth) ?? '' }
        : (text(platform === 'fcmv1' ? d.FcmV1RegistrationId : d.DeviceToken) ?? '');
    const body = text(d.BodyTemplate);
    const expirationTime = text(d.ExpirationTime);
    const lastUpdate = text((entry as { updated?: unknown }).updated);
    out.push({
      installationId: id,
      platform,
      pushChannel,
      tags: (text(d.Tags) ?? '').split(',').filter((t) => t !== ''),
      ...(body === undefined ? {} : { template: { name: text(d.TemplateName) ?? 'template', body } }),
      ...(expirationTime === undefined ? {} : { expirationTime }),
      ...(lastUpdate === undefined ? {} : { lastUpdate }),
    });
  }
  return out;
}

/** `NotificationDetails`; `undefined` when the body is not one. */
export function readDetails(body: string): NotificationDetails | undefined {
  let d: Record<string, unknown> | undefined;
  try {
    d = (xml.parse(body) as { NotificationDetails?: Record<string, unknown> }).NotificationDetails;
  } catch {
    return undefined;
  }
  const notificationId = text(d?.NotificationId);
  if (d === undefined || notificationId === undefined) return undefined;
  const counts: Partial<Record<Platform, OutcomeCounts>> = {};
  for (const [element, platform] of Object.entries(countElements)) {
    const items = list((d[element] as { Outcome?: unknown } | undefined)?.Outcome);
    if (d[element] === undefined) continue;
    const c: OutcomeCounts = { success: 0, gone: 0, invalid: 0, throttled: 0, expired: 0, failed: 0 };
    for (const item of items as { Name?: unknown; Count?: unknown }[]) {
      const name = countNames[text(item?.Name) ?? ''];
      const n = Number(text(item?.Count));
      if (name !== undefined && Number.isInteger(n) && n >= 0) c[name] = n;
    }
    counts[platform] = c;
  }
  const state = text(d.State) ?? 'Unknown';
  const enqueueTime = time(d.EnqueueTime);
  const startTime = time(d.StartTime);
  const endTime = time(d.EndTime);
  return {
    notificationId,
    state: (states.has(state) ? state : 'Unknown') as NotificationState,
    ...(enqueueTime === undefined ? {} : { enqueueTime }),
    ...(startTime === undefined ? {} : { startTime }),
    ...(endTime === undefined ? {} : { endTime }),
    targetPlatforms: (text(d.TargetPlatforms) ?? '')
      .split(',')
      .filter((p): p is Platform => p === 'browser' || p === 'fcmv1' || p === 'apns'),
    counts,
  };
}
