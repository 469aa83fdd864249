// @ts-check
/**
 * `npm run bench`: how fast the library downloads, next to the browser's own fastest paths,
 * and how much memory the browser grows while it does. See bench/README.md.
 *
 * Env: BENCH_SIZES (default `256m,1g`; `none`: no size runs), BENCH_RUNS (default 3),
 * BENCH_ENGINES (default `background-fetch,stream`), BENCH_PORT (default 8700),
 * BENCH_MANY (default 1000: tasks of 16 KiB for the many-tasks runs; 0 skips them),
 * BENCH_MANY_LIB (`0`: of the many-tasks runs, only the delivery one).
 */
import { chromium } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSize, startServer } from '../e2e/server/server.mjs';
import { CHROMIUM_PATH, chromiumArgs } from '../scripts/chromium.mjs';

/**
 * `background-fetch`: Chromium with Background Fetch, the library as configured by default (a
 * visible page's downloads stream); `background-fetch-alone`: the same browser, the session on
 * Background Fetch alone (`streamsWhileVisible = false`); `stream`: Chromium without it.
 * @typedef {'background-fetch' | 'background-fetch-alone' | 'stream'} Engine
 */
/** @typedef {'lib' | 'a' | 'b'} Method */
/** @typedef {{ ms?: number, size?: number, startedAt?: number, endedAt?: number, error?: string }} Result one measurement (`*At`: Date.now()) */
/**
 * @typedef {{ method: Method, run: number, seed: string, ms?: number, mbps?: number, memoryGrowth?: number, cpuS?: number, requests?: number,
 *   startLagMs?: number, tailMs?: number, error?: string }} Run
 * `startLagMs`: from the start to the first GET reaching the server; `tailMs`: from the server's last byte to the end.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STATIC_DIR = path.join(ROOT, 'dist/demo');
const MiB = 1024 ** 2;
const list = (/** @type {string | undefined} */ text, /** @type {string} */ fallback) =>
  (text || fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const SIZES = process.env.BENCH_SIZES === 'none' ? [] : list(process.env.BENCH_SIZES, '256m,1g');
const MANY = Number(process.env.BENCH_MANY ?? 1000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ENGINES = /** @type {Engine[]} */ (list(process.env.BENCH_ENGINES, 'background-fetch,stream'));
const METHODS = /** @type {Method[]} */ (['lib', 'a', 'b']);
const TARGETS = { libOverB: 0.9, memoryGrowth: 64 * MiB, manyOverFetch: 1.5, deliveryMs: 100, startMs: 100 };

for (const size of SIZES) if (parseSize(size) === null) throw new Error(`BENCH_SIZES: not a size: ${size}`);
if (!(MANY >= 0)) throw new Error(`BENCH_MANY: not a number >= 0: ${process.env.BENCH_MANY}`);
if (!(RUNS >= 1)) throw new Error(`BENCH_RUNS: not a positive number: ${process.env.BENCH_RUNS}`);
for (const engine of ENGINES)
  if (!['background-fetch', 'background-fetch-alone', 'stream'].includes(engine)) throw new Error(`BENCH_ENGINES: unknown engine ${engine}`);

/** The first port the bench's server tries (`BENCH_PORT`, default 8700); it takes the first free one of 100. */
const FIRST_PORT = Number(process.env.BENCH_PORT ?? 8700);

/** Starts the test server on the first free port in FIRST_PORT .. FIRST_PORT + 99. */
async function listen() {
  for (let port = FIRST_PORT; port < FIRST_PORT + 100; port++) {
    try {
      return await startServer({ port, host: '127.0.0.1', staticDir: STATIC_DIR });
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'EADDRINUSE') throw error;
    }
  }
  throw new Error(`No free port in ${FIRST_PORT}-${FIRST_PORT + 99}`);
}

/** The pid of the browser whose command line holds `--user-data-dir=<profile>` (not one of its children). */
function browserPid(/** @type {string} */ profile) {
  const mine = new Map();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.includes(`--user-data-dir=${profile}`)) mine.set(Number(pid), parentOf(Number(pid)));
    } catch {
      /* the process ended */
    }
  }
  const root = [...mine].find(([, ppid]) => !mine.has(ppid));
  if (!root) throw new Error(`No Chromium process found for profile ${profile}`);
  return root[0];
}

