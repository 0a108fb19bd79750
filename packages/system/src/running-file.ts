/**
 * `<dataDir>/running.json`: where a running system says how to reach it — its URL, the bus and
 * store endpoints with their keys, the SignalR connection string — so that the CLI's commands
 * find a server on any port without flags. Written when the system listens (mode 0600: it holds
 * keys), removed when it closes cleanly; one left by a process that is gone is ignored.
 * @module
 */
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SasKey } from '@hubbub/bus';
import { HubbubError } from '@hubbub/kernel';

export const RUNNING_FILE = 'running.json';

/** What a running system publishes about itself. */
export interface RunningInfo {
  /** The process serving it. */
  readonly pid: number;
  /** ISO time it started listening. */
  readonly startedAt: string;
  /** Base URL of the one port (`http://127.0.0.1:7071`). */
  readonly url: string;
  /** The bus HTTP API and the shared access key its clients sign with. */
  readonly bus: { readonly url: string; readonly key: SasKey };
  /** The store HTTP API and its master key. */
  readonly store: { readonly url: string; readonly key: string };
  /** `Endpoint=…;AccessKey=…;Version=1.0;` of the SignalR Service stand-in. */
  readonly signalR: { readonly connectionString: string };
  /** The Notification Hubs front (absent with push off): full-rights connection string, hub, the CA clients trust. */
  readonly push?: { readonly connectionString: string; readonly hubName: string; readonly caPath: string | undefined };
  /** The AMQP front the `@azure/service-bus` SDK connects to (absent without one). */
  readonly amqp?: {
    readonly connectionString: string;
    /** Over AMQPS (`Endpoint=sb://HOST/…`, the 1.x SDK's), when served. */
    readonly tlsConnectionString?: string;
    /** The local CA clients trust for it (`NODE_EXTRA_CA_CERTS`). */
    readonly caPath?: string;
  };
}

export const runningFilePath = (dataDir: string): string => join(dataDir, RUNNING_FILE);

/** Writes the file atomically (a reader never sees half of it), readable by the owner only. */
export function writeRunningFile(dataDir: string, info: RunningInfo): void {
  const path = runningFilePath(dataDir);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

/** Removes the file if it still describes the system at `url` in this process. */
export function removeRunningFile(dataDir: string, url: string): void {
  try {
    const current = parse(readFileSync(runningFilePath(dataDir), 'utf8'));
    if (current?.pid === process.pid && current.url === url) rmSync(runningFilePath(dataDir), { force: true });
  } catch {
    // gone already, or another system's: leave it
  }
}

/**
 * The running system of a data directory: `undefined` when there is no file or its process is
 * gone (a crash leaves it behind). A file that is not one of ours is a `SYSTEM_RUNNING_FILE_INVALID`.
 */
export function readRunningFile(dataDir: string): RunningInfo | undefined {
  const path = runningFilePath(dataDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalid(path, (err as Error).message, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid(path, 'it is not JSON', err);
  }
  const info = parse(json);
  if (info === undefined) throw invalid(path, 'it lacks pid, url, bus, store or signalR');
  return isAlive(info.pid) ? info : undefined;
}

function invalid(path: string, why: string, cause?: unknown): HubbubError {
  return new HubbubError(
    'SYSTEM_RUNNING_FILE_INVALID',
    `${path} cannot be read (${why}): delete it (a running Hubbub writes it again on start), or give --url`,
    { detail: { path }, ...(cause === undefined ? {} : { cause }) },
  );
}

function parse(value: unknown): RunningInfo | undefined {
  if (typeof value === 'string') {
    try {
      return parse(JSON.parse(value));
    } catch {
      return undefined;
    }
  }
  const v = value as Partial<Record<keyof RunningInfo, unknown>> | null;
  if (typeof v !== 'object' || v === null) return undefined;
  const bus = v.bus as { url?: unknown; key?: { name?: unknown; key?: unknown } } | undefined;
  const store = v.store as { url?: unknown; key?: unknown } | undefined;
  const signalR = v.signalR as { connectionString?: unknown } | undefined;
  const ok =
    Number.isInteger(v.pid) &&
    (v.pid as number) > 0 &&
    typeof v.url === 'string' &&
    typeof bus?.url === 'string' &&
    typeof bus.key?.name === 'string' &&
    typeof bus.key.key === 'string' &&
    typeof store?.url === 'string' &&
    typeof store.key === 'string' &&
    typeof signalR?.connectionString === 'string';
  return ok ? (value as RunningInfo) : undefined;
}

/** Whether a process with this id exists (EPERM: it does, under another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
