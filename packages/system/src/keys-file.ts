/**
 * The keys of a running system, kept in `<dataDir>/keys.json` (mode 0600) so that tokens, signed
 * requests and links survive a restart: the SignalR access key, the bus's shared access key, the
 * store's master key, and named app secrets (such as the delivery app's TrackingKey). A key given explicitly wins and is
 * not written; a missing one is generated once. Without a data directory they live in memory.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SasKey } from '@hubbub/bus';
import { InvalidOptionError } from '@hubbub/kernel';
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
}

export interface GivenKeys {
  signalR?: string;
  bus?: SasKey;
  /** The store's master key: base64 of at least 32 bytes. */
  store?: string;
}

interface KeysFile {
  signalRAccessKey?: unknown;
  busKeyName?: unknown;
  busKey?: unknown;
  storeKey?: unknown;
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
  return { signalR, bus, store, secrets };
}

/** Parses `name=value` (a flag or `$HUBBUB_BUS_KEY`) into a SAS key; a CLI_USAGE error otherwise. */
export function parseKey(text: string): SasKey {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) throw new UsageError(`--key must be name=value, got '${text}'`);
  return { name: text.slice(0, eq), key: text.slice(eq + 1) };
}
