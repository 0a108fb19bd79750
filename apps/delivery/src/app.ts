/**
 * What the all-in-one server mounts for the delivery app: the function app, the tracking page's
 * files, the queues and hubs it uses. Apart from the package's door, so `npm start` reads it
 * without loading the order system's code before the port listens.
 * @module
 */
import { join } from 'node:path';
import type { WorkerHeap } from '@hubbub/functions';
import { packageRoot } from '@hubbub/kernel';

/** A file of this package (the function app and the pages ship beside the code, not compiled). */
const here = (path: string) => join(packageRoot(import.meta.url), path);

export interface DeliveryApp {
  /** Absolute path of the `@azure/functions` v4 app (package.json, host.json, local.settings.json). */
  readonly functionsDir: string;
  /** URL path → absolute file path of the static web files. */
  readonly webFiles: Readonly<Record<string, string>>;
  /**
   * The customer web app, built by the install step (`npm run build:ui`) into this directory and
   * served under {@link DeliveryApp.uiPath} (`staticTree(uiPath, uiDir)`); its `assets/` are content-hashed.
   */
  readonly uiDir: string;
  /** Where the customer web app is served: `/app/`. */
  readonly uiPath: string;
  /** Queues the functions are triggered by; create them before starting the functions host. */
  readonly queues: readonly string[];
  /** Topics the functions and the REST API use (created with their subscriptions by the API part). */
  readonly topics: readonly string[];
  /** SignalR hubs the functions use. */
  readonly hubs: readonly string[];
  /** App secrets the system keeps in its data directory and hands the functions as settings. */
  readonly secrets: readonly string[];
  /**
   * The functions host's invocation threads (`startSystem`'s `app.workerThreads`): the processor's
   * and the notifier's code runs beside the event loop that accepts orders, so a burst's
   * processing does not starve the REST API (bench/orders, accepted and processed: 0.88–0.96 ms
   * of main-thread CPU per order with the functions on the main thread, 0.51–0.70 with one
   * invocation thread; bench/RESULTS.md). Two: one thread's invocation CPU (~140 µs per location)
   * caps the location path at 6,000–10,000/s on 2 vCPUs, two held 12,000/s (bench/function-path
   * `--saturate`); an invocation goes to the thread with the fewest running, so at a low rate the
   * first does nearly all the work and the second stays asleep. The app keeps no state between
   * invocations, so it may run on both.
   */
  readonly workerThreads: number;
  /**
   * Each thread's heap (`app.workerHeap`). At 1,000 locations/s the library's objects reach its old
   * space at ~5 MB/s (its `WeakMap` entries outlive every scavenge on Node 20): with the process's
   * sizes it mark-compacts every ~6 s, with concurrent marking that competes for the core the event
   * loop needs when another process holds the other one, and each scavenge copies ~260 invocations'
   * objects in 3–6 ms. 128 MB of initial old space spaces the mark-compacts to ~20 s, for up to
   * 128 MB of a thread's garbage between them; a 1 MB semi-space cuts a scavenge to ~1 ms
   * (bench/e2e-latency with `--hog`, bench/RESULTS.md).
   */
  readonly workerHeap: WorkerHeap;
}

export const deliveryApp: DeliveryApp = {
  functionsDir: here('functions'),
  webFiles: {
    '/track': here('web/track.html'),
    '/track.html': here('web/track.html'),
    '/track.js': here('web/track.js'),
    '/track.css': here('web/track.css'),
    '/city.json': here('web/city.json'),
    // Web Push opt-in: the service worker at the root, so its scope is the whole site.
    '/notifications': here('web/notifications.html'),
    '/notifications.html': here('web/notifications.html'),
    '/notifications.js': here('web/notifications.js'),
    '/notifications.css': here('web/notifications.css'),
    '/push.js': here('web/push.js'),
    '/sw.js': here('web/sw.js'),
    '/manifest.webmanifest': here('web/manifest.webmanifest'),
    '/icon.svg': here('web/icon.svg'),
  },
  uiDir: here('ui/dist'),
  uiPath: '/app/',
  queues: ['locations'],
  topics: ['orders'],
  hubs: ['tracking'],
  secrets: ['TrackingKey', 'DemoPassword'],
  workerThreads: 2,
  workerHeap: { initialOldSpaceMb: 128, maxSemiSpaceMb: 1 },
};
