/**
 * The keys of a running system, kept in `<dataDir>/keys.json` (mode 0600) so that tokens, signed
 * requests and links survive a restart: the SignalR access key, the bus's shared access key, the
 * store's master key, the push part's VAPID key pair and Notification Hubs SAS keys, and named app
 * secrets (such as the delivery app's TrackingKey). A key given explicitly wins and is
 * not written; a missing one is generated once. Without a data directory they live in memory.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SasKey } from '@hubbub/bus';
import { InvalidOptionError } from '@hubbub/kernel';
import { generateVapidKeys } from '@hubbub/push/vapid-keys';
import { UsageError } from './args.ts';

export interface SystemKeys {
  /** Signs SignalR client and server tokens. */
  readonly signalR: string;
  /** Clients of the bus HTTP API sign with it (`SharedAccessSignature`, Manage right). */
  readonly bus: SasKey;
  /** Clients of the store HTTP API sign with it (Cosmos DB master-key signatures; base64, 32 bytes). */
  readonly store: string;
  /** App secrets by setting name. */
  readonly secrets: Readonly<Record<string, string>>;
  /** The push part's keys: VAPID (Web Push) and the Notification Hubs policies' SAS keys. */
  readonly push: PushKeys;
}

export interface PushKeys {
  /** The VAPID key pair (base64url); the public key is the browsers' `applicationServerKey`. */
  readonly vapid: { readonly publicKey: string; readonly privateKey: string };
  /** `DefaultFullSharedAccessSignature` (Listen, Send, Manage): 32+ characters. */
  readonly full: string;
  /** `DefaultListenSharedAccessSignature` (Listen): the key apps may ship. 32+ characters. */
  readonly listen: string;
}

export interface GivenKeys {
  signalR?: string;
  bus?: SasKey;
  /** The store's master key: base64 of at least 32 bytes. */
  store?: string;
  /** Push keys; any part given wins over the file. */
  push?: Partial<PushKeys>;
}

interface KeysFile {
  signalRAccessKey?: unknown;
  busKeyName?: unknown;
  busKey?: unknown;
  storeKey?: unknown;
  vapidPublicKey?: unknown;
  vapidPrivateKey?: unknown;
  pushFullKey?: unknown;
  pushListenKey?: unknown;
  secrets?: Record<string, unknown>;
}

const BUS_KEY_NAME = 'RootManageSharedAccessKey';
const fresh = () => randomBytes(32).toString('base64');
const text = (value: unknown) => (typeof value === 'string' && value.length >= 16 ? value : undefined);

/** The keys file of a data directory, `undefined` when there is none (or it is unreadable). */
export function readKeysFile(dataDir: string): KeysFile | undefined {
  const file = join(dataDir, 'keys.json');
  if (!existsSync(file)) return undefined;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as KeysFile) : undefined;
  } catch {
    return undefined;
  }
}

/** The bus key stored in a data directory, for clients on the same machine (`hubbub send`). */
export function storedBusKey(dataDir: string): SasKey | undefined {
  const stored = readKeysFile(dataDir);
  const key = text(stored?.busKey);
  const name = typeof stored?.busKeyName === 'string' ? stored.busKeyName : BUS_KEY_NAME;
  return key === undefined ? undefined : { name, key };
}

/** A base64 key of at least 32 bytes (what the store's HTTP API signs with), or undefined. */
const storeKeyText = (value: unknown): string | undefined =>
  typeof value === 'string' && /^[A-Za-z0-9+/]+=*$/.test(value) && Buffer.from(value, 'base64').length >= 32
    ? value
    : undefined;

/** The store key stored in a data directory, for clients on the same machine (`hubbub store`). */
export function storedStoreKey(dataDir: string): string | undefined {
  return storeKeyText(readKeysFile(dataDir)?.storeKey);
}