function parentOf(/** @type {number} */ pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** `root` and all its descendants. */
function treePids(/** @type {number} */ root) {
  const children = new Map();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const ppid = parentOf(Number(name));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      /* the process ended */
    }
  }
  const pids = [];
  for (const stack = [root]; stack.length > 0;) {
    const pid = /** @type {number} */ (stack.pop());
    pids.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return pids;
}

/** The summed VmRSS, in bytes, of `root` and all its descendants (`treeRss.count`: how many). */
function treeRss(/** @type {number} */ root) {
  const pids = treePids(root);
  treeRss.count = pids.length;
  let total = 0;
  for (const pid of pids) {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      total += Number(kb ?? 0) * 1024;
    } catch {
      /* the process ended */
    }
  }
  return total;
}
treeRss.count = 0;

/**
 * The CPU time (s, user + system) that `root` and its descendants have used: a run's share is
 * steadier than its wall time on a machine shared with other work.
 */
function treeCpu(/** @type {number} */ root) {
  let total = 0;
  for (const pid of treePids(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in ticks of 10 ms
    } catch {
      /* the process ended */
    }
  }
  return total;
}

/** Samples the tree's RSS every 100 ms. `start()` begins a measurement and returns a function giving its growth so far. */
function memorySampler(/** @type {number} */ root) {
  let peak = treeRss(root);
  const timer = setInterval(() => (peak = Math.max(peak, treeRss(root))), 100);
  const start = () => {
    const base = (peak = treeRss(root));
    return () => Math.max(peak, treeRss(root)) - base;
  };
  return { start, stop: () => clearInterval(timer) };
}

