// @ts-check
/**
 * `node bench/move.mjs`: the disk room `location.moveTo(name)` takes to keep a downloaded file
 * (README, "Using the file"), against a copy of the file whole into the store (what `moveTo`
 * did before it moved parts), side by side in one Chromium. The room is the growth of the
 * profile's Cache Storage on disk while the handler runs, sampled every 20 ms.
 * Run `npm run build` first.
 *
 * Env: MOVE_SIZE (default `256m`), MOVE_RUNS (default 3), MOVE_PORT (default 8770).
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseSize } from '../e2e/server/server.mjs';
import { openDemoPage } from './demoPage.mjs';

const MiB = 1024 ** 2;
const SIZE = process.env.MOVE_SIZE ?? '256m';
const RUNS = Number(process.env.MOVE_RUNS ?? 3);
const BYTES = /** @type {number} */ (parseSize(SIZE));

/** The bytes of the files under `dir`, on disk. */
function diskBytes(/** @type {string} */ dir) {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    try {
      bytes += statSync(path.join(entry.parentPath, entry.name)).blocks * 512;
    } catch {
      /* deleted meanwhile */
    }
  }
  return bytes;
}

/** In the page: downloads `url`, and keeps it as `name` with `moveTo` or a copy whole; `mark` brackets the keeping. */
async function download(/** @type {{ url: string, name: string, way: string }} */ { url, name, way }) {
  const { URLSession, URLSessionConfiguration, documents } = globalThis.bgdl;
  const mark = /** @type {(what: string) => Promise<void>} */ (/** @type {any} */ (globalThis).mark);
  let ms = 0;
  await new Promise((resolve, reject) => {
    const session = new URLSession(URLSessionConfiguration.background(`move-${name}`), {
      async didFinishDownloadingTo(_session, _task, location) {
        await mark('start');
        const t0 = performance.now();
        if (way === 'move') await location.moveTo(name);
        else await (await caches.open('bench-copy')).put(`/copy/${name}`, new Response(await location.blob()));
        ms = performance.now() - t0;
        await mark('end');
      },
      didCompleteWithError: (_session, _task, error) => (error ? reject(error) : resolve(undefined)),
    });
    session.downloadTask(url).resume();
  });
  const size = way === 'move' ? (await documents.get(name))?.size : (await (await (await caches.open('bench-copy')).match(`/copy/${name}`))?.blob())?.size;
  await documents.delete(name);
  await caches.delete('bench-copy');
  return { ms, size };
}

const { server, page, profile, close } = await openDemoPage('move', Number(process.env.MOVE_PORT ?? 8770));
try {
  const store = path.join(profile, 'Default', 'Service Worker', 'CacheStorage');
  /** @type {{ base: number, peak: number, timer?: NodeJS.Timeout }} */
  const room = { base: 0, peak: 0 };
  await page.exposeFunction('mark', (/** @type {string} */ what) => {
    if (what === 'start') {
      room.base = room.peak = diskBytes(store);
      room.timer = setInterval(() => (room.peak = Math.max(room.peak, diskBytes(store))), 20);
    } else {
      clearInterval(room.timer);
      room.peak = Math.max(room.peak, diskBytes(store));
    }
  });
  console.log(`move: ${SIZE}, ${RUNS} run(s); room = the store's growth on disk while the file is kept`);
  /** @type {Record<string, number[]>} */
  const rooms = { move: [], copy: [] };
  for (let run = 1; run <= RUNS; run++) {
    for (const way of ['move', 'copy']) {
      const result = await page.evaluate(download, { url: `${server.url}files/${SIZE}?seed=move-${run}`, name: `big-${run}`, way });
      if (result.size !== BYTES) throw new Error(`${way}: ${result.size} bytes kept, not ${BYTES}`);
      rooms[way]?.push(room.peak - room.base);
      console.log(
        `run ${run} ${way}  ${(result.ms / 1000).toFixed(2)} s, room +${((room.peak - room.base) / MiB).toFixed(0)} MiB (${((room.peak - room.base) / BYTES).toFixed(2)} of the file)`,
      );
    }
  }
  const median = (/** @type {number[]} */ values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? NaN;
  console.log(`median room: move ${(median(rooms.move ?? []) / MiB).toFixed(0)} MiB, copy ${(median(rooms.copy ?? []) / MiB).toFixed(0)} MiB`);
} finally {
  await close();
}
