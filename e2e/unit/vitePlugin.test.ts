import { expect, test } from '@playwright/test';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build, createServer, type Rolldown } from 'vite';
import { createBgdlPlugin } from '../../plugin/bgdl.js';
import type { BgdlOptions } from '../../plugin/options.js';

/** A stand-in for the prebuilt worker (as Vite writes it, no newline at the end): what the plugin does with it does not depend on its code. */
const WORKER = '(()=>{self.worker=1})();\n//# sourceMappingURL=bgdl-sw.js.map';
const MAP = JSON.stringify({ version: 3, file: 'bgdl-sw.js', sources: ['../sw/worker.ts'], names: [], mappings: '' });

let dir: string;

test.beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bgdl-plugin-'));
  await mkdir(path.join(dir, 'app'));
  await writeFile(path.join(dir, 'app', 'index.html'), '<!doctype html><title>app</title><script type="module" src="./main.js"></script>');
  await writeFile(path.join(dir, 'app', 'main.js'), 'console.log(1);');
});
test.afterEach(() => rm(dir, { recursive: true, force: true }));

/** Writes the stand-in worker (and its map, unless told not to) outside the app's root, as in a package, and returns its path. */
async function prebuiltWorker(withMap = true): Promise<string> {
  await mkdir(path.join(dir, 'package'));
  const file = path.join(dir, 'package', 'bgdl-sw.js');
  await writeFile(file, WORKER);
  if (withMap) await writeFile(`${file}.map`, MAP);
  return file;
}

/** The files `vite build` would write, by name (nothing is written). */
async function buildApp(options: BgdlOptions | undefined, workerFile: string, base = '/'): Promise<Map<string, string>> {
  const output = (await build({
    root: path.join(dir, 'app'),
    base,
    configFile: false,
    logLevel: 'silent',
    plugins: [createBgdlPlugin(options, workerFile)],
    build: { write: false },
  })) as Rolldown.RolldownOutput;
  return new Map(output.output.map((file) => [file.fileName, file.type === 'asset' ? String(file.source) : file.code]));
}

/** Starts the dev server with the plugin, asks it for each path, and stops it. */
async function askDevServer(options: BgdlOptions | undefined, workerFile: string, base: string, paths: string[]) {
  const vite = await createServer({
    root: path.join(dir, 'app'),
    base,
    configFile: false,
    logLevel: 'silent',
    plugins: [createBgdlPlugin(options, workerFile)],
    server: { middlewareMode: true, hmr: false, ws: false },
  });
  const http = createHttpServer(vite.middlewares);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  try {
    const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    return await Promise.all(
      paths.map(async (p) => {
        const response = await fetch(origin + p);
        const headers = { type: response.headers.get('content-type'), allowed: response.headers.get('service-worker-allowed') };
        return { path: p, status: response.status, ...headers, body: await response.text() };
      }),
    );
  } finally {
    http.close();
    await vite.close();
  }
}

test('vite build emits the worker under its default name, with its map beside it', async () => {
  const files = await buildApp(undefined, await prebuiltWorker());
  expect(files.get('bgdl-sw.js')).toBe(WORKER);
  expect(JSON.parse(files.get('bgdl-sw.js.map') ?? 'null')).toEqual(JSON.parse(MAP));
});

test('a fileName in a folder: the worker, its sourceMappingURL and its map all take the name', async () => {
  const files = await buildApp({ fileName: '/workers/dl.js' }, await prebuiltWorker(), './');
  expect(files.has('bgdl-sw.js')).toBe(false);
  expect(files.get('workers/dl.js')).toBe('(()=>{self.worker=1})();\n//# sourceMappingURL=dl.js.map');
  expect(JSON.parse(files.get('workers/dl.js.map') ?? 'null')).toMatchObject({ file: 'dl.js', sources: ['../sw/worker.ts'] });
});

test('a package without the map: the worker alone, without a sourceMappingURL that would point nowhere', async () => {
  const files = await buildApp(undefined, await prebuiltWorker(false));
  expect(files.get('bgdl-sw.js')).toBe('(()=>{self.worker=1})();\n');
  expect(files.has('bgdl-sw.js.map')).toBe(false);
});

test('the dev server answers the worker and its map under the base, with the scope header, and leaves other paths to Vite', async () => {
  const workerFile = await prebuiltWorker();
  const answers = await askDevServer({ fileName: 'workers/dl.js', scope: '/app/' }, workerFile, '/app/', [
    '/app/workers/dl.js?v=2',
    '/app/workers/dl.js.map',
    '/app/bgdl-sw.js',
  ]);
  expect(answers[0]).toEqual({
    path: '/app/workers/dl.js?v=2',
    status: 200,
    type: 'text/javascript; charset=utf-8',
    allowed: '/app/',
    body: '(()=>{self.worker=1})();\n//# sourceMappingURL=dl.js.map',
  });
  expect(answers[1]).toMatchObject({ status: 200, type: 'application/json; charset=utf-8' });
  expect(JSON.parse(answers[1]?.body ?? 'null')).toMatchObject({ file: 'dl.js' });
  // Not the worker: Vite's own answer (its SPA fallback, the page).
  expect(answers[2]).toMatchObject({ type: expect.stringContaining('text/html'), allowed: null });
});

test('without a scope, no Service-Worker-Allowed header', async () => {
  const [answer] = await askDevServer(undefined, await prebuiltWorker(), '/', ['/bgdl-sw.js']);
  expect(answer).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8', allowed: null, body: WORKER });
});

test('a missing prebuilt worker fails the build and the dev server at once, saying how to get it', async () => {
  const missing = path.join(dir, 'nowhere', 'bgdl-sw.js');
  const reason = /prebuilt service worker .*nowhere.*bgdl-sw\.js is missing\. Reinstall the package \(npm install bgdl\)/;
  await expect(buildApp(undefined, missing)).rejects.toThrow(reason);
  await expect(askDevServer(undefined, missing, '/', [])).rejects.toThrow(reason);
});

test('a fileName outside the build, or none, is refused when the plugin is made', () => {
  for (const fileName of ['../sw.js', 'a/../../sw.js', './sw.js', '', 'workers/']) {
    expect(() => createBgdlPlugin({ fileName }, 'unused'), fileName).toThrow(/bgdl\(\): fileName .* is not a file path below the app's base/);
  }
  expect(() => createBgdlPlugin({ scope: 1 as unknown as string }, 'unused')).toThrow(/bgdl\(\): scope must be a path/);
});
