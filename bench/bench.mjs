// @ts-check
/**
 * `npm run bench`: how fast the library downloads, next to the browser's own fastest paths,
 * and how much memory the browser grows while it does. See bench/README.md.
 *
 * Env: BENCH_SIZES (default `256m,1g`; `none`: no size runs), BENCH_RUNS (default 3),
 * BENCH_ENGINES (default `background-fetch,stream`), BENCH_PORT (default 8700),
 * BENCH_MANY (default 1000: tasks of 16 KiB for the many-tasks runs; 0 skips them),
 * BENCH_MANY_LIB (`0`: of the many-tasks runs, only the delivery one), BENCH_HANDOVER (`0`: no
 * hand-over runs, `handover.mjs`).
 */
import { chromium } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSize, startServer } from '../e2e/server/server.mjs';
import { CHROMIUM_PATH, chromiumArgs } from '../scripts/chromium.mjs';
import { createSession, libDownload, libMany, fetchMany, startWaiting, deliverWaiting, pageFetch, workerCachePut } from './inPage.mjs';
import { benchHandOver, printHandOver } from './handover.mjs';
import { browserPid, treeRss, treeCpu, memorySampler } from './processes.mjs';
import { median, mib, printResults, summarize, TARGETS } from './summary.mjs';

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
const list = (/** @type {string | undefined} */ text, /** @type {string} */ fallback) =>
  (text || fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const SIZES = process.env.BENCH_SIZES === 'none' ? [] : list(process.env.BENCH_SIZES, '256m,1g');
const MANY = Number(process.env.BENCH_MANY ?? 1000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** The hand-over runs (`handover.mjs`), in the background-fetch browser; `BENCH_HANDOVER=0` skips them. */
const HAND_OVER = process.env.BENCH_HANDOVER !== '0';
const ENGINES = /** @type {Engine[]} */ (list(process.env.BENCH_ENGINES, 'background-fetch,stream'));
const METHODS = /** @type {Method[]} */ (['lib', 'a', 'b']);

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
/** The hand-over runs' results (see `handover.mjs`). @type {Awaited<ReturnType<typeof benchHandOver>> | undefined} */
let handOverResults;

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
    // Last: it closes the bench's page (a page in view keeps the downloads streaming).
    if (engine === 'background-fetch' && HAND_OVER) handOverResults = await benchHandOver(context, origin, RUNS);
    return bySize;
  } finally {
    memory.stop();
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

const firstLine = (/** @type {any} */ error) => String(error?.message ?? error).split('\n')[0] ?? '';
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
printResults(rows, { runs: RUNS, many: MANY, engines: ENGINES, manyResults });
printHandOver(handOverResults);

const out = path.join(ROOT, 'bench/results/latest.json');
await mkdir(path.dirname(out), { recursive: true });
const chromiumVersion = spawnSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8' }).stdout.trim();
await writeFile(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), chromium: chromiumVersion, sizes: SIZES, runs: RUNS, targets: TARGETS, summary: rows, raw: runs, many: manyResults, handOver: handOverResults }, null, 2)}\n`,
);
console.log(`\nwritten: ${path.relative(process.cwd(), out)}`);
process.exitCode = rows.some((r) => r.failures.length > 0) || Object.values(manyResults).some((m) => m.error) || handOverResults?.error ? 1 : 0;
