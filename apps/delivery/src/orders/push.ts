/**
 * Web Push installations of signed-in customers, behind `/api/v1/push/installations/{id}`: a PUT
 * takes the browser's PushSubscription JSON and creates or updates a `browser` installation in the
 * system's push service with the customer's account id as its user id (so the notifier reaches
 * every browser of the customer with the tag `$UserId:<id>`) and the order-status template
 * (`push-templates.ts`); GET reads it, DELETE removes it.
 *
 * An installation belongs to the customer who made it: another account's PUT is
 * DELIVERY_PUSH_INSTALLATION_TAKEN, its GET or DELETE a 404 as for an id never made. Changes to one
 * id are serialized in this process, so two customers racing for an id cannot both win. A customer
 * keeps at most `maxPerCustomer` installations (a new one evicts the least recently updated), each
 * expiring `ttlMs` after its last PUT unless the page renews it — abandoned browsers do not pile up.
 * Subscription endpoints must be https and, unless listed in `endpointOrigins`, not on a loopback,
 * private or link-local address: the server POSTs to them.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { type Clock, sendJson } from '@hubbub/kernel';
import { type Installation, isPushError, type PushService } from '@hubbub/push';
import type { z } from 'zod';
import { customerTag, installationTemplates } from '../push-templates.ts';
import type { Principal } from './accounts.ts';
import { DeliveryError, notFound } from './errors.ts';
import { readJson, sendNoContent } from './http.ts';
import { INSTALLATION_ID, PushSubscription } from './schemas.ts';

/** The body of a PUT: `PushSubscription.toJSON()` as the browser gives it. */
export type PushSubscriptionBody = z.output<typeof PushSubscription>;

/** What the API answers about an installation (never its keys). */
export interface PushInstallationView {
  readonly installationId: string;
  readonly userId: string;
  readonly endpointOrigin: string;
  readonly templates: readonly string[];
  readonly expirationTime: string | null;
  readonly lastUpdate: string;
  /** True once the push service reported the subscription gone; a new PUT with a fresh subscription revives it. */
  readonly pushChannelExpired: boolean;
}

export interface PushInstallationsOptions {
  /** The system's push service; without it every call is DELIVERY_PUSH_UNAVAILABLE. */
  readonly push: PushService | undefined;
  readonly clock: Clock;
  /** Endpoint origins allowed even on loopback or private addresses (e.g. a local push service in tests). @default none */
  readonly endpointOrigins?: readonly string[];
  /** Installations one customer keeps at most. @default 10 */
  readonly maxPerCustomer?: number;
  /** Lifetime of an installation after its last PUT. @default 7_776_000_000 (90 days) */
  readonly ttlMs?: number;
}

export interface PushInstallations {
  /** Creates (`created: true`) or updates the customer's installation `id`. */
  put(
    principal: Principal,
    id: string,
    subscription: PushSubscriptionBody,
  ): Promise<{ created: boolean; view: PushInstallationView }>;
  get(principal: Principal, id: string): Promise<PushInstallationView>;
  remove(principal: Principal, id: string): Promise<void>;
}

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  blocked.addSubnet(net, bits, 'ipv6');

/**
 * True for an endpoint the server may POST to by default: not a loopback, private or link-local
 * address (IPv4-mapped IPv6 addresses are checked as their IPv4 address).
 */
