/**
 * Scripts for the `@azure/service-bus` SDK run as a user runs them: plain `node` in a scratch
 * directory whose `node_modules/@azure/service-bus` is the 1.x SDK (the repository's `azure-sb-1`
 * alias) or 7.9.x, with `NODE_EXTRA_CA_CERTS` trusting Hubbub's local CA. The seed's
 * `sendToQueue.js` is read from `../shared/seeds/sample/` where it lies, copied there, and only
 * its connection string and queue name lines edited — never copied into the project.
 * @module
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ran, runScript } from './processes.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The seed's sample folder, where it lies: `$HUBBUB_SEED_SAMPLE_DIR`, else `shared/seeds/sample` beside
 * the repository or beside any folder above it (a clone elsewhere on the same machine finds it too).
 */
export const seedSampleDir = findSeedSample();

function findSeedSample(): string {
  const given = process.env.HUBBUB_SEED_SAMPLE_DIR;
  if (given !== undefined && given !== '') return given;
  const beside = join(root, '..', 'shared', 'seeds', 'sample');
  for (let dir = join(root, '..'); ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared', 'seeds', 'sample');
    if (existsSync(join(candidate, 'sendToQueue.js'))) return candidate;
    if (dirname(dir) === dir) break;
  }
  // Where this machine class keeps it, for a clone made elsewhere (CI clones main afresh).
  const machine = '/work/shared/seeds/sample';
  return existsSync(join(machine, 'sendToQueue.js')) ? machine : beside;
}
const modules = { 1: join(root, 'node_modules', 'azure-sb-1'), 7: join(root, 'node_modules', '@azure', 'service-bus') };

/** Why the seed's sample cannot be run here (undefined: it can); under `CI=true` the caller fails instead. */
export function seedSampleSkipReason(): string | undefined {
  if (!existsSync(join(seedSampleDir, 'sendToQueue.js'))) {
    return `the seed's sample is not at ${seedSampleDir} (set HUBBUB_SEED_SAMPLE_DIR to the folder holding sendToQueue.js and chat.js)`;
  }
  if (!existsSync(join(modules[1], 'package.json'))) return 'the 1.x SDK (azure-sb-1) is not installed: npm install';
  return undefined;
}

export interface SdkScriptOptions {
  /** Which SDK `require('@azure/service-bus')` loads. */
  sdk: 1 | 7;
  /** The script's text (CommonJS). */
  source: string;
  /** `ca.pem` of the local CA (`NODE_EXTRA_CA_CERTS`). */
  caPath?: string;
  args?: string[];
}

/** Runs `source` with plain node in a scratch directory; the directory is removed after. */
export async function runSdkScript(
  options: SdkScriptOptions,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-sdk-script-'));
  try {
    mkdirSync(join(dir, 'node_modules', '@azure'), { recursive: true });
    symlinkSync(modules[options.sdk], join(dir, 'node_modules', '@azure', 'service-bus'), 'dir');
    writeFileSync(join(dir, 'script.js'), options.source);
    return await ran(
      runScript(join(dir, 'script.js'), options.args ?? [], {
        cwd: dir,
        env: { NODE_EXTRA_CA_CERTS: options.caPath, NODE_OPTIONS: undefined },
        plain: true,
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The seed's send written for the 7.9.x SDK over AMQPS (`fixtures/sdk7-send.js`; args: connection string, queue). */
export function sdk7Sender(): string {
  return readFileSync(fileURLToPath(new URL('../fixtures/sdk7-send.js', import.meta.url)), 'utf8');
}

/**
 * The seed's `sendToQueue.js` as published, with its two lines `const connectionString = "…"` and
 * `const queueName = "…"` set; it throws when the file no longer has exactly those lines.
 */
export function seedSender(connectionString: string, queueName: string): string {
  const text = readFileSync(join(seedSampleDir, 'sendToQueue.js'), 'utf8');
  const lines = [
    [
      'const connectionString = "YOUR_SERVICE_BUS_CONNECTION_STRING";',
      `const connectionString = ${JSON.stringify(connectionString)};`,
    ],
    ['const queueName = "YOUR_QUEUE_NAME";', `const queueName = ${JSON.stringify(queueName)};`],
  ] as const;
  let edited = text;
  for (const [from, to] of lines) {
    if (edited.split(from).length !== 2) throw new Error(`sendToQueue.js no longer has the line ${from}`);
    edited = edited.replace(from, to);
  }
  return edited;
}
