/**
 * The XML bodies the Notification Hubs front answers with, written by hand (each is small and
 * flat): the error body the SDK reads its message from, a test send's `NotificationOutcome`, and
 * `NotificationDetails` with per-platform outcome counts. Every value is escaped.
 * @module
 */
import type { NotificationOutcome, OutcomeCounts, Platform, TestSendOutcome } from '../model.ts';

const sbNamespace = 'http://schemas.microsoft.com/netservices/2010/10/servicebus/connect';

export function escapeXml(text: string): string {
  return text
    .replace(/[<>&"']/g, (c) => entities[c]!)
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '');
}

const entities: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };

const el = (name: string, value: string | number | undefined): string =>
  value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;

/** `<Error><Code>…</Code><Detail>…</Detail></Error>`: the SDK throws `operations failed with: <Detail>`. */
export function errorXml(status: number, code: string, message: string, trackingId: string): string {
  return `<Error>${el('Code', status)}${el('Detail', `${code}: ${message} TrackingId:${trackingId}`)}</Error>`;
}

/** A test send's answer; `<Results/>` is always there and every result carries all four fields. */
export function notificationOutcomeXml(outcome: TestSendOutcome): string {
  const results = outcome.results
    .map(
      (r) =>
        `<RegistrationResult>${el('ApplicationPlatform', r.platform)}${el('PnsHandle', r.handle || '-')}` +
        `${el('RegistrationId', r.installationId ?? 'direct')}${el('Outcome', outcomeText(r.outcome, r.reason))}</RegistrationResult>`,
    )
    .join('');
  return (
    `<NotificationOutcome xmlns="${sbNamespace}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">` +
    `${el('Success', outcome.success)}${el('Failure', outcome.failure)}<Results>${results}</Results></NotificationOutcome>`
  );
}

function outcomeText(outcome: string, reason: string | undefined): string {
  const name = outcome === 'delivered' ? 'Success' : outcome;
  return reason === undefined || reason === '' ? name : `${name}: ${reason}`;
}

/** Element name of each platform's counts in `NotificationDetails`. */
const countsElement: Record<Platform, string> = {
  apns: 'ApnsOutcomeCounts',
  browser: 'BrowserOutcomeCounts',
  fcmv1: 'FcmV1OutcomeCounts',
};

/** Notification Hubs' outcome names for the service's counts (documented in the README). */
const outcomeNames: Record<keyof OutcomeCounts, string> = {
  success: 'Success',
  gone: 'ExpiredChannel',
  invalid: 'BadChannel',
  throttled: 'Throttled',
  expired: 'Expired',
  failed: 'PnsInterfaceError',
};

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function notificationDetailsXml(outcome: NotificationOutcome, location: string): string {
  let counts = '';
  for (const [platform, c] of Object.entries(outcome.counts) as [Platform, OutcomeCounts | undefined][]) {
    if (c === undefined || countsElement[platform] === undefined) continue;
    const items = (Object.keys(outcomeNames) as (keyof OutcomeCounts)[])
      .filter((k) => Number.isInteger(c[k]) && c[k] > 0)
      .map((k) => `<Outcome>${el('Name', outcomeNames[k])}${el('Count', c[k])}</Outcome>`)
      .join('');
    if (items !== '') counts += `<${countsElement[platform]}>${items}</${countsElement[platform]}>`;
  }
  return (
    `<NotificationDetails xmlns="${sbNamespace}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">` +
    el('NotificationId', outcome.notificationId) +
    el('Location', location) +
    el('State', outcome.state) +
    el('EnqueueTime', iso(outcome.enqueueTime)) +
    el('StartTime', iso(outcome.startTime)) +
    el('EndTime', iso(outcome.endTime)) +
    el('TargetPlatforms', outcome.targetPlatforms.length === 0 ? undefined : outcome.targetPlatforms.join(',')) +
    counts +
    '</NotificationDetails>'
  );
}
