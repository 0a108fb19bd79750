/** Started in a worker thread by local-host.test.ts: a host whose process cannot change directory. */
import { parentPort } from 'node:worker_threads';
import type { Logger } from '@hubbub/kernel';
import { silentLogger } from '@hubbub/kernel';
import { serve } from './support.ts';

const warnings: string[] = [];
const logger: Logger = {
  ...silentLogger,
  warn: (_fields, message) => warnings.push(String(message)),
  child: () => logger,
};
const app = await serve({ app: 'serverless-chat-auth', logger });
const status = (await fetch(`${app.base}/api/negotiate`, { method: 'POST' })).status;
await app[Symbol.asyncDispose]();
parentPort?.postMessage({ warnings, status, functions: app.host.functions.length });