/** In the page: the bench session, whose delegate only notes the time of each event. */
function createSession(/** @type {Record<string, unknown>} */ options) {
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
async function libDownload(/** @type {{ url: string, timeoutMs: number }} */ { url, timeoutMs }) {
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
async function libMany(
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
async function fetchMany(/** @type {string[]} */ urls) {
  const t0 = performance.now();
  const sizes = await Promise.all(urls.map(async (url) => (await (await fetch(url)).arrayBuffer()).byteLength));
  return { ms: performance.now() - t0, size: sizes.reduce((a, b) => a + b, 0) };
}

/**
 * In the page: starts `urls.length` tasks in a session whose delegate never lets its first
 * `didFinishDownloadingTo` settle, so that every event waits in the worker's outbox.
 */
async function startWaiting(/** @type {{ urls: string[], identifier: string }} */ { urls, identifier }) {
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
async function deliverWaiting(/** @type {{ identifier: string, count: number, timeoutMs: number }} */ { identifier, count, timeoutMs }) {
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
async function pageFetch(/** @type {string} */ url) {
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
async function workerCachePut(/** @type {string} */ url) {
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

/** The demo page's service worker, woken first if the browser stopped it. */
async function serviceWorker(/** @type {import('@playwright/test').BrowserContext} */ context, /** @type {import('@playwright/test').Page} */ page) {
  const running = context.serviceWorkers().find((w) => new URL(w.url()).pathname.endsWith('/sw.js'));
  if (running) return running;
  const started = context.waitForEvent('serviceworker', { timeout: 10_000 });
  await page.evaluate(() => navigator.serviceWorker.controller?.postMessage('bench: wake up'));
  return started;
}

/**
 * The many-tasks runs, in the browser of `engine`: (1) MANY tasks of 16 KiB through one
 * session against MANY plain `fetch()`es in the page, all at once; (2) the same number of
 * tasks finished while no page delivers their events, then a new page creating the session,
 * timed to its MANY-th event and to its last.
 */
async function benchMany(
  /** @type {import('@playwright/test').BrowserContext} */ context,
  /** @type {import('@playwright/test').Page} */ page,
  /** @type {string} */ origin,
  /** @type {Engine} */ engine,
) {
  const token = `${Date.now().toString(36)}-${engine}`;
  const urls = (/** @type {string} */ name) => Array.from({ length: MANY }, (_, i) => `${origin}files/16k?seed=${name}-${token}-${i}&id=${name}-${token}`);
  const timeoutMs = 300_000;
  const skip = process.env.BENCH_MANY_LIB === '0';
  // Alternated, RUNS times each: this machine's noise moves single runs by a third.
  /** @type {number[]} */ const libMs = [];
  /** @type {number[]} */ const fetchMs = [];
  /** @type {string | undefined} */ let error;
  let libGets = 0;
  let libHeads = 0;
  for (let run = 1; !skip && run <= RUNS && !error; run++) {
    const lib = await page.evaluate(libMany, {
      urls: urls(`many-lib-${run}`),
      identifier: `bench-many-${token}-${run}`,
      timeoutMs,
      options: sessionOptions(engine),
    });
    const plain = await page.evaluate(fetchMany, urls(`many-fetch-${run}`));
    const libRequests = (await (await fetch(`${origin}__stats?id=many-lib-${run}-${token}`)).json()).log.map((/** @type {any} */ e) => e.method);
    libGets = libRequests.filter((/** @type {string} */ m) => m === 'GET').length;
    libHeads = libRequests.filter((/** @type {string} */ m) => m === 'HEAD').length;
    if (lib.error) error = lib.error;
    else libMs.push(/** @type {number} */ (lib.ms));
    fetchMs.push(plain.ms);
    console.error(
      `  ${engine} ${MANY} x 16 KiB run ${run}: lib ${lib.ms?.toFixed(0) ?? lib.error} ms, ${MANY} fetch() ${plain.ms.toFixed(0)} ms, ratio ${lib.ms ? (lib.ms / plain.ms).toFixed(2) : '-'} (lib: ${libGets} GET, ${libHeads} HEAD)`,
    );
  }
  /** @type {{ libMs?: number, fetchMs: number, ratio?: number, libGets: number, libHeads: number, error?: string, delivery?: any }} */
  const result = { fetchMs: median(fetchMs), libGets, libHeads };
  if (error) result.error = error;
  else if (!skip) Object.assign(result, { libMs: median(libMs), ratio: median(libMs) / median(fetchMs) });

  // (2) Events waiting: the first page hangs in its first handler, so none is acknowledged.
  /** @type {any[]} */
  const deliveries = [];
  for (let run = 1; run <= RUNS; run++) {
    const identifier = `bench-waiting-${token}-${run}`;
    const first = await context.newPage();
    await first.goto(origin);
    await first.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
    await first.evaluate(startWaiting, { urls: urls(`many-waiting-${run}`), identifier });
    const deadline = Date.now() + timeoutMs;
    let waiting = 0;
    while ((waiting = await first.evaluate(async () => (await /** @type {any} */ (globalThis).waitingSession.debugState()).waitingEvents)) < 2 * MANY) {
      if (Date.now() > deadline) throw new Error(`${engine}: only ${waiting} of ${2 * MANY} events waiting after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await first.close();
    const second = await context.newPage();
    await second.goto(origin);
    await second.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
    const d = await second.evaluate(deliverWaiting, { identifier, count: MANY, timeoutMs: 60_000 });
    await second.close();
    deliveries.push(d);
    console.error(
      `  ${engine} ${2 * MANY} waiting events run ${run}: ${MANY}th delivered at ${d.atCount?.toFixed(0)} ms, last (${d.events}th) at ${d.last.toFixed(0)} ms, didFinishEvents at ${d.finished.toFixed(0)} ms`,
    );
  }
  // The median run by the MANY-th event (a run that missed it counts as the slowest).
  const byCount = [...deliveries].sort((x, y) => (x.atCount ?? Infinity) - (y.atCount ?? Infinity));
  result.delivery = byCount[Math.floor((byCount.length - 1) / 2)];
  return result;
}

/** The many-tasks results, by engine. @type {Record<string, any>} */
const manyResults = {};

/** The configuration of an engine's sessions (see `Engine`). */
function sessionOptions(/** @type {Engine} */ engine) {
  return { streamsWhileVisible: engine !== 'background-fetch-alone' };
}

/** Runs every size and method in one browser for `engine`. */
async function benchEngine(/** @type {Engine} */ engine, /** @type {string} */ origin) {
  const profile = await mkdtemp(path.join(tmpdir(), 'bgdl-bench-'));
  const args = chromiumArgs({ backgroundFetch: engine !== 'stream' });
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, headless: true, args });
  const pid = browserPid(profile);
  const memory = memorySampler(pid);
  console.error(`${engine}: Chromium pid ${pid}, ${treeRss.count} processes, RSS ${mib(treeRss(pid))} MiB`);
  try {
    if (context.pages().length === 0) await context.newPage(); // the about:blank tab Background Fetch needs
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
    await page.goto(origin);
    await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
    const shown = await page.locator('#engine').textContent();
    if (/^engine: Background Fetch/.test(shown ?? '') !== (engine !== 'stream')) throw new Error(`Expected engine ${engine}, the demo says "${shown}"`);
    await page.evaluate(createSession, sessionOptions(engine));

    const token = Date.now().toString(36);
    /** @type {(method: Method, size: string, seed: string) => Promise<Result>} */
    const measure = async (method, size, seed) => {
      const url = `${origin}files/${size}?seed=${seed}`;
      const timeoutMs = 120_000 + /** @type {number} */ (parseSize(size)) / 4_000; // 4 MB/s at worst
      if (method === 'lib') return page.evaluate(libDownload, { url, timeoutMs });
      if (method === 'a') return page.evaluate(pageFetch, url);
      return (await serviceWorker(context, page)).evaluate(workerCachePut, url);
    };
    for (const method of METHODS) {
      // warm-up: the first Background Fetch after launch starts seconds late
      const warm = await measure(method, '1m', `warmup-${method}-${token}`);
      if (warm.error) throw new Error(`${engine}: warm-up (${method}) failed: ${warm.error}`);
    }

    if (MANY > 0) {
      manyResults[engine] = await benchMany(context, page, origin, engine).catch((error) => ({ error: firstLine(error) }));
    }

    /** @type {Record<string, Run[]>} */
    const bySize = {};
    for (const size of SIZES) {
      const bytes = /** @type {number} */ (parseSize(size));
      bySize[size] = [];
      for (let run = 1; run <= RUNS; run++) {
        for (const method of METHODS) {
          const seed = `bench-${token}-${engine}-${size}-${run}-${method}`;
          await new Promise((resolve) => setTimeout(resolve, 500)); // let the last run's writes settle
          const growth = memory.start();
          const cpu = treeCpu(pid);
          const result = await measure(method, size, seed).catch((error) => /** @type {Result} */ ({ error: firstLine(error) }));
          /** @type {Run} */
          const entry = { method, run, seed, memoryGrowth: growth(), cpuS: treeCpu(pid) - cpu };
          const stats = await (await fetch(`${origin}__stats?id=${encodeURIComponent(`${seed}:${bytes}`)}`)).json();
          entry.requests = stats.requests;
          if (result.error) entry.error = result.error;
          else if (result.size !== bytes) entry.error = `got ${result.size} bytes, expected ${bytes}`;
          else {
            entry.ms = /** @type {number} */ (result.ms);
            entry.mbps = bytes / 1e6 / (entry.ms / 1000);
            // To the first GET (Background Fetch asks a HEAD first: no byte comes with it).
            const get = stats.log.find((/** @type {{ method: string }} */ r) => r.method === 'GET');
            if (result.startedAt && get) entry.startLagMs = get.t - result.startedAt;
            const lastByte = sentAt.get(seed);
            if (result.endedAt && lastByte) entry.tailMs = result.endedAt - lastByte;
          }
          bySize[size].push(entry);
          const shown = entry.error
            ? `FAILED: ${entry.error}`
            : `${entry.mbps?.toFixed(0)} MB/s, ${entry.ms?.toFixed(0)} ms (start lag ${entry.startLagMs} ms, after last byte ${entry.tailMs} ms)`;
          console.error(
            `  ${engine} ${size} run ${run} ${method}: ${shown}, memory +${mib(entry.memoryGrowth ?? 0)} MiB, browser CPU ${entry.cpuS?.toFixed(2)} s, ${entry.requests} request(s)`,
          );
        }
      }
    }
    return bySize;
  } finally {
    memory.stop();
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

const mib = (/** @type {number} */ bytes) => (bytes / MiB).toFixed(0);
const firstLine = (/** @type {any} */ error) => String(error?.message ?? error).split('\n')[0] ?? '';
/** The median of `xs` (NaN if empty). */
function median(/** @type {number[]} */ xs) {
  const at = (/** @type {number} */ i) => [...xs].sort((x, y) => x - y)[i] ?? NaN;
  return (at(Math.floor((xs.length - 1) / 2)) + at(Math.ceil((xs.length - 1) / 2))) / 2;
}

/** Medians, ratios and the memory peak for one engine and size. */
function summarize(/** @type {Run[]} */ runs) {
  const of = (/** @type {Method} */ m) => median(runs.flatMap((r) => (r.method === m && r.mbps ? [r.mbps] : [])));
  const mbps = { lib: of('lib'), a: of('a'), b: of('b') };
  const libRuns = runs.filter((r) => r.method === 'lib');
  const memoryGrowth = Math.max(0, ...libRuns.map((r) => r.memoryGrowth ?? 0));
  const failures = runs.filter((r) => r.error).map((r) => `run ${r.run} ${r.method}: ${r.error}`);
  const libTailMs = median(libRuns.flatMap((r) => (r.tailMs !== undefined ? [r.tailMs] : [])));
  const libStartMs = median(libRuns.flatMap((r) => (r.startLagMs !== undefined ? [r.startLagMs] : [])));
  const libOverA = mbps.lib / mbps.a;
  const libOverB = mbps.lib / mbps.b;
  const cpu = (/** @type {Method} */ m) => median(runs.flatMap((r) => (r.method === m && r.mbps && r.cpuS ? [r.cpuS] : [])));
  const cpuLibOverB = cpu('lib') / cpu('b');
  return {
    mbps,
    libOverA,
    libOverB,
    cpuLibOverB,
    memoryGrowth,
    libTailMs,
    libStartMs,
    failures,
    targets: { libOverB: libOverB >= TARGETS.libOverB, memoryGrowth: memoryGrowth < TARGETS.memoryGrowth && libRuns.every((r) => !r.error) },
  };
}

if (!existsSync(path.join(STATIC_DIR, 'index.html'))) {
  console.error('dist/demo is missing: npm run build');
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
}
const server = await listen();
/** When each download's last byte left the server (Date.now()), by seed. */
const sentAt = new Map();
server.server.on('request', (/** @type {import('node:http').IncomingMessage} */ req, /** @type {import('node:http').ServerResponse} */ res) => {
  const seed = new URL(req.url ?? '/', server.url).searchParams.get('seed');
  if (seed) res.once('finish', () => sentAt.set(seed, Date.now()));
});
console.error(`bench: server ${server.url}, sizes ${SIZES.join(', ')}, ${RUNS} run(s), engines ${ENGINES.join(', ')}`);
/** @type {Record<string, Record<string, Run[]>>} */
const runs = {};
try {
  for (const engine of ENGINES) {
    runs[engine] = await benchEngine(engine, server.url).catch((error) => {
      console.error(`bench: ${engine} failed to run: ${error?.stack ?? error}`);
      /** @type {Run} */
      const failed = { method: 'lib', run: 0, seed: '', error: `engine failed to run: ${firstLine(error)}` };
      return Object.fromEntries(SIZES.map((size) => [size, [failed]]));
    });
  }
} finally {
  await server.close();
}

const rows = ENGINES.flatMap((engine) => SIZES.map((size) => ({ engine, size, ...summarize(runs[engine]?.[size] ?? []) })));
const fmt = (/** @type {number} */ x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const met = (/** @type {boolean} */ ok) => (ok ? 'met' : 'NOT MET');
const table = [
  [
    'engine',
    'size',
    'lib MB/s',
    '(a) MB/s',
    '(b) MB/s',
    'lib/(a)',
    `lib/(b) [>= ${TARGETS.libOverB}]`,
    `lib memory [< ${mib(TARGETS.memoryGrowth)} MiB]`,
    `lib first GET [< ${TARGETS.startMs} ms]`,
    'lib after last byte',
    'CPU lib/(b)',
  ],
  ...rows.map((r) => [
    r.engine,
    r.size,
    fmt(r.mbps.lib),
    fmt(r.mbps.a),
    fmt(r.mbps.b),
    fmt(r.libOverA, 2),
    `${fmt(r.libOverB, 2)} ${met(r.targets.libOverB)}`,
    `+${mib(r.memoryGrowth)} MiB ${met(r.targets.memoryGrowth)}`,
    `${fmt(r.libStartMs)} ms ${met(r.libStartMs < TARGETS.startMs)}`,
    `${fmt(r.libTailMs)} ms`,
    fmt(r.cpuLibOverB, 2),
  ]),
];
const widths = table.map((row) => row.map((cell) => cell.length)).reduce((w, row) => w.map((x, i) => Math.max(x, row[i] ?? 0)));
console.log(`\nmedian of ${RUNS} run(s); MB/s = 10^6 bytes/s; (a) page fetch(), body dropped; (b) worker fetch() + cache.put()`);
for (const row of table)
  console.log(
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
for (const r of rows) for (const failure of r.failures) console.log(`FAILED ${r.engine} ${r.size} ${failure}`);
if (MANY > 0) {
  console.log(
    `\n${MANY} tasks of 16 KiB, median of ${RUNS} alternated run(s): lib = one session, resume() of all to the last didCompleteWithError; fetch = ${MANY} fetch() in the page at once, bodies read`,
  );
  console.log(
    `delivery = a new page creating the session, to its ${MANY}th waiting event handled (and to the last of ${2 * MANY}), the median of ${RUNS} run(s)`,
  );
  for (const engine of ENGINES) {
    const m = manyResults[engine];
    if (!m) continue;
    const ratio = m.ratio === undefined ? '-' : `${fmt(m.ratio, 2)} ${met(m.ratio <= TARGETS.manyOverFetch)}`;
    const d = m.delivery;
    const delivery = d?.atCount === undefined ? '-' : `${fmt(d.atCount)} ms ${met(d.atCount < TARGETS.deliveryMs)} (last ${fmt(d.last)} ms)`;
    console.log(
      `${engine.padEnd(16)}  lib ${fmt(m.libMs)} ms  fetch ${fmt(m.fetchMs)} ms  lib/fetch [<= ${TARGETS.manyOverFetch}] ${ratio}  delivery [< ${TARGETS.deliveryMs} ms] ${delivery}${m.error ? `  FAILED: ${m.error}` : ''}`,
    );
  }
}

const out = path.join(ROOT, 'bench/results/latest.json');
await mkdir(path.dirname(out), { recursive: true });
const chromiumVersion = spawnSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8' }).stdout.trim();
await writeFile(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), chromium: chromiumVersion, sizes: SIZES, runs: RUNS, targets: TARGETS, summary: rows, raw: runs, many: manyResults }, null, 2)}\n`,
);
console.log(`\nwritten: ${path.relative(process.cwd(), out)}`);
process.exitCode = rows.some((r) => r.failures.length > 0) || Object.values(manyResults).some((m) => m.error) ? 1 : 0;
