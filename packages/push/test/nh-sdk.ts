/** The official SDK in a child process (see fixtures/nh-sdk-driver.ts), driven call by call from a test. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const driver = new URL('./fixtures/nh-sdk-driver.ts', import.meta.url).pathname;

export interface SdkError {
  name: string;
  message: string;
  statusCode?: number;
  code?: string;
}

export type SdkReply<T = unknown> = { ok: true; value: T } | { ok: false; error: SdkError };

export interface SdkClient {
  // biome-ignore lint/suspicious/noExplicitAny: the SDK's answers are read as JSON
  call<T = any>(method: string, ...args: unknown[]): Promise<SdkReply<T>>;
  close(): Promise<void>;
  stderr(): string;
}

/** Starts the SDK in a process that trusts `caPath` through NODE_EXTRA_CA_CERTS. */
export function startSdk(connectionString: string, hubName: string, caPath: string): SdkClient {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', driver, connectionString, hubName],
    { env: { ...process.env, NODE_EXTRA_CA_CERTS: caPath }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const waiting = new Map<number, (reply: SdkReply) => void>();
  let next = 1;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const reply = JSON.parse(line) as SdkReply & { id: number };
    waiting.get(reply.id)?.(reply);
    waiting.delete(reply.id);
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  exited.then(() => {
    for (const [, resolve] of waiting) resolve({ ok: false, error: { name: 'Exited', message: err.slice(-2000) } });
  });
  return {
    call(method, ...args) {
      const id = next++;
      return new Promise((resolve) => {
        waiting.set(id, resolve as (r: SdkReply) => void);
        child.stdin!.write(`${JSON.stringify({ id, method, args })}\n`);
      });
    },
    async close() {
      child.stdin!.end();
      await exited;
    },
    stderr: () => err,
  };
}
