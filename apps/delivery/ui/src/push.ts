/**
 * Web Push opt-in through the site's own `/push.js` (the service worker `/sw.js` and the
 * installation API calls live there; the app only loads it and calls it).
 */
interface PushModule {
  pushSupported(): boolean;
  serviceWorker(): Promise<ServiceWorkerRegistration>;
  enablePush(options?: { prompt?: boolean }): Promise<unknown>;
  disablePush(): Promise<void>;
  pushInstallation(): Promise<unknown | null>;
}

let loaded: Promise<PushModule> | undefined;
export function pushModule(): Promise<PushModule> {
  const url = '/push.js';
  loaded ??= import(/* @vite-ignore */ url) as Promise<PushModule>;
  loaded.catch(() => (loaded = undefined));
  return loaded;
}

/** Registers the site's service worker (notifications, and the app's offline shell it imports). */
export async function registerServiceWorker(): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  await (await pushModule()).serviceWorker();
}
