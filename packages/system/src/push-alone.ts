/**
 * The push part on its own, for `hubbub push serve`: the same builder `startSystem` uses
 * (`createSystemPush`), over a bus and a store of its own chosen by URL, the keys of the data
 * directory's `keys.json` and the local CA in `<dataDir>/tls` — the push service with its
 * Notification Hubs front, and nothing else.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Bus } from '@hubbub/bus';
import { type Logger, silentLogger } from '@hubbub/kernel';
import type { Store } from '@hubbub/store';
import { absoluteEngineUrl, createStoreAt, engineScheme, openBusAt } from './engines.ts';
import { type GivenKeys, loadKeys } from './keys-file.ts';
import { DEFAULT_PUSH_PORT, type SystemPushOptions } from './push-options.ts';
import type { SystemTls } from './tls-part.ts';

export interface PushPartOptions {
  /** Where `keys.json` and the local CA (`tls/`) live; created if missing. Required. */
  dataDir: string;
  /** The bus the delivery jobs go through. @default `file://<dataDir>/bus` */
  busUrl?: string;
  /** The store of installations and outcomes. @default `pglite://<dataDir>/store` */
  storeUrl?: string;
  /** The Notification Hubs front's port (loopback); 0 picks a free one. @default 7443 */
  port?: number;
  /** Hub name, VAPID subject, FCM and APNs, the service's tuning. @default Web Push only, hub 'hubbub' */
  push?: Omit<SystemPushOptions, 'port'>;
  /** Push keys given explicitly (they win over `keys.json` and are not written). */
  keys?: GivenKeys['push'];
  logger?: Logger;
}

export interface PushPart {
  /** `Endpoint=sb://127.0.0.1:PORT/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=…` */
  readonly connectionString: string;
  /** The listen-only key's connection string (the one apps may ship). */
  readonly listenConnectionString: string;
  readonly hubName: string;
  /** `<dataDir>/tls/ca.pem`: what clients trust. */
  readonly caPath: string;
  /** The browsers' `applicationServerKey` (base64url). */
  readonly vapidPublicKey: string;
  readonly port: number;
  /** Stops the front, lets the service's jobs in flight finish, closes the store and the bus. */
  close(): Promise<void>;
}

/** Starts the push part alone; everything it opened is closed again when a step fails. */
export async function startPushPart(options: PushPartOptions): Promise<PushPart> {
  const dataDir = resolve(options.dataDir);
  const busUrl = absoluteEngineUrl(options.busUrl ?? `file://${resolve(dataDir, 'bus')}`);
  const storeUrl = absoluteEngineUrl(options.storeUrl ?? `pglite://${resolve(dataDir, 'store')}`);
  engineScheme('bus', busUrl);
  engineScheme('store', storeUrl);
  mkdirSync(dataDir, { recursive: true });
  const keys = loadKeys(dataDir, options.keys === undefined ? {} : { push: options.keys }, []).push;
  const logger = options.logger ?? silentLogger;
  const opened: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const part of opened.reverse()) await part.close().catch(() => undefined);
  };
  try {
    // Imported here: the push service's code loads only when the part starts.
    const [{ openSystemTls }, { createSystemPush }] = await Promise.all([
      import('./tls-part.ts'),
      import('./push-part.ts'),
    ]);
    const tls: SystemTls = await openSystemTls(dataDir);
    opened.push(tls);
    const bus: Bus = await openBusAt(busUrl);
    opened.push(bus);
    const store: Store = await createStoreAt(storeUrl, { logger: logger.child({ part: 'store' }) });
    opened.push(store);
    await store.start();
    const push = createSystemPush(
      { ...options.push, port: options.port ?? DEFAULT_PUSH_PORT },
      { bus, store, keys, tls, logger },
    );
    opened.push(push);
    await push.start();
    return {
      connectionString: push.connectionString('full'),
      listenConnectionString: push.connectionString('listen'),
      hubName: push.hubName,
      caPath: tls.caPath,
      vapidPublicKey: keys.vapid.publicKey,
      port: push.port,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