export function isPublicEndpoint(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return false;
  const family = isIP(host);
  if (family === 0) return true;
  return !blocked.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

export function createPushInstallations(options: PushInstallationsOptions): PushInstallations {
  const { clock } = options;
  const allowed = new Set(options.endpointOrigins ?? []);
  const maxPerCustomer = options.maxPerCustomer ?? 10;
  const ttlMs = options.ttlMs ?? 7_776_000_000;
  const locks = new Map<string, Promise<unknown>>();

  const service = (): PushService => {
    if (options.push === undefined) {
      throw new DeliveryError('DELIVERY_PUSH_UNAVAILABLE', 'Push notifications are not enabled on this server.');
    }
    return options.push;
  };

  /** Runs `work` after every earlier change to `id` in this process has finished. */
  function serialized<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = locks.get(id) ?? Promise.resolve();
    const run = previous.then(work, work);
    const tail = run.catch(() => undefined);
    locks.set(id, tail);
    void tail.then(() => {
      if (locks.get(id) === tail) locks.delete(id);
    });
    return run;
  }

  async function owned(principal: Principal, id: string): Promise<Installation> {
    const installation = INSTALLATION_ID.test(id) ? await service().getInstallation(id) : undefined;
    if (installation === undefined || installation.userId !== principal.id) throw notFound('push installation', id);
    return installation;
  }

  async function evictOldest(push: PushService, principal: Principal): Promise<void> {
    const { installations } = await push.listInstallations({ tag: customerTag(principal.id), platform: 'browser' });
    const mine = installations.filter((i) => i.userId === principal.id);
    mine.sort((a, b) => a.lastUpdate.localeCompare(b.lastUpdate));
    for (const stale of mine.slice(0, Math.max(0, mine.length - maxPerCustomer + 1))) {
      await push.deleteInstallation(stale.installationId);
    }
  }

  return {
    put(principal, id, subscription) {
      if (!INSTALLATION_ID.test(id)) {
        throw new DeliveryError('DELIVERY_INVALID_BODY', 'The installation id must be 16-64 letters, digits, - or _.', {
          detail: { field: 'installationId' },
        });
      }
      const url = new URL(subscription.endpoint);
      if (!allowed.has(url.origin) && !isPublicEndpoint(url)) {
        throw new DeliveryError('DELIVERY_INVALID_BODY', 'endpoint: must be a push service on a public address', {
          detail: { field: 'endpoint' },
        });
      }
      if (subscription.expirationTime != null && subscription.expirationTime <= clock.now()) {
        throw new DeliveryError('DELIVERY_INVALID_BODY', 'expirationTime: the subscription has expired', {
          detail: { field: 'expirationTime' },
        });
      }
      const push = service();
      return serialized(id, async () => {
        const existing = await push.getInstallation(id);
        if (existing !== undefined && existing.userId !== principal.id) {
          throw new DeliveryError(
            'DELIVERY_PUSH_INSTALLATION_TAKEN',
            'This installation id belongs to another account; subscribe again with a new id.',
            { detail: { installationId: id } },
          );
        }
        if (existing === undefined) await evictOldest(push, principal);
        const lifetimeEnd = clock.now() + ttlMs;
        const expires = Math.min(subscription.expirationTime ?? lifetimeEnd, lifetimeEnd);
        let installation: Installation;
        try {
          installation = await push.upsertInstallation({
            installationId: id,
            platform: 'browser',
            userId: principal.id,
            pushChannel: { endpoint: subscription.endpoint, ...subscription.keys },
            templates: installationTemplates(),
            expirationTime: new Date(expires).toISOString(),
          });
        } catch (err) {
          if (isPushError(err) && err.code === 'PUSH_INVALID_CHANNEL') {
            const reason = String(err.detail?.reason ?? 'endpoint');
            const field = reason === 'p256dh' || reason === 'auth' ? `keys.${reason}` : 'endpoint';
            throw new DeliveryError('DELIVERY_INVALID_BODY', `${field}: ${err.message}`, {
              detail: { field },
              cause: err,
            });
          }
          throw err;
        }
        return { created: existing === undefined, view: viewOf(installation) };
      });
    },
    async get(principal, id) {
      return viewOf(await owned(principal, id));
    },
    remove(principal, id) {
      return serialized(id, async () => {
        await owned(principal, id);
        await service().deleteInstallation(id);
      });
    },
  };
}

function viewOf(installation: Installation): PushInstallationView {
  const channel = installation.pushChannel;
  return {
    installationId: installation.installationId,
    userId: installation.userId ?? '',
    endpointOrigin: typeof channel === 'string' ? '' : new URL(channel.endpoint).origin,
    templates: Object.keys(installation.templates),
    expirationTime: installation.expirationTime ?? null,
    lastUpdate: installation.lastUpdate,
    pushChannelExpired: installation.pushChannelExpired,
  };
}

type Route = {
  path: RegExp;
  methods: Record<string, (request: IncomingMessage, response: ServerResponse, params: string[]) => Promise<void>>;
};

/** The API's routes for installations: `customer` resolves the request's signed-in customer. */
export function pushRoutes(
  installations: PushInstallations,
  customer: (request: IncomingMessage) => Promise<Principal>,
  maxBody: number,
): Route[] {
  return [
    {
      path: /^\/api\/v1\/push\/installations\/([^/]+)$/,
      methods: {
        PUT: async (req, res, [id]) => {
          const principal = await customer(req);
          const body = await readJson(req, PushSubscription, maxBody);
          const { created, view } = await installations.put(principal, id!, body);
          sendJson(res, created ? 201 : 200, view);
        },
        GET: async (req, res, [id]) => sendJson(res, 200, await installations.get(await customer(req), id!)),
        DELETE: async (req, res, [id]) => {
          await installations.remove(await customer(req), id!);
          sendNoContent(res);
        },
      },
    },
  ];
}
