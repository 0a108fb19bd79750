/**
 * The customer web app's build: Preact with Vite's own esbuild JSX transform (no Babel), served by
 * the all-in-one server under /app/ from `ui/dist` (hashed files in `assets/`, cached for good).
 * `npm run build:ui -w apps/delivery` builds it; `vite` in this folder serves it with reloads
 * against a running `npm start` (the proxy below).
 */
import { defineConfig } from 'vite';

const server = process.env.HUBBUB_URL ?? 'http://127.0.0.1:7071';

export default defineConfig({
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
