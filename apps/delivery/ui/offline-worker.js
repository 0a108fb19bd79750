// The customer app's offline shell, loaded into the site's service worker (/sw.js) with
// importScripts('/app/sw-offline.js'). The build writes that file: the `SHELL` and `CACHE`
// constants of this build, then this code. It caches the app's files at install; serves the app's
// pages from the network and, offline, the cached shell; the hashed assets from the cache; the
// street plan and icon from the network, falling back to the cache. API calls are never cached.
// SHELL (the URLs to cache) and CACHE (the cache of this build) are defined by the build before this code.

const APP = '/app/';
const KEPT = new Set(['/city.json', '/icon.svg', '/app/manifest.webmanifest']);

self.addEventListener('install', (event) => {
  // A shell that cannot be cached (the server mid-restart) must not keep push from installing.
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .catch(() => undefined),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((n) => n.startsWith('hubbub-app-') && n !== CACHE).map((n) => caches.delete(n))),
      ),
  );
});

async function networkFirst(request, fallback) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(fallback ?? request, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(fallback ?? request);
    if (cached) return cached;
    throw err;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && (url.pathname === '/app' || url.pathname.startsWith(APP))) {
    event.respondWith(networkFirst(request, APP));
  } else if (url.pathname.startsWith(`${APP}assets/`)) {
    event.respondWith(cacheFirst(request));
  } else if (KEPT.has(url.pathname)) {
    event.respondWith(networkFirst(request));
  }
});
