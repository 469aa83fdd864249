// @ts-check
/**
 * `node bench/closing.mjs`: how often a page going away gets to start a Background Fetch, the
 * hand-over's first step (README, "Which engine when"). A bare app in Debian's Chromium: its
 * page keeps its `ServiceWorkerRegistration` and calls `backgroundFetch.fetch()` at once in a
 * handler; the page is then closed, `CLOSING_RUNS` times per way, with another tab open. A
 * registration counts when its request reaches the server.
 *
 * - `script`: `page.close()`, as a script or the browser closes a tab: `pagehide` only.
 * - `user`: `page.close({ runBeforeUnload: true })`, as a user closes a tab: the call is
 *   made at `beforeunload`, as the library makes it.
 *
 * Env: CLOSING_RUNS (default 20), CLOSING_PORT (default 8777).
 */
import { chromium } from '@playwright/test';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CHROMIUM_PATH, chromiumArgs } from '../scripts/chromium.mjs';

const RUNS = Number(process.env.CLOSING_RUNS ?? 20);
const PORT = Number(process.env.CLOSING_PORT ?? 8777);

/** @param {string} event */
const page = (event) => `<script>
let registration;
navigator.serviceWorker.register('/sw.js');
navigator.serviceWorker.ready.then((ready) => (registration = ready));
addEventListener('${event}', () => void registration.backgroundFetch.fetch(crypto.randomUUID(), ['/file?' + location.hash.slice(1)]).catch(() => {}));
</script>`;
const worker = `addEventListener('install', () => skipWaiting()); addEventListener('activate', (e) => e.waitUntil(clients.claim()));`;

/** @type {Set<string>} */
const fetched = new Set();
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/file') {
    fetched.add(url.search);
    return void res.end('x');
  }
  const body = url.pathname === '/sw.js' ? worker : url.pathname === '/user' ? page('beforeunload') : page('pagehide');
  res.writeHead(200, { 'Content-Type': url.pathname === '/sw.js' ? 'text/javascript' : 'text/html' });
  res.end(body);
});
await new Promise((resolve) => server.listen(PORT, '127.0.0.1', () => resolve(undefined)));

for (const way of ['script', 'user']) {
  const profile = await mkdtemp(path.join(tmpdir(), 'bgdl-closing-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, headless: true, args: chromiumArgs() });
  const started = fetched.size;
  for (let run = 0; run < RUNS; run++) {
    const tab = await context.newPage();
    await tab.goto(`http://127.0.0.1:${PORT}/${way === 'user' ? 'user' : 'script'}#${way}-${run}`);
    await tab.evaluate(() => navigator.serviceWorker.ready);
    await tab.waitForTimeout(300);
    await tab.close({ runBeforeUnload: way === 'user' });
    await new Promise((resolve) => setTimeout(resolve, 700));
  }
  // The first registration after a launch starts a few seconds late.
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  console.log(`${way}: ${fetched.size - started} of ${RUNS} registrations created`);
  await context.close();
  await rm(profile, { recursive: true, force: true });
}
server.close();
