// @ts-check
/**
 * What `bench.mjs` runs inside the browser (each function is serialized by Playwright's
 * `evaluate`, so it uses nothing from its module): the library's downloads and the plain
 * ones beside them, in the page or in the service worker.
 */

/** In the page: the bench session, whose delegate only notes the time of each event. */
export function createSession(/** @type {Record<string, unknown>} */ options) {
  const { URLSession, URLSessionConfiguration } = /** @type {any} */ (globalThis).bgdl;
  /** @type {Map<number, { finished?: number, endedAt?: number, size?: number, completed?: boolean, error?: any }>} */
  const seen = new Map();
  const entry = (/** @type {any} */ task) => seen.get(task.taskIdentifier) ?? seen.set(task.taskIdentifier, {}).get(task.taskIdentifier) ?? {};
  const session = new URLSession(Object.assign(URLSessionConfiguration.background('bench'), options), {
    didFinishDownloadingTo(/** @type {any} */ _s, /** @type {any} */ task, /** @type {any} */ location) {
      Object.assign(entry(task), { finished: performance.now(), endedAt: Date.now(), size: location.size });
    },
    didCompleteWithError(/** @type {any} */ _s, /** @type {any} */ task, /** @type {any} */ error) {
      Object.assign(entry(task), { completed: true, error: error && { name: error.name, code: error.code, status: error.status, message: error.message } });
    },
  });
  Object.assign(globalThis, { benchSession: session, benchSeen: seen });
}

/** In the page: one download through the library, from `resume()` to `didFinishDownloadingTo`. */
export async function libDownload(/** @type {{ url: string, timeoutMs: number }} */ { url, timeoutMs }) {
  const { benchSession: session, benchSeen: seen } = /** @type {any} */ (globalThis);
  const task = session.downloadTask(url);
  const startedAt = Date.now();
  const t0 = performance.now();
  task.resume();
  const deadline = t0 + timeoutMs;
  while (!seen.get(task.taskIdentifier)?.completed && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const result = seen.get(task.taskIdentifier) ?? {};
  seen.delete(task.taskIdentifier);
  if (!result.completed) {
    const state = { state: task.state, received: task.countOfBytesReceived, finished: result.finished !== undefined };
    task.cancel();
    return { error: `timeout after ${timeoutMs} ms: ${JSON.stringify(state)}` };
  }
  if (result.error) return { error: `didCompleteWithError: ${JSON.stringify(result.error)}` };
  if (result.finished === undefined) return { error: 'didCompleteWithError(null) without didFinishDownloadingTo' };
  return { ms: result.finished - t0, size: result.size, startedAt, endedAt: result.endedAt };
}

/** In the page: `urls.length` tasks resumed together in one new session, to the last `didCompleteWithError`. */
export async function libMany(
  /** @type {{ urls: string[], identifier: string, timeoutMs: number, options: Record<string, unknown> }} */ { urls, identifier, timeoutMs, options },
) {
  const { URLSession, URLSessionConfiguration } = /** @type {any} */ (globalThis).bgdl;
  let completed = 0;
  let failed = 0;
  /** @type {() => void} */
  let allDone = () => {};
  const done = new Promise((resolve) => (allDone = () => resolve(undefined)));
  const session = new URLSession(Object.assign(URLSessionConfiguration.background(identifier), options), {
    didFinishDownloadingTo() {},
    didCompleteWithError(/** @type {any} */ _s, /** @type {any} */ _t, /** @type {any} */ error) {
      if (error) failed++;
      if (++completed === urls.length) allDone();
    },
  });
  await session.ready;
  const t0 = performance.now();
  for (const url of urls) {
    const task = session.downloadTask(url);
    // The seed's hint of a task's size: small files, which the library may stream together.
    task.countOfBytesClientExpectsToReceive = 64 * 1024;
    task.resume();
  }
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  const ms = performance.now() - t0;
  if (completed < urls.length) return { error: `timeout after ${timeoutMs} ms: ${completed} of ${urls.length} completed` };
  return failed > 0 ? { error: `${failed} of ${urls.length} tasks failed` } : { ms };
}

/** In the page: a plain `fetch()` of each URL, all at once, every body read. */
export async function fetchMany(/** @type {string[]} */ urls) {
  const t0 = performance.now();
  const sizes = await Promise.all(urls.map(async (url) => (await (await fetch(url)).arrayBuffer()).byteLength));
  return { ms: performance.now() - t0, size: sizes.reduce((a, b) => a + b, 0) };
}

/**
 * In the page: starts `urls.length` tasks in a session whose delegate never lets its first
 * `didFinishDownloadingTo` settle, so that every event waits in the worker's outbox.
 */
export async function startWaiting(/** @type {{ urls: string[], identifier: string }} */ { urls, identifier }) {
  const { URLSession, URLSessionConfiguration } = /** @type {any} */ (globalThis).bgdl;
  const session = new URLSession(URLSessionConfiguration.background(identifier), { didFinishDownloadingTo: () => new Promise(() => {}) });
  Object.assign(globalThis, { waitingSession: session });
  // Ready first: `ready` settles once the events waiting are delivered, and an event of these
  // tasks (fast ones) would hang it.
  await session.ready;
  for (const url of urls) {
    const task = session.downloadTask(url);
    task.countOfBytesClientExpectsToReceive = 64 * 1024;
    task.resume();
  }
}

/** In a new page: creates the session and times its delegate's events (ms from `new URLSession`). */
export async function deliverWaiting(/** @type {{ identifier: string, count: number, timeoutMs: number }} */ { identifier, count, timeoutMs }) {
  const { URLSession, URLSessionConfiguration } = /** @type {any} */ (globalThis).bgdl;
  let events = 0;
  /** @type {number | undefined} */
  let atCount;
  let last = 0;
  /** @type {() => void} */
  let finish = () => {};
  const finished = new Promise((resolve) => (finish = () => resolve(undefined)));
  const t0 = performance.now();
  const seen = () => {
    if (++events === count) atCount = performance.now() - t0;
    last = performance.now() - t0;
  };
  new URLSession(URLSessionConfiguration.background(identifier), { didFinishDownloadingTo: seen, didCompleteWithError: seen, didFinishEvents: finish });
  await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  return { events, atCount, last, finished: performance.now() - t0 };
}

/** In the page: (a) a plain fetch, the body read to the end and dropped. */
export async function pageFetch(/** @type {string} */ url) {
  const startedAt = Date.now();
  const t0 = performance.now();
  const response = await fetch(url);
  if (!response.ok) return { error: `HTTP ${response.status}` };
  const reader = /** @type {ReadableStream<Uint8Array>} */ (response.body).getReader();
  let size = 0;
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) size += chunk.value.byteLength;
  return { ms: performance.now() - t0, size, startedAt, endedAt: Date.now() };
}

/** In the service worker: (b) a plain fetch stored whole with `cache.put`, then deleted. */
export async function workerCachePut(/** @type {string} */ url) {
  const cache = await caches.open('bench-scratch');
  const request = new Request(url);
  const startedAt = Date.now();
  const t0 = performance.now();
  const response = await fetch(request);
  if (!response.ok) return { error: `HTTP ${response.status}` };
  const size = Number(response.headers.get('Content-Length')); // cache.put rejects if the body fails
  await cache.put(request, response);
  const ms = performance.now() - t0;
  const endedAt = Date.now();
  await cache.delete(request);
  return { ms, size, startedAt, endedAt };
}
