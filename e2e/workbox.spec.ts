import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { APP_INDEX_HTML, APP_MAIN_JS, expect, listFiles, test, versionOf, workerViteConfig } from './apps.js';
import { expectDownloaded, recordSession, startDownload, testFile } from './recorder.js';
import { unique } from './fixtures.js';

/**
 * The app's worker source, as a Workbox app writes it: precaching, its own routes, and the
 * library beside them. Bundled by Vite first; then injectManifest fills `self.__WB_MANIFEST`.
 */
const SW_SOURCE = `
import { clientsClaim } from 'workbox-core';
import { cleanupOutdatedCaches, precacheAndRoute } from 'workbox-precaching';
import { registerRoute } from 'workbox-routing';
import { NetworkFirst } from 'workbox-strategies';
import { installURLSessionWorker } from 'bgdl/sw';

installURLSessionWorker();
self.skipWaiting();
clientsClaim();
cleanupOutdatedCaches();
precacheAndRoute(self.__WB_MANIFEST);
registerRoute(
  ({ url }) => url.pathname === '/app/hello',
  () => new Response(JSON.stringify({ answeredBy: 'workbox route' }), { headers: { 'Content-Type': 'application/json' } }),
);
registerRoute(({ url }) => url.pathname.startsWith('/runtime/'), new NetworkFirst({ cacheName: 'app-runtime' }));
`;

const RUNTIME_JSON = JSON.stringify({ runtime: true });

test('a Workbox-built worker (injectManifest) precaches and routes as before, and runs the library’s downloads', async ({
  engine,
  createApp,
  packLibrary,
  serveApp,
  openAppPage,
}) => {
  test.setTimeout(360_000);
  const workbox = (name: string) => `${name}@${versionOf(name)}`;
  const app = await createApp(
    {
      'index.html': APP_INDEX_HTML,
      'main.js': APP_MAIN_JS,
      'public/runtime/data.json': RUNTIME_JSON,
      'sw-src.js': SW_SOURCE,
      'vite.sw.config.js': workerViteConfig('sw-src.js', 'sw-bundle'),
    },
    [await packLibrary(), `vite@${versionOf('vite')}`, ...['workbox-core', 'workbox-precaching', 'workbox-routing', 'workbox-strategies'].map(workbox)],
  );

  // Build the page, bundle the worker source, then inject the precache manifest into the bundle.
  await app.bin('vite', 'build');
  await app.bin('vite', 'build', '--config', 'vite.sw.config.js');
  const dist = path.join(app.dir, 'dist');
  const bundled = await readFile(path.join(app.dir, 'sw-bundle/sw.js'), 'utf8');
  expect(bundled).toContain('self.__WB_MANIFEST');
  const { injectManifest } = await import('workbox-build'); // loaded here: it takes most of a second
  const { count, warnings } = await injectManifest({
    swSrc: path.join(app.dir, 'sw-bundle/sw.js'),
    swDest: path.join(dist, 'sw.js'),
    globDirectory: dist,
    globPatterns: ['**/*.{html,js,css}'],
    globIgnores: ['sw.js', 'runtime/**'],
    dontCacheBustURLsMatching: /^assets\//,
  });
  expect(warnings).toEqual([]);
  const precached = (await listFiles(dist)).filter((file) => file !== 'sw.js' && !file.startsWith('runtime/'));
  expect(precached).toEqual(expect.arrayContaining(['index.html', expect.stringMatching(/^assets\/index-.*\.js$/)]));
  expect(count).toBe(precached.length);
  expect(await readFile(path.join(dist, 'sw.js'), 'utf8')).not.toContain('self.__WB_MANIFEST');

  const server = await serveApp(dist);
  const page = await openAppPage(server);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
  const hasBackgroundFetch = await page.evaluate(async () => 'backgroundFetch' in (await navigator.serviceWorker.ready));
  expect(hasBackgroundFetch).toBe(engine === 'background-fetch');

  // The precache holds the app's files (Workbox fills it before the worker activates).
  const precache = await page.evaluate(async () => {
    const names = await caches.keys();
    const name = names.find((n) => n.startsWith('workbox-precache-'));
    const keys = name ? await (await caches.open(name)).keys() : [];
    return { names, paths: keys.map((request) => new URL(request.url).pathname.slice(1)).sort() };
  });
  expect(precache.names).toContainEqual(expect.stringMatching(/^workbox-precache-/));
  expect(precache.paths).toEqual(precached);

  // A download through the library, in the same worker.
  const f = testFile(server, 5);
  const id = f.id;
  await recordSession(page, unique('wb-session'));
  await expectDownloaded(page, server, f, await startDownload(page, f.url));
  // One GET (with Background Fetch, after the HEAD that asks whether ranges are worth it).
  expect((await server.stats(id)).log.filter((request) => request.method === 'GET')).toHaveLength(1);

  // The app's own routes still answer; requests no route claims go to the network untouched.
  const plain = unique('plain');
  const answers = await page.evaluate(
    async (plainURL) => {
      const hello = await (await fetch('/app/hello')).json();
      const runtime = await (await fetch('/runtime/data.json')).json();
      const plainBytes = (await (await fetch(plainURL)).arrayBuffer()).byteLength;
      return { hello, runtime, plainBytes };
    },
    server.url(`/files/64k?seed=${plain}&id=${plain}`),
  );
  expect(answers).toEqual({
    hello: { answeredBy: 'workbox route' },
    runtime: JSON.parse(RUNTIME_JSON),
    plainBytes: 64 * 1024,
  });
  // NetworkFirst stores its copy after answering.
  const runtimeCache = () => page.evaluate(async () => (await (await caches.open('app-runtime')).keys()).map((request) => new URL(request.url).pathname));
  await expect.poll(runtimeCache).toEqual(['/runtime/data.json']);
  expect((await server.stats(plain)).completed).toBe(1);

  // With the server gone, the precache and the routes serve the app.
  await server.close();
  const offline = await page.evaluate(async () => ({
    index: await (await fetch('/')).text(),
    hello: await (await fetch('/app/hello')).json(),
    runtime: await (await fetch('/runtime/data.json')).json(),
  }));
  expect(offline).toEqual({
    index: expect.stringContaining('bgdl test app'),
    hello: { answeredBy: 'workbox route' },
    runtime: JSON.parse(RUNTIME_JSON),
  });
});
