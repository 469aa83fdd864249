// @ts-check
/**
 * `npm run size [-- --check]`: what the library costs an app. Bundles the built page entry
 * (`bgdl`, dist/index.js) and worker entry (`bgdl/sw`, dist/sw.js) the way an app's bundler
 * would, with their dependencies (idb, comlink, workbox-window) included and minified, and
 * prints each bundle's minified and minified+gzipped (level 9) size against its budget.
 * The page entry (what `import 'bgdl'` loads) is measured apart from the chunk it imports
 * lazily (each named with what loads it: workbox-window only when `registerServiceWorker()` is
 * called, the connection to the worker with every session); the budget is the page entry's.
 * What a page that makes a session loads, and the total of all, are printed as well.
 * Exits 0 either way, unless `--check` is given: then 1 when a budget is exceeded.
 * Measures the build in dist/: run `npm run build` first.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KiB = 1024;

/** @type {{ name: string; entry: string; budget: number | null }[]} */
const bundles = [
  // #15's budget. The connection to the worker (Comlink with it) and the event delivery load
  // with a session; the page entry was 8.5 KiB while they were in it.
  { name: 'page (bgdl)', entry: 'dist/index.js', budget: 6 * KiB },
  { name: 'worker (bgdl/sw)', entry: 'dist/sw.js', budget: null },
];

/** @param {number} bytes */
const kib = (bytes) => `${(bytes / KiB).toFixed(2)} KiB`;

/**
 * Bundles one entry with everything it imports, minified.
 * @param {string} entry
 * @returns {Promise<{ main: Buffer; chunks: { name: string; code: Buffer }[] }>} what importing
 *   the entry loads (its file and the chunks it imports statically, joined), and each chunk it
 *   imports lazily (`import()`), which a page loads only when it needs it
 */
async function bundle(entry) {
  const output = /** @type {import('vite').Rollup.RollupOutput[]} */ (
    await build({
      configFile: false,
      root,
      logLevel: 'silent',
      publicDir: false,
      build: {
        write: false,
        minify: true,
        sourcemap: false,
        reportCompressedSize: false,
        // Library mode, as a library is measured: an app build would add Vite's own
        // `__vitePreload` helper (about 0.6 KiB gzipped) for the lazy import, which an app pays
        // once whatever it imports lazily, and other bundlers do not add.
        lib: { entry: path.join(root, entry), formats: ['es'], fileName: () => 'bundle.js' },
        // Vite minifies an `es` library without its whitespace and keeps its comments: not so
        // an app's bundle.
        rolldownOptions: { output: { minify: true, comments: false } },
      },
    })
  );
  const chunks = output.flatMap(({ output }) => output).filter((file) => file.type === 'chunk');
  const byName = new Map(chunks.map((chunk) => [chunk.fileName, chunk]));
  const loaded = new Set(['bundle.js']);
  for (const name of loaded) for (const imported of byName.get(name)?.imports ?? []) loaded.add(imported);
  return {
    main: Buffer.from([...loaded].map((name) => byName.get(name)?.code ?? '').join('\n')),
    chunks: chunks.filter((chunk) => !loaded.has(chunk.fileName)).map((chunk) => ({ name: chunk.name, code: Buffer.from(chunk.code) })),
  };
}

/** What loads the chunks every page that makes a session loads. */
const EVERY_SESSION = 'every session (new URLSession)';

/** What loads each lazy chunk, by chunk name. */
const loadedBy = {
  'workbox-window.prod.es5': 'registerServiceWorker()',
  BackgroundFetchOrders: 'a Background Fetch to start or watch (Chromium)',
  HandOver: 'a session, where the browser has Background Fetch (Chromium)',
  EventDelivery: EVERY_SESSION,
  connection: EVERY_SESSION,
  comlink: EVERY_SESSION,
  documentStore: 'documents.get(), list(), url(), save() or delete()',
  DelayedRequests: 'a task that asks willBeginDelayedRequest',
  pageWriter: "a session, where the browser has an origin private file system (the page's writer)",
  URLSessionTaskMetrics: 'didFinishCollecting',
};

const check = process.argv.includes('--check');
const missing = bundles.filter(({ entry }) => !existsSync(path.join(root, entry)));
if (missing.length) {
  console.error(`size: ${missing.map(({ entry }) => entry).join(', ')} missing; run \`npm run build\` first`);
  process.exit(2);
}

let over = false;
/** @param {string} label @param {number} minified @param {number} gzipped @param {string} verdict */
const row = (label, minified, gzipped, verdict) => console.log(`${label.padEnd(32)} ${kib(minified).padStart(11)}  ${kib(gzipped).padStart(11)}  ${verdict}`);
console.log(`${'bundle'.padEnd(32)} ${'minified'.padStart(11)}  ${'gzip -9'.padStart(11)}  budget (gzip)`);
for (const { name, entry, budget } of bundles) {
  const { main, chunks } = await bundle(entry);
  const gzipped = gzipSync(main, { level: 9 }).length;
  const verdict = budget === null ? 'none' : `${kib(budget)}: ${gzipped <= budget ? 'met' : `OVER by ${kib(gzipped - budget)}`}`;
  if (budget !== null && gzipped > budget) over = true;
  row(chunks.length ? `${name}, entry` : name, main.length, gzipped, verdict);
  if (!chunks.length) continue;
  let minifiedTotal = main.length;
  let gzippedTotal = gzipped;
  /** What every page that makes a session loads: the entry and the chunks every session loads. */
  const withSession = [main];
  for (const { name: chunk, code } of chunks) {
    const size = gzipSync(code, { level: 9 }).length;
    minifiedTotal += code.length;
    gzippedTotal += size;
    // (A chunk of the library's own is named with a hash of its content.)
    const own = chunk.replace(/-[\w-]{8}$/, '');
    const what = own.replace(/(\.prod)?(\.es5)?$/, '');
    const by = loadedBy[/** @type {keyof typeof loadedBy} */ (own)] ?? 'import()';
    if (by === EVERY_SESSION) withSession.push(code);
    row(`  + ${what} (lazy)`, code.length, size, `outside the budget: loaded by ${by}`);
  }
  const session = Buffer.concat(withSession);
  row(`${name}, with a session`, session.length, gzipSync(session, { level: 9 }).length, '');
  row(`${name}, total`, minifiedTotal, gzippedTotal, '');
}
console.log(over ? 'size budget exceeded' : 'size budget met');
if (check && over) process.exit(1);
