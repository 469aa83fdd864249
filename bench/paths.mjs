// @ts-check
/**
 * `node bench/paths.mjs`: the ways a service worker can store a downloaded body in Cache
 * Storage, and the ways a dedicated worker of the page can store it, side by side in one
 * Chromium without Background Fetch (the streaming engine's browser), with the browser's CPU
 * time and memory growth. It backs the streaming engine's design (see bench/README.md). Run
 * `npm run build` first.
 *
 * Env: PATHS_SIZE (default `256m`), PATHS_RUNS (default 3), PATHS_PORT (default 8700; the
 * server takes that port), PATHS (a comma-separated subset of the names below).
 */
import { parseSize } from '../e2e/server/server.mjs';
import { openDemoPage } from './demoPage.mjs';
import { browserPids, usage } from './processes.mjs';

const MiB = 1024 ** 2;
const SIZE = process.env.PATHS_SIZE ?? '256m';
const RUNS = Number(process.env.PATHS_RUNS ?? 3);
const BYTES = /** @type {number} */ (parseSize(SIZE));

/**
 * What each path does, in the worker:
 * - `whole`: `cache.put(url, response)`, the body never in JavaScript (bench's (b)).
 * - `wrapped`: `cache.put(url, new Response(response.body))`, the body untouched by scripts.
 * - `js-parts`: the streaming engine's way: BYOB reads of 256 KiB into parts of 4 MiB, each a
 *   `cache.put` of a `ReadableStream`, one part filling while the one before commits.
 * - `js-blob`: the body read in the network's chunks, each 4 MiB of them a `cache.put` of a `Blob`.
 * - `ranged-blob`: `Range` requests of 4 MiB, two at a time, each stored as `new Response(await response.blob())`.
 * - `ranged-206`: the same, each `206` handed to `cache.put` as is (Cache Storage refuses it).
 * - `read-only`: the body read in the worker and dropped: what reading costs alone.
 * - `opfs-pipe`: the body piped (`pipeTo`, no script per chunk) into a file of the origin
 *   private file system, written on `close()`.
 * And in a dedicated worker the page makes (a service worker has no `Worker` and no
 * `createSyncAccessHandle`):
 * - `worker-whole`: `whole` there, to compare the two workers.
 * - `worker-sync`: BYOB reads of 1 MiB, each written to one file of the origin private file
 *   system through a `FileSystemSyncAccessHandle`, flushed every 4 MiB.
 * - `worker-sync-parts`: the same, a file of its own for each part of 4 MiB.
 */
const ALL = ['whole', 'wrapped', 'js-parts', 'js-blob', 'ranged-blob', 'ranged-206', 'read-only', 'opfs-pipe'];
const IN_PAGE_WORKER = ['worker-whole', 'worker-sync', 'worker-sync-parts'];
ALL.push(...IN_PAGE_WORKER);
const PATHS = (process.env.PATHS ?? ALL.join(',')).split(',').map((name) => name.trim());
for (const name of PATHS) if (!ALL.includes(name)) throw new Error(`PATHS: unknown path ${name}`);

