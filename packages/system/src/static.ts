/**
 * Serves a fixed set of files (the web pages and the SignalR browser client) from memory.
 * @module
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { requestTarget } from '@hubbub/kernel';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
};

export type StaticFiles = (request: IncomingMessage, response: ServerResponse) => boolean;

/**
 * `files` maps a URL path to a file on disk; each is read once, on first request. Relative paths are
 * resolved now: a function app later runs with its own directory as the working directory.
 */
export function createStaticFiles(given: Record<string, string>): StaticFiles {
  const files: Record<string, string> = {};
  for (const [path, file] of Object.entries(given)) files[path] = resolve(file);
  const cache = new Map<string, Buffer>();
  return (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    const path = requestTarget(request).pathname;
    const file = files[path];
    if (file === undefined) return false;
    let body = cache.get(path);
    if (body === undefined) {
      body = readFileSync(file);
      cache.set(path, body);
    }
    const ext = file.slice(file.lastIndexOf('.'));
    response.writeHead(200, {
      'Content-Type': types[ext] ?? 'application/octet-stream',
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
    return true;
  };
}

/** The official SignalR browser client, as shipped in the @microsoft/signalr package. */
export function signalRBrowserClient(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@microsoft/signalr');
  const dist = main.slice(0, main.lastIndexOf('/dist/') + '/dist/'.length);
  return {
    '/vendor/signalr.min.js': `${dist}browser/signalr.min.js`,
    '/vendor/signalr.min.js.map': `${dist}browser/signalr.min.js.map`,
  };
}

/** URL path → file for the files directly in `dir` (`x.html` also at `/x`, `index.html` at `/`). */
export function staticRoutes(dir: string): Record<string, string> {
  const routes: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name);
    if (!statSync(file).isFile()) continue;
    routes[`/${name}`] = file;
    if (name === 'index.html') routes['/'] = file;
    else if (name.endsWith('.html')) routes[`/${name.slice(0, -'.html'.length)}`] = file;
  }
  return routes;
}
