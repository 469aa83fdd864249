import path from 'node:path';
import { readFile } from 'node:fs/promises';
import type { AppPage } from './fixtures.js';
import {
  APP_HARNESS_JS,
  CREATE_VITE_NODE_TSCONFIG,
  CREATE_VITE_TSCONFIG,
  ROOT,
  appIndexHtml,
  expect,
  listFiles,
  run,
  test,
  versionOf,
  type AppFixtures,
  type AppServer,
} from './apps.js';
import { readmeFiles } from './readme.js';
import { expectDownloaded, recordSession, startDownload, testFile } from './recorder.js';
import { unique } from './fixtures.js';

/**
 * What this app adds to README's worker: it takes control at once (so the page's own requests
 * go through it on the first load), and it has routes of its own, which must answer as before.
 */
const APP_SW_TS = `
import { clientsClaim } from 'workbox-core';
import { registerRoute } from 'workbox-routing';
import { NetworkFirst } from 'workbox-strategies';

void self.skipWaiting();
clientsClaim();
registerRoute(
  ({ url }) => url.pathname === '/app/hello',
  async () => new Response(JSON.stringify({ answeredBy: 'workbox route' }), { headers: { 'Content-Type': 'application/json' } }),
);
registerRoute(({ url }) => url.pathname.startsWith('/runtime/'), new NetworkFirst({ cacheName: 'app-runtime' }));
`;

const RUNTIME_JSON = JSON.stringify({ runtime: true });

/** README's Workbox app, with this test's additions, installed from the tarball, type-checked and built; returns its `dist` and the files it should precache. */
async function buildReadmeApp(createApp: AppFixtures['createApp'], tarball: string): Promise<{ dist: string; precached: string[] }> {
  const readme = readmeFiles('workbox', ['vite.config.ts', 'src/sw.ts']);
  const packages = ['vite', '@types/node', 'vite-plugin-pwa', 'workbox-core', 'workbox-precaching', 'workbox-routing', 'workbox-strategies'];
  const app = await createApp(
    {
      ...readme,
      'src/sw.ts': `${readme['src/sw.ts']}${APP_SW_TS}`,
      // The page: vite-plugin-pwa registers the worker (README's page registers none here).
      'index.html': appIndexHtml('/harness.js'),
      'harness.js': APP_HARNESS_JS,
      'public/runtime/data.json': RUNTIME_JSON,
      'tsconfig.json': CREATE_VITE_TSCONFIG,
      'tsconfig.node.json': CREATE_VITE_NODE_TSCONFIG,
    },
    [tarball, ...packages.map((name) => `${name}@${versionOf(name)}`)],
  );

  // README's worker type-checks as the template's src/ does; the build bundles it and fills its precache manifest.
  const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
  await run(app.dir, tsc, ['-p', 'tsconfig.json']);
  await run(app.dir, tsc, ['-p', 'tsconfig.node.json']);
  await app.bin('vite', 'build');
  const dist = path.join(app.dir, 'dist');
  const worker = await readFile(path.join(dist, 'sw.js'), 'utf8');
  expect(worker).not.toContain('self.__WB_MANIFEST');
  expect(worker).not.toMatch(/\bimport\s*[{("'*]|\bprocess\.env\b/); // one classic script, as registerSW.js registers it
  const precached = (await listFiles(dist)).filter((file) => file !== 'sw.js' && !file.startsWith('runtime/'));
  expect(precached).toEqual(expect.arrayContaining(['index.html', 'registerSW.js', expect.stringMatching(/^assets\/index-.*\.js$/)]));
  return { dist, precached };
}

/** The app's own routes answer; requests no route claims go to the network untouched; then, with the server gone, the precache and the routes serve the app. */
async function expectRoutesAndOffline(page: AppPage, server: AppServer): Promise<void> {
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
}

test('README’s Workbox app (vite-plugin-pwa, injectManifest) precaches and routes as before, and runs the library’s downloads', async ({
  engine,
  createApp,
  packLibrary,
  serveApp,
  openAppPage,
}) => {
  test.setTimeout(360_000);
  const { dist, precached } = await buildReadmeApp(createApp, await packLibrary());
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
  await recordSession(page, unique('wb-session'));
  await expectDownloaded(page, server, f, await startDownload(page, f.url));
  // One GET (with Background Fetch, after the HEAD that asks whether ranges are worth it).
  expect((await server.stats(f.id)).log.filter((request) => request.method === 'GET')).toHaveLength(1);

  await expectRoutesAndOffline(page, server);
});