/** In the worker: stores `url` by `way`; returns the time taken, or the error. */
async function store(/** @type {{ url: string, way: string }} */ { url, way }) {
  const PART = 4 * 1024 * 1024;
  const cache = await caches.open('bgdl-paths');
  const t0 = performance.now();
  try {
    if (way === 'whole') await cache.put(url, await fetch(url, { cache: 'no-store' }));
    else if (way === 'wrapped') await cache.put(url, new Response(/** @type {Response} */ (await fetch(url, { cache: 'no-store' })).body));
    else if (way === 'read-only') {
      const reader = /** @type {ReadableStream<Uint8Array>} */ ((await fetch(url, { cache: 'no-store' })).body).getReader();
      while (!(await reader.read()).done);
    } else if (way === 'js-parts') {
      const reader = /** @type {ReadableStream<Uint8Array>} */ ((await fetch(url, { cache: 'no-store' })).body).getReader({ mode: 'byob' });
      let done = false;
      const read = async (/** @type {number} */ max) => {
        let buffer = new ArrayBuffer(Math.min(256 * 1024, max));
        let filled = 0;
        while (filled < buffer.byteLength) {
          const result = await reader.read(new Uint8Array(buffer, filled, buffer.byteLength - filled));
          if (result.value) buffer = /** @type {ArrayBuffer} */ (result.value.buffer);
          if (result.done) {
            done = true;
            break;
          }
          filled += result.value.byteLength;
        }
        return filled ? new Uint8Array(buffer, 0, filled) : undefined;
      };
      /** @type {Promise<void> | undefined} */
      let previous;
      for (let part = 0; !done; part++) {
        let bytes = 0;
        /** @type {() => void} */
        let closed = () => undefined;
        const full = new Promise((resolve) => (closed = () => resolve(undefined)));
        const stream = new ReadableStream(
          {
            async pull(controller) {
              const chunk = await read(PART - bytes);
              if (chunk) controller.enqueue(chunk);
              bytes += chunk?.byteLength ?? 0;
              if (!chunk || bytes >= PART) {
                controller.close();
                closed();
              }
            },
          },
          new CountQueuingStrategy({ highWaterMark: 8 }),
        );
        const put = cache.put(`${url}&part=${part}`, new Response(stream));
        await full;
        await previous;
        previous = put;
      }
      await previous;
    } else {
      const first = await fetch(url, { cache: 'no-store', headers: { Range: `bytes=0-${PART - 1}` } });
      const total = Number(first.headers.get('Content-Range')?.split('/')[1]);
      const etag = first.headers.get('ETag') ?? '';
      const keep = async (/** @type {number} */ part, /** @type {Response} */ response) => {
        await cache.put(`${url}&part=${part}`, way === 'ranged-206' ? response : new Response(await response.blob()));
      };
      let next = 1;
      const count = Math.ceil(total / PART);
      const lane = async () => {
        for (let part = next++; part < count; part = next++) {
          const last = Math.min(total, (part + 1) * PART) - 1;
          await keep(part, await fetch(url, { cache: 'no-store', headers: { Range: `bytes=${part * PART}-${last}`, 'If-Range': etag } }));
        }
      };
      await Promise.all([keep(0, first), lane(), lane()]);
    }
    return { ms: performance.now() - t0 };
  } catch (error) {
    return { error: String(error) };
  } finally {
    for (const request of await cache.keys()) await cache.delete(request);
  }
}

/** In the worker: `js-blob`, the body's chunks put in parts of 4 MiB, each as a `Blob`. */
async function storeAsBlobs(/** @type {{ url: string }} */ { url }) {
  const PART = 4 * 1024 * 1024;
  const cache = await caches.open('bgdl-paths');
  const t0 = performance.now();
  try {
    const reader = /** @type {ReadableStream<Uint8Array>} */ ((await fetch(url, { cache: 'no-store' })).body).getReader();
    /** @type {Promise<void> | undefined} */
    let previous;
    /** @type {BlobPart[]} */
    let chunks = [];
    let bytes = 0;
    for (let part = 0, done = false; !done;) {
      const result = await reader.read();
      done = result.done;
      if (result.value) {
        chunks.push(/** @type {Uint8Array<ArrayBuffer>} */ (result.value));
        bytes += result.value.byteLength;
      }
      if (bytes < PART && !done) continue;
      const put = cache.put(`${url}&part=${part++}`, new Response(new Blob(chunks)));
      [chunks, bytes] = [[], 0];
      await previous;
      previous = put;
    }
    await previous;
    return { ms: performance.now() - t0 };
  } catch (error) {
    return { error: String(error) };
  } finally {
    for (const request of await cache.keys()) await cache.delete(request);
  }
}

/** In the worker: `opfs-pipe`, the body piped into a file of the origin private file system. */
async function storeInFile(/** @type {{ url: string }} */ { url }) {
  const t0 = performance.now();
  try {
    const directory = await navigator.storage.getDirectory();
    const file = await directory.getFileHandle('bgdl-paths', { create: true });
    const body = /** @type {ReadableStream<Uint8Array>} */ ((await fetch(url, { cache: 'no-store' })).body);
    await body.pipeTo(await /** @type {any} */ (file).createWritable());
    await directory.removeEntry('bgdl-paths');
    return { ms: performance.now() - t0 };
  } catch (error) {
    return { error: String(error) };
  }
}

/**
 * In a dedicated worker: stores `url` by `way` (`IN_PAGE_WORKER`); returns the time taken and
 * the bytes stored, or the error.
 */
