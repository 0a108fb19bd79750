/**
 * Serves a fixed set of files (the web pages, a built web app's directory, the SignalR browser
 * client) from memory. Files under an immutable prefix (a bundler's content-hashed assets) are
 * cached by browsers for a year; everything else is revalidated on each use.
 * @module
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
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
  '.mjs': 'text/javascript; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

export interface StaticFilesOptions {
  /**
   * URL path prefixes whose files never change under the same name (content-hashed, such as Vite's
   * `/app/assets/`): served with `Cache-Control: public, max-age=31536000, immutable`. @default []
   */
  immutable?: readonly string[];
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

export type StaticFiles = (request: IncomingMessage, response: ServerResponse) => boolean;

/**
 * `files` maps a URL path to a file on disk; each is read once, on first request. Relative paths are
 * resolved now: a function app later runs with its own directory as the working directory.
 */
export function createStaticFiles(given: Record<string, string>, options: StaticFilesOptions = {}): StaticFiles {
  const immutable = options.immutable ?? [];
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
    const ext = file.slice(file.lastIndexOf('.')).toLowerCase();
    response.writeHead(200, {
      'Content-Type': types[ext] ?? 'application/octet-stream',
      'Content-Length': body.length,
      'Cache-Control': immutable.some((prefix) => path.startsWith(prefix)) ? IMMUTABLE : 'no-cache',
      'X-Content-Type-Options': 'nosniff',
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

/**
 * URL path → file for every file under `dir`, recursively, at `prefix` + its relative path
 * (a built web app: `index.html` also at `prefix` and `prefix/`). Dot files are left out; a
 * missing `dir` gives none.
 */
export function staticTree(prefix: string, dir: string): Record<string, string> {
  const base = prefix.replace(/\/+$/, '');
  const routes: Record<string, string> = {};
  if (!existsSync(dir)) return routes;
  const walk = (folder: string, at: string) => {
    for (const name of readdirSync(folder).sort()) {
      if (name.startsWith('.')) continue;
      const file = join(folder, name);
      const stat = statSync(file);
      if (stat.isDirectory()) walk(file, `${at}/${name}`);
      else if (stat.isFile()) routes[`${at}/${name}`] = file;
    }
  };
  walk(dir, base);
  const index = routes[`${base}/index.html`];
  if (index !== undefined) {
    routes[`${base}/`] = index;
    if (base !== '') routes[base] = index;
  }
  return routes;
}
