// @ts-check
/**
 * `node bench/save.mjs`: the browser's memory while `documents.save(name)` writes a large
 * stored file to disk (README, "Using the file"), against reading the same file whole into
 * memory (`blob.arrayBuffer()`), side by side in one Chromium. The file the user would pick is
 * a file of the origin private file system (the page cannot open a picker without a click).
 * Run `npm run build` first.
 *
 * Env: SAVE_SIZE (default `1g`), SAVE_RUNS (default 3), SAVE_PORT (default 8760).
 */
import { parseSize } from '../e2e/server/server.mjs';
import { openDemoPage } from './demoPage.mjs';
import { browserPids, usage } from './processes.mjs';

const MiB = 1024 ** 2;
const SIZE = process.env.SAVE_SIZE ?? '1g';
const RUNS = Number(process.env.SAVE_RUNS ?? 3);
const BYTES = /** @type {number} */ (parseSize(SIZE));

/** In the page: downloads `url` with the library and keeps it as `name`. */
async function keep(/** @type {{ url: string, name: string }} */ { url, name }) {
  const { URLSession, URLSessionConfiguration, documents } = globalThis.bgdl;
  const done = new Promise((resolve, reject) => {
    const session = new URLSession(URLSessionConfiguration.background(`save-${name}`), {
      didFinishDownloadingTo: (_session, _task, location) => location.moveTo(name),
      didCompleteWithError: (_session, _task, error) => (error ? reject(error) : resolve(undefined)),
    });
    session.downloadTask(url).resume();
  });
  await done;
  return (await documents.get(name))?.size;
}

/** In the page: `save` (documents.save to an OPFS file) or `read` (the whole file in memory). */
async function use(/** @type {{ name: string, way: string }} */ { name, way }) {
  const t0 = performance.now();
  if (way === 'read') {
    const bytes = await (await globalThis.bgdl.documents.get(name))?.arrayBuffer();
    return { ms: performance.now() - t0, size: bytes?.byteLength };
  }
  const target = await (await navigator.storage.getDirectory()).getFileHandle('saved.bin', { create: true });
  Object.assign(globalThis, { showSaveFilePicker: async () => target });
  await globalThis.bgdl.documents.save(name);
  return { ms: performance.now() - t0, size: (await target.getFile()).size };
}

const { server, page, profile, close } = await openDemoPage('save', Number(process.env.SAVE_PORT ?? 8760));
try {
  const size = await page.evaluate(keep, { url: `${server.url}files/${SIZE}?seed=save`, name: 'big' });
  if (size !== BYTES) throw new Error(`kept ${size} bytes, not ${BYTES}`);
  console.log(`save: ${SIZE}, ${RUNS} run(s)`);
  for (let run = 1; run <= RUNS; run++) {
    for (const way of ['save', 'read']) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const pids = browserPids(profile);
      const before = usage(pids).rss;
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, usage(pids).rss)), 100);
      const result = await page.evaluate(use, { name: 'big', way });
      clearInterval(sampler);
      if (result.size !== BYTES) throw new Error(`${way}: ${result.size} bytes, not ${BYTES}`);
      console.log(`run ${run} ${way.padEnd(4)} ${(result.ms / 1000).toFixed(1)} s, memory +${((peak - before) / MiB).toFixed(0)} MiB`);
    }
  }
} finally {
  await close();
}