/** Loads the keys (explicit ones first, then the file), generates what is missing and saves it. */
export function loadKeys(dataDir: string | undefined, given: GivenKeys, secretNames: readonly string[]): SystemKeys {
  if (given.signalR !== undefined && given.signalR.length < 16) {
    throw new InvalidOptionError('keys.signalR', 'must be at least 16 characters');
  }
  if (given.bus !== undefined && (given.bus.name === '' || given.bus.key.length < 16)) {
    throw new InvalidOptionError('keys.bus', 'needs a name and a key of at least 16 characters');
  }
  if (given.store !== undefined && storeKeyText(given.store) === undefined) {
    throw new InvalidOptionError('keys.store', 'must be base64 of at least 32 bytes (openssl rand -base64 32)');
  }
  const stored = dataDir === undefined ? undefined : readKeysFile(dataDir);
  const next: KeysFile = { ...stored };
  let signalR = given.signalR;
  if (signalR === undefined) {
    signalR = text(stored?.signalRAccessKey) ?? fresh();
    next.signalRAccessKey = signalR;
  }
  let bus = given.bus;
  if (bus === undefined) {
    const name = typeof stored?.busKeyName === 'string' && stored.busKeyName !== '' ? stored.busKeyName : BUS_KEY_NAME;
    bus = { name, key: text(stored?.busKey) ?? fresh() };
    next.busKeyName = bus.name;
    next.busKey = bus.key;
  }
  let store = given.store;
  if (store === undefined) {
    store = storeKeyText(stored?.storeKey) ?? fresh();
    next.storeKey = store;
  }
  const push = loadPushKeys(stored, given.push ?? {}, next);
  const secrets: Record<string, string> = {};
  const storedSecrets = { ...stored?.secrets };
  for (const name of secretNames) {
    const secret = text(storedSecrets[name]) ?? fresh();
    secrets[name] = secret;
    storedSecrets[name] = secret;
  }
  next.secrets = storedSecrets;
  if (dataDir !== undefined && JSON.stringify(next) !== JSON.stringify(stored)) {
    writeFileSync(join(dataDir, 'keys.json'), `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  }
  return { signalR, bus, store, secrets, push };
}

const base64url = (value: unknown, bytes: number): string | undefined =>
  typeof value === 'string' && /^[A-Za-z0-9_-]+$/.test(value) && Buffer.from(value, 'base64url').length === bytes
    ? value
    : undefined;
const pushKeyText = (value: unknown) => (typeof value === 'string' && value.length >= 32 ? value : undefined);

/** The push keys: given ones win (checked), then the file's; missing ones are made and written to `next`. */
function loadPushKeys(stored: KeysFile | undefined, given: Partial<PushKeys>, next: KeysFile): PushKeys {
  if (given.vapid !== undefined) {
    if (base64url(given.vapid.publicKey, 65) === undefined || base64url(given.vapid.privateKey, 32) === undefined) {
      throw new InvalidOptionError(
        'keys.push.vapid',
        'needs a base64url P-256 public key (65 bytes) and private key (32 bytes), e.g. from `npx web-push generate-vapid-keys`',
      );
    }
  }
  for (const name of ['full', 'listen'] as const) {
    if (given[name] !== undefined && pushKeyText(given[name]) === undefined) {
      throw new InvalidOptionError(`keys.push.${name}`, 'must be at least 32 characters (openssl rand -base64 32)');
    }
  }
  let vapid = given.vapid;
  if (vapid === undefined) {
    const publicKey = base64url(stored?.vapidPublicKey, 65);
    const privateKey = base64url(stored?.vapidPrivateKey, 32);
    vapid = publicKey !== undefined && privateKey !== undefined ? { publicKey, privateKey } : generateVapidKeys();
    next.vapidPublicKey = vapid.publicKey;
    next.vapidPrivateKey = vapid.privateKey;
  }
  let full = given.full;
  if (full === undefined) {
    full = pushKeyText(stored?.pushFullKey) ?? fresh();
    next.pushFullKey = full;
  }
  let listen = given.listen;
  if (listen === undefined) {
    listen = pushKeyText(stored?.pushListenKey) ?? fresh();
    next.pushListenKey = listen;
  }
  return { vapid: { publicKey: vapid.publicKey, privateKey: vapid.privateKey }, full, listen };
}

/** The push keys stored in a data directory, for clients on the same machine (`hubbub push`). */
export function storedPushKeys(dataDir: string): Pick<PushKeys, 'full' | 'listen'> | undefined {
  const stored = readKeysFile(dataDir);
  const full = pushKeyText(stored?.pushFullKey);
  const listen = pushKeyText(stored?.pushListenKey);
  return full === undefined || listen === undefined ? undefined : { full, listen };
}

/** Parses `name=value` (a flag or `$HUBBUB_BUS_KEY`) into a SAS key; a CLI_USAGE error otherwise. */
export function parseKey(text: string): SasKey {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) throw new UsageError(`--key must be name=value, got '${text}'`);
  return { name: text.slice(0, eq), key: text.slice(eq + 1) };
}
