/**
 * The customer web app's build: Preact with Vite's own esbuild JSX transform (no Babel), served by
 * the all-in-one server under /app/ from `ui/dist` (hashed files in `assets/`, cached for good).
 * `npm run build:ui -w apps/delivery` builds it; `vite` in this folder serves it with reloads
 * against a running `npm start` (the proxy below).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const server = process.env.HUBBUB_URL ?? 'http://127.0.0.1:7071';

/**
 * Writes `sw-offline.js`: this build's files as the offline shell (`SHELL`), a cache named after
 * them (`CACHE`), then `offline-worker.js`, in a function of their own. The site's service worker
 * imports it.
 */
function offlineShell(): Plugin {
  return {
    name: 'hubbub-offline-shell',
    apply: 'build',
    generateBundle(_options, bundle) {
      const files = Object.keys(bundle)
        .filter((f) => !f.endsWith('.map'))
        .sort();
      const shell = [
        '/app/',
        '/app/manifest.webmanifest',
        ...files.filter((f) => f !== 'index.html').map((f) => `/app/${f}`),
        '/city.json',
        '/icon.svg',
      ];
      const cache = `hubbub-app-${createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 12)}`;
      const worker = readFileSync(join(import.meta.dirname, 'offline-worker.js'), 'utf8');
      this.emitFile({
        type: 'asset',
        fileName: 'sw-offline.js',
        // In a function of its own: importScripts shares the worker's global scope with sw.js.
        source: `(() => {\nconst SHELL = ${JSON.stringify(shell)};\nconst CACHE = '${cache}';\n${worker}})();\n`,
      });
    },
  };
}

export default defineConfig({
  plugins: [offlineShell()],
  root: import.meta.dirname,
  base: '/app/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: false,
    rollupOptions: {
      // @microsoft/signalr's ESM build has /*#__PURE__*/ comments Rollup cannot place; harmless.
      onwarn(warning, warn) {
        if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('/node_modules/')) return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: Object.fromEntries(
      ['/api', '/client', '/push', '/city.json', '/push.js', '/sw.js', '/icon.svg'].map((p) => [
        p,
        { target: server, ws: true, changeOrigin: false },
      ]),
    ),
  },
});
