/**
 * Web Push opt-in through the site's own `/push.js` (the service worker `/sw.js` and the
 * installation API calls live there; the app only loads it and calls it).
 */
interface PushModule {
  pushSupported(): boolean;
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
