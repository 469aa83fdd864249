import path from 'node:path';
import { readFile } from 'node:fs/promises';
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
  type App,
} from './apps.js';
import { readmeFiles } from './readme.js';
import { unique } from './fixtures.js';

/** A TypeScript consumer of the page entry: compiles only if the declarations resolve and say what they should. */
const CHECK_PAGE_TS = `
import { URLError, URLSession, URLSessionConfiguration, documents, registerServiceWorker } from 'bgdl';
import type { DownloadLocation, HTTPURLResponse, StoredDocument, URLErrorCode, URLSessionDelegate, URLSessionDownloadTask } from 'bgdl';

const delegate: URLSessionDelegate = {
  didWriteData(_session, task, written: number, total: number, expected: number) {
    const id: number = task.taskIdentifier;
    console.log(id, written, total, expected);
  },
  async didFinishDownloadingTo(_session, _task, location: DownloadLocation) {
    const size: number = location.size;
    const blob: Blob = await location.blob();
    console.log(size, blob.size);
    await location.moveTo('report.pdf');
  },
  didCompleteWithError(_session, _task, error) {
    if (error instanceof URLError) {
      const code: URLErrorCode = error.code;
      const status: number | undefined = error.status;
      console.log(code, status);
    }
  },
};

export async function main(): Promise<void> {
  const workbox = await registerServiceWorker('/sw.js');
  workbox.addEventListener('waiting', () => undefined);
  const session = new URLSession(URLSessionConfiguration.background('MySession'), delegate);
  const task: URLSessionDownloadTask = session.downloadTask('https://example.com/report.pdf');
  task.countOfBytesClientExpectsToReceive = 500 * 1024;
  task.resume();
  const response: HTTPURLResponse | null | undefined = task.response;
  console.log(response?.statusCode, (await session.getAllTasks()).length);
  const files: StoredDocument[] = await documents.list();
  console.log(files.map(({ name, size, digest }) => [name, size, digest]));
  // @ts-expect-error: a configuration needs an identifier string (fails if the types were any).
  URLSessionConfiguration.background(42);
}
`;

/** A TypeScript consumer of the Vite plugin entry, under Node. */
const CHECK_VITE_TS = `
import type { Plugin } from 'vite';
import { bgdl, type BgdlOptions } from 'bgdl/vite';

const options: BgdlOptions = { fileName: 'workers/dl.js', scope: '/' };
const plugin: Plugin = bgdl(options);
console.log(plugin.name);
// @ts-expect-error: a file name is a string (fails if the types were any).
bgdl({ fileName: 1 });
`;

/** A TypeScript consumer of the worker entry, under the WebWorker lib. */
const CHECK_WORKER_TS = `
import { installURLSessionWorker, URLError, type WorkerOptions } from 'bgdl/sw';

const options: WorkerOptions = { disableBackgroundFetch: false };
installURLSessionWorker(options);
console.log(new URLError('cancelled', 'stopped').code);
// @ts-expect-error: an unknown option (fails if the types were any).
installURLSessionWorker({ disableBackgroundFetch: 'yes' });
`;

/** Strict, and checking the package's own declarations too (no skipLibCheck). */
function tsconfig(lib: string[], file: string, types: string[] = []): string {
  const compilerOptions = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    lib,
    types,
  };
  return JSON.stringify({ compilerOptions, files: [file] }, null, 2);
}

/**
 * Asks the app's dev server (its own Vite, with its `vite.config.ts`, in middleware mode on a
 * port the system picks) for each path; prints each answer's status, type and body as JSON.
 */
const DEV_SERVER_JS = `
import http from 'node:http';
import { createServer } from 'vite';

const vite = await createServer({ logLevel: 'silent', server: { middlewareMode: true, hmr: false, ws: false } });
const server = http.createServer(vite.middlewares).listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const answers = {};
for (const path of process.argv.slice(2)) {
  const response = await fetch(\`http://127.0.0.1:\${server.address().port}\${path}\`);
  answers[path] = { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}
server.close();
await vite.close();
console.log(JSON.stringify(answers));
`;

/** The file README's page code downloads; the test serves its own in its place, on the app's origin. */
const README_URL = "'https://example.com/report.pdf'";

/** The tarball holds the built entries, declarations and documents, none of the sources or the demo. */
async function expectPackedFiles(app: App): Promise<void> {
  const installed = await listFiles(path.join(app.dir, 'node_modules/bgdl'));
  const entries = ['dist/index.js', 'dist/sw.js', 'dist/bgdl-sw.js', 'dist/bgdl-sw.js.map', 'dist/vite.js'];
  const types = ['dist/types/src/index.d.ts', 'dist/types/sw/index.d.ts', 'dist/types/plugin/vite.d.ts'];
  expect(installed).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', ...entries, ...types]));
  expect(installed.filter((file) => !/^(dist\/|package\.json$|README\.md$|LICENSE$|CHANGELOG\.md$)/.test(file))).toEqual([]);
  expect(installed.filter((file) => file.startsWith('dist/demo/'))).toEqual([]);
}

