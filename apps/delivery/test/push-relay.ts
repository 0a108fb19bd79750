/**
 * The browser tests' stand-in for a browser's push transport: each push the local push service
 * decrypts is handed to the page's service worker over CDP (`ServiceWorker.deliverPushMessage`),
 * then watched for until the worker has shown it.
 *
 * Chromium was seen to accept a delivery with the worker running and activated, yet show nothing
 * (push-browser.test.ts; 2 of 11 runs of the three-context story): a push not shown within 5 s is
 * handed over again, at most twice — the same payload only replaces the notification (one tag per
 * order). Headless Chromium also drops a shown notification from the registration's list ~25 s
 * later, so a push counts as shown from the moment it is seen, listed by the registration or told
 * by the worker (sw.js posts each to its pages once `showNotification` resolved).
 *
 * Everything the push path did — the push service's outcomes, the endpoint's receipts, each
 * hand-over, the worker's states — goes to a trace that a missing notification's error carries.
 * @module
 */
import { waitFor } from '@hubbub/kernel';
import type { PushService } from '@hubbub/push';
import type { ReceivedPush } from '@hubbub/push/testing';
import type { BrowserContext, Page } from 'playwright-core';

/** In the page: the titles its registration lists and those its worker told it it showed. */
const SEEN = `navigator.serviceWorker
  .getRegistration('/')
  .then((r) => (r ? r.getNotifications() : []))
  .then((list) => ({ listed: list.map((n) => n.title), told: window.__swPushes ?? [] }))`;

/** Before the context's first page: its pages record the pushes their worker tells them of. */
export async function recordToldPushes(context: BrowserContext): Promise<void> {
  await context.addInitScript({
    content: `window.__swPushes = [];
navigator.serviceWorker?.addEventListener('message', (e) => {
  if (e.data?.type === 'push') window.__swPushes.push(e.data.notification.title);
});`,
  });
}

export interface PushRelay {
  /** Hands a received push to the worker and watches for it (pass as the endpoint's `onMessage`). */
  relay(message: ReceivedPush): void;
  /** Resolves once a notification titled `title` was shown; its error carries the trace. */
  notified(title: string): Promise<void>;
  /** Every relay settled: rejects if one was never shown. */
  settled(): Promise<void>;
}

/** What the push path did, in order; `note` adds a line. */
export interface PushTrace {
  note(line: string): void;
  readonly lines: string[];
}

/** The trace of `push` (the system's push service) from now on; `note` adds a line to it. */
export function pushTrace(push: PushService | undefined): PushTrace {
  const t0 = Date.now();
  const lines: string[] = [];
  const note = (line: string) => {
    lines.push(`+${Date.now() - t0} ms ${line}`);
  };
  push?.on('notification:completed', (o) =>
    note(`push ${o.notificationId} ${o.state} to ${o.target}: ${o.deliveries} deliveries`),
  );
  push?.on('delivery:retry', (e) =>
    note(`push ${e.notificationId} retry ${e.attempt} in ${e.delayMs} ms: ${e.reason}`),
  );
  push?.on('delivery:failed', (e) => note(`push ${e.notificationId} ${e.outcome}: ${e.reason}`));
  return { note, lines };
}

/**
 * Relays pushes to the worker of `page`'s origin (`origin`, ending in `/`). `recordToldPushes` must
 * have run on the page's context before the page was opened.
 */
export async function startPushRelay(
  context: BrowserContext,
  page: Page,
  origin: string,
  trace: PushTrace,
): Promise<PushRelay> {
  const { note } = trace;
  const cdp = await context.newCDPSession(page);
  const registrations = new Map<string, string>();
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
    for (const r of list) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
  });
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
    for (const v of versions) note(`service worker ${v.versionId}: ${v.status}, ${v.runningStatus}`);
  });
  cdp.on('ServiceWorker.workerErrorReported', ({ errorMessage: e }) =>
    note(`service worker error: ${e.errorMessage} (${e.sourceURL}:${e.lineNumber})`),
  );
  await cdp.send('ServiceWorker.enable');

  const shown = new Set<string>();
  let last = '';
  const look = async () => {
    const seen = (await page.evaluate(SEEN)) as { listed: string[]; told: string[] };
    const now = JSON.stringify(seen);
    if (now !== last) note(`seen: ${now}`);
    last = now;
    for (const title of [...seen.listed, ...seen.told]) shown.add(title);
    return shown;
  };
  const deliver = (data: string) => {
    const registrationId = registrations.get(origin);
    return registrationId === undefined
      ? Promise.reject(new Error(`no service worker registered at ${origin}`))
      : cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId, data });
  };
  const watch = async (title: string, data: string) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await deliver(data);
      } catch (err) {
        note(`"${title}" not relayed: ${(err as Error).message}`);
        throw err;
      }
      note(`"${title}" relayed to the service worker${attempt > 1 ? ` again (attempt ${attempt})` : ''}`);
      try {
        await waitFor(async () => (await look()).has(title), {
          timeoutMs: 5_000,
          intervalMs: 20,
          what: `the notification "${title}" in the service worker`,
        });
        return;
      } catch (err) {
        note(`"${title}" not shown after 5 s (last: ${((err as Error).cause as Error | undefined)?.message})`);
        if (attempt === 3) throw err;
      }
    }
  };
  const relayed: Promise<void>[] = [];
  return {
    relay(message) {
      note(`endpoint received ${message.text.slice(0, 120)}`);
      const { title } = JSON.parse(message.text) as { title: string };
      const watched = watch(title, message.text);
      // Awaited by `settled`; a failure before then is in the trace, not an unhandled rejection.
      watched.catch(() => {});
      relayed.push(watched);
    },
    async notified(title) {
      note(`waiting for "${title}"`);
      try {
        // Longer than a relay's own watch (3 × 5 s), so its outcome is in the trace.
        await waitFor(() => shown.has(title), {
          timeoutMs: 30_000,
          intervalMs: 20,
          what: `the notification "${title}"`,
        });
      } catch (err) {
        throw new Error(`${(err as Error).message}\nthe push path:\n  ${trace.lines.join('\n  ')}`, { cause: err });
      }
    },
    async settled() {
      await Promise.all(relayed);
    },
  };
}
