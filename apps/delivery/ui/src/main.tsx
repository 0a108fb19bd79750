/** Hubbub Delivery's customer web app. */
import { render } from 'preact';
import { App } from './app.tsx';
import { registerServiceWorker } from './push.ts';
import './styles.css';

render(<App />, document.getElementById('app')!);

// After the first paint; a page that cannot register (no service worker support, an old server) works online.
addEventListener('load', () => void registerServiceWorker().catch(() => undefined));
