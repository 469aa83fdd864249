import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { APP_INDEX_HTML, APP_MAIN_JS, ROOT, expect, listFiles, run, test, versionOf, workerViteConfig } from './apps.js';
import { expectDownloaded, recordSession, startDownload, testFile } from './recorder.js';
import { unique } from './fixtures.js';

/** The app's worker: the library's, plus the app's own lifecycle choices. */
const SW_JS = `
import { installURLSessionWorker } from 'bgdl/sw';

installURLSessionWorker();
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
`;

/** A TypeScript consumer of the page entry: compiles only if the declarations resolve and say what they should. */
const CHECK_PAGE_TS = `
import { URLError, URLSession, URLSessionConfiguration, documents, registerServiceWorker } from 'bgdl';
import type { DownloadLocation, HTTPURLResponse, URLErrorCode, URLSessionDelegate, URLSessionDownloadTask } from 'bgdl';

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
  const names: string[] = await documents.list();
  console.log(names);
  // @ts-expect-error: a configuration needs an identifier string (fails if the types were any).
  URLSessionConfiguration.background(42);
}
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
function tsconfig(lib: string[], file: string): string {
  const compilerOptions = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    lib,
    types: [],
  };
  return JSON.stringify({ compilerOptions, files: [file] }, null, 2);
}

test('the packed tarball works in a separate Vite app: types resolve, the app builds, a download completes', async ({
  engine,
  packLibrary,
  createApp,
  serveApp,
  openAppPage,
}) => {
  test.skip(engine === 'stream', 'the package is the same for both engines; one run is enough');
  test.setTimeout(360_000);

  const tarball = await packLibrary();
  const app = await createApp(
    {
      'index.html': APP_INDEX_HTML,
      'main.js': APP_MAIN_JS,
      'sw.js': SW_JS,
      'vite.sw.config.js': workerViteConfig('sw.js'),
      'check.ts': CHECK_PAGE_TS,
      'check-sw.ts': CHECK_WORKER_TS,
      'tsconfig.json': tsconfig(['ES2022', 'DOM', 'DOM.Iterable'], 'check.ts'),
      'tsconfig.sw.json': tsconfig(['ES2022', 'WebWorker'], 'check-sw.ts'),
    },
    [tarball, `vite@${versionOf('vite')}`],
  );

  // The tarball holds the built entries and declarations, none of the sources or the demo.
  const installed = await listFiles(path.join(app.dir, 'node_modules/bgdl'));
  expect(installed).toEqual(
    expect.arrayContaining(['package.json', 'dist/index.js', 'dist/sw.js', 'dist/bgdl-sw.js', 'dist/types/src/index.d.ts', 'dist/types/sw/index.d.ts']),
  );
  expect(installed.filter((file) => !/^(dist\/|package\.json$|README\.md$|LICENSE)/.test(file))).toEqual([]);
  expect(installed.filter((file) => file.startsWith('dist/demo/'))).toEqual([]);

  // A TypeScript app sees the declarations of both entries, each under its own lib.
  const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
  await run(app.dir, tsc, ['-p', 'tsconfig.json']);
  await run(app.dir, tsc, ['-p', 'tsconfig.sw.json']);

  // The page build, then the worker as a second build.
  await app.bin('vite', 'build');
  await app.bin('vite', 'build', '--config', 'vite.sw.config.js');
  const dist = path.join(app.dir, 'dist');
  const built = await listFiles(dist);
  expect(built).toEqual(expect.arrayContaining(['index.html', 'sw.js']));
  const worker = await readFile(path.join(dist, 'sw.js'), 'utf8');
  expect(worker).not.toMatch(/\bimport\s*[{("'*]|\bprocess\.env\b/);

  const server = await serveApp(dist);
  const page = await openAppPage(server);
  const f = testFile(server, 5);
  const id = f.id;
  await recordSession(page, unique('pkg-session'));
  await expectDownloaded(page, server, f, await startDownload(page, f.url));
  expect((await server.stats(id)).completed).toBe(1);
});