async function storeInDedicatedWorker(/** @type {{ url: string, way: string }} */ { url, way }) {
  const PART = 4 * 1024 * 1024;
  const t0 = performance.now();
  const directory = await navigator.storage.getDirectory();
  try {
    if (way === 'worker-whole') {
      const cache = await caches.open('bgdl-paths');
      await cache.put(url, await fetch(url, { cache: 'no-store' }));
      const ms = performance.now() - t0;
      for (const request of await cache.keys()) await cache.delete(request);
      return { ms };
    }
    const reader = /** @type {ReadableStream<Uint8Array>} */ ((await fetch(url, { cache: 'no-store' })).body).getReader({ mode: 'byob' });
    let buffer = new ArrayBuffer(1024 * 1024);
    let stored = 0;
    for (let part = 0, done = false; !done; part++) {
      const name = way === 'worker-sync' ? 'bgdl-paths' : `bgdl-paths-${part}`;
      /** @type {any} */
      const handle = await /** @type {any} */ (await directory.getFileHandle(name, { create: true })).createSyncAccessHandle();
      let at = way === 'worker-sync' ? stored : 0;
      const end = at + PART;
      while (at < end) {
        const result = await reader.read(new Uint8Array(buffer, 0, Math.min(buffer.byteLength, end - at)));
        if (result.done) {
          done = true;
          break;
        }
        at += handle.write(result.value, { at });
        buffer = /** @type {ArrayBuffer} */ (result.value.buffer);
      }
      handle.flush();
      handle.close();
      stored += at - (way === 'worker-sync' ? stored : 0);
    }
    return { ms: performance.now() - t0, stored };
  } catch (error) {
    return { error: String(error) };
  } finally {
    for await (const name of /** @type {any} */ (directory).keys()) if (name.startsWith('bgdl-paths')) await directory.removeEntry(name);
  }
}

/** Runs `storeInDedicatedWorker` in a dedicated worker of `page`, made once. */
async function inDedicatedWorker(/** @type {import('@playwright/test').Page} */ page, /** @type {{ url: string, way: string }} */ order) {
  const code = `onmessage = async ({ data }) => postMessage(await (${storeInDedicatedWorker})(data));`;
  return page.evaluate(
    ({ code, order }) => {
      const scope = /** @type {{ pathsWorker?: Worker }} */ (globalThis);
      scope.pathsWorker ??= new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
      const worker = scope.pathsWorker;
      return new Promise((resolve) => {
        worker.onmessage = ({ data }) => resolve(data);
        worker.postMessage(order);
      });
    },
    { code, order },
  );
}

const { server, context, page, profile, close } = await openDemoPage('paths', Number(process.env.PATHS_PORT ?? 8700));
try {
  /** The demo's worker, woken first if the browser stopped it (as in bench.mjs). */
  const serviceWorker = async () => {
    const running = context.serviceWorkers().find((w) => new URL(w.url()).pathname.endsWith('/sw.js'));
    if (running) return running;
    const started = context.waitForEvent('serviceworker', { timeout: 10_000 });
    await page.evaluate(() => navigator.serviceWorker.controller?.postMessage('paths: wake up'));
    return started;
  };
  console.log(`paths: ${SIZE}, ${RUNS} run(s), ${PATHS.join(', ')}`);
  for (let run = 1; run <= RUNS; run++) {
    for (const way of PATHS) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const pids = browserPids(profile);
      const before = usage(pids);
      let peak = before.rss;
      const timer = setInterval(() => (peak = Math.max(peak, usage(browserPids(profile)).rss)), 100);
      const order = { url: `${server.url}files/${SIZE}?seed=paths-${way}-${run}-${Date.now()}`, way };
      const result = IN_PAGE_WORKER.includes(way)
        ? await inDedicatedWorker(page, order)
        : await (await serviceWorker()).evaluate(way === 'opfs-pipe' ? storeInFile : way === 'js-blob' ? storeAsBlobs : store, order);
      clearInterval(timer);
      const cpu = usage(browserPids(profile)).cpu - before.cpu;
      const short = result.stored !== undefined && result.stored !== BYTES ? ` (stored ${result.stored} bytes of ${BYTES})` : '';
      const shown = result.ms ? `${(BYTES / 1e6 / (result.ms / 1000)).toFixed(0)} MB/s${short}` : `FAILED ${result.error}`;
      console.log(`run ${run} ${way.padEnd(17)} ${shown}, CPU ${cpu.toFixed(2)} s, memory +${((peak - before.rss) / MiB).toFixed(0)} MiB`);
    }
  }
} finally {
  await close();
}