/** The dev server answers the worker's URL with the package's prebuilt worker, as JavaScript (not the page, as Vite answers a path it does not know). */
async function expectDevServerServesWorker(app: App): Promise<void> {
  const answers = JSON.parse(await run(app.dir, process.execPath, ['dev-server.mjs', '/bgdl-sw.js', '/bgdl-sw.js.map', '/'])) as Record<
    string,
    { status: number; type: string | null; body: string }
  >;
  const prebuilt = await readFile(path.join(app.dir, 'node_modules/bgdl/dist/bgdl-sw.js'), 'utf8');
  const { body, ...worker } = answers['/bgdl-sw.js'] ?? { body: '' };
  expect({ ...worker, isThePrebuiltWorker: body === prebuilt }).toEqual({
    status: 200,
    type: expect.stringMatching(/^text\/javascript\b/),
    isThePrebuiltWorker: true,
  });
  expect(answers['/bgdl-sw.js.map']).toMatchObject({ status: 200, type: expect.stringMatching(/^application\/json\b/) });
  expect(answers['/']).toMatchObject({ status: 200, type: expect.stringMatching(/^text\/html\b/), body: expect.stringContaining('bgdl test app') });
}

test('README’s quick start works as written with the packed tarball: types resolve, the app builds, vite serves the worker, the download completes', async ({
  engine,
  testBrowser,
  packLibrary,
  createApp,
  serveApp,
  openAppPage,
}) => {
  test.skip(testBrowser === 'chromium' && engine === 'stream', 'the package is the same for both engines; one run in Chromium is enough');
  test.setTimeout(360_000);

  // README's files, verbatim but for the URL downloaded: a file of the test server's (under README's 500 KiB bound).
  const id = unique('pkg-file');
  const size = 256 * 1024;
  const readme = readmeFiles('quick-start', ['vite.config.ts', 'src/main.ts']);
  expect(readme['src/main.ts']?.split(README_URL)).toHaveLength(2);
  const main = readme['src/main.ts']?.replace(README_URL, `'/files/256k?seed=${id}&id=${id}'`) ?? '';
  const app = await createApp(
    {
      ...readme,
      'src/main.ts': main,
      'index.html': appIndexHtml('/src/main.ts', '/harness.js'),
      'harness.js': APP_HARNESS_JS,
      'tsconfig.json': CREATE_VITE_TSCONFIG,
      'tsconfig.node.json': CREATE_VITE_NODE_TSCONFIG,
      'dev-server.mjs': DEV_SERVER_JS,
      'check.ts': CHECK_PAGE_TS,
      'check-sw.ts': CHECK_WORKER_TS,
      'check-vite.ts': CHECK_VITE_TS,
      'tsconfig.check.json': tsconfig(['ES2022', 'DOM', 'DOM.Iterable'], 'check.ts'),
      'tsconfig.check-sw.json': tsconfig(['ES2022', 'WebWorker'], 'check-sw.ts'),
      'tsconfig.check-vite.json': tsconfig(['ES2022'], 'check-vite.ts', ['node']),
    },
    [await packLibrary(), `vite@${versionOf('vite')}`, `@types/node@${versionOf('@types/node')}`],
  );
  await expectPackedFiles(app);

  // README's code under create-vite's tsconfigs; each entry's declarations under strict checks of their own.
  const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
  for (const project of ['tsconfig.json', 'tsconfig.node.json', 'tsconfig.check.json', 'tsconfig.check-sw.json', 'tsconfig.check-vite.json']) {
    await run(app.dir, tsc, ['-p', project]);
  }

  await expectDevServerServesWorker(app);
  await app.bin('vite', 'build');
  const dist = path.join(app.dir, 'dist');
  expect(await listFiles(dist)).toEqual(expect.arrayContaining(['index.html', 'bgdl-sw.js', 'bgdl-sw.js.map']));

  // The built app: README's page registers the worker, and its session keeps the file as report.pdf.
  const server = await serveApp(dist);
  const page = await openAppPage(server);
  const scriptURL = await page.evaluate(async () => (await navigator.serviceWorker.ready).active?.scriptURL);
  expect(scriptURL).toBe(server.url('/bgdl-sw.js'));
  const kept = () =>
    page.evaluate(async () => {
      const blob = await globalThis.bgdl.documents.get('report.pdf');
      if (!blob) return null;
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
      return { size: blob.size, sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') };
    });
  await expect.poll(kept, { timeout: 60_000 }).toEqual({ size, sha256: await server.sha256(id, size) });
  expect((await server.stats(id)).completed).toBe(1);
  expect(await page.evaluate(() => globalThis.appErrors)).toEqual([]);
});
