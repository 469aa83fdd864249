// @ts-check
/**
 * `node scripts/firefox-smoke.mjs`: the library in Firefox (no Background Fetch: the streaming
 * engine), driven as a person would through the demo page: what `npm test` skips in Firefox
 * (it cannot stop Firefox's workers or shrink its quota from a test), and what it runs there
 * only with TEST_ALL_BROWSERS=1. Needs Firefox (`apt-get install -y firefox-esr`):
 *
 *   npm run build && node scripts/firefox-smoke.mjs
 *
 * Env: FIREFOX_PATH (default `/usr/bin/firefox-esr`), FIREFOX_SMOKE_PORT (default 8390; the
 * test server takes it). Each check prints `ok` or `FAILED` with what it saw; the exit code is
 * the number of failed checks. The worker's console does not come over WebDriver BiDi, so
 * Firefox is asked to print every console message and uncaught error on its output
 * (`devtools.console.stdout.content`), which is read for the app's errors and warnings.
 */
import { appendFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { startServer } from '../e2e/server/server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
// A copy of the demo: the update check changes its worker.
const demo = await mkdtemp(path.join(tmpdir(), 'bgdl-firefox-demo-'));
await cp(path.join(ROOT, 'dist/demo'), demo, { recursive: true });
const server = await startServer({ port: Number(process.env.FIREFOX_SMOKE_PORT ?? 8390), host: '127.0.0.1', staticDir: demo });
const base = server.url;
const profile = await mkdtemp(path.join(tmpdir(), 'bgdl-firefox-'));
/** The app's errors and warnings: the page's and the worker's, as Firefox printed them. */
const errors = /** @type {string[]} */ ([]);
let failed = 0;

/** Prints one check's outcome. */
function check(/** @type {string} */ name, /** @type {boolean} */ ok, /** @type {unknown} */ seen) {
  if (!ok) failed++;
  console.log(`${ok ? 'ok    ' : 'FAILED'} ${name}: ${typeof seen === 'string' ? seen : JSON.stringify(seen)}`);
}

/** Firefox on the smoke profile, its output read for the app's errors (only this origin's). */
async function launch(/** @type {Record<string, unknown>} */ prefs = {}) {
  const browser = await /** @type {any} */ (puppeteer).launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr',
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: { 'devtools.console.stdout.content': true, ...prefs },
  });
  for (const stream of [browser.process()?.stdout, browser.process()?.stderr]) {
    let rest = '';
    stream?.on('data', (/** @type {Buffer} */ data) => {
      const lines = (rest + data).split('\n');
      rest = lines.pop() ?? '';
      // A tab closed with a timer or listener pending logs "Script terminated by timeout": Firefox's, not the app's.
      for (const line of lines) if (/^(console\.(error|warn)|JavaScript error):/.test(line) && line.includes(base)) errors.push(line);
      for (const line of lines) if (/^console\.(error|warn): "(?!RSLoader)/.test(line) && !line.includes(base)) errors.push(line);
    });
  }
  return browser;
}

/** A tab of the demo with a recording session `identifier` (`globalThis.recorded`). */
async function openApp(/** @type {any} */ browser, /** @type {string} */ identifier) {
  const page = await browser.newPage();
  page.on('pageerror', (/** @type {Error} */ error) => errors.push(`page: ${error.message}`));
  await page.goto(base);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  await page.evaluate((/** @type {string} */ identifier) => {
    const { URLSession, URLSessionConfiguration } = /** @type {any} */ (globalThis).bgdl;
    const hex = (/** @type {ArrayBuffer} */ buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
    const recorded = /** @type {unknown[]} */ ([]);
    const session = new URLSession(URLSessionConfiguration.background(identifier), {
      async didFinishDownloadingTo(/** @type {unknown} */ _, /** @type {any} */ task, /** @type {any} */ location) {
        const sha256 = hex(await crypto.subtle.digest('SHA-256', await (await location.blob()).arrayBuffer()));
        recorded.push(['didFinishDownloadingTo', task.taskIdentifier, sha256]);
      },
      didCompleteWithError(/** @type {unknown} */ _, /** @type {any} */ task, /** @type {any} */ error) {
        recorded.push(['didCompleteWithError', task.taskIdentifier, error && error.code]);
      },
      didFinishEvents() {
        recorded.push(['didFinishEvents']);
      },
    });
    Object.assign(globalThis, { session, recorded });
  }, identifier);
  return page;
}

/** Starts a download in the page's session; returns its task identifier. */
function download(/** @type {any} */ page, /** @type {string} */ url) {
  return page.evaluate((/** @type {string} */ url) => {
    const task = /** @type {any} */ (globalThis).session.downloadTask(url);
    Object.assign(globalThis, { task });
    task.resume();
    return task.taskIdentifier;
  }, url);
}

/** The page's recorded events once `count` didFinishEvents have come (or after 2 minutes). */
async function events(/** @type {any} */ page, count = 1) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const recorded = await page.evaluate(() => /** @type {any} */ (globalThis).recorded);
    if (recorded.filter((/** @type {unknown[]} */ e) => e[0] === 'didFinishEvents').length >= count || Date.now() > deadline) return recorded;
    await sleep(250);
  }
}

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));
const stats = async (/** @type {string} */ id) => (await fetch(`${base}__stats?id=${id}`)).json();
const sha256 = async (/** @type {string} */ seed, /** @type {number} */ size) =>
  (await (await fetch(`${base}__sha256?seed=${seed}&size=${size}`)).json()).sha256;
const requests = (/** @type {any} */ s) => s.log.map((/** @type {any} */ l) => `${l.range ?? 'GET'} ${l.status} ${l.bytesSent}`);

try {
  let browser = await launch();
  const run = Date.now();
  console.log(`Firefox ${await browser.version()}, server ${base}`);

  // 1. A 32 MiB download: the bytes read from its location are the server's.
  let page = await openApp(browser, 'smoke');
  check('engine', await page.evaluate(() => !('BackgroundFetchManager' in self)), 'no Background Fetch: the streaming engine');
  let seed = `ff-plain-${run}`;
  let task = await download(page, `${base}files/32m?seed=${seed}`);
  let want = [['didFinishDownloadingTo', task, await sha256(seed, 32 * MiB)], ['didCompleteWithError', task, null], ['didFinishEvents']];
  let seen = await events(page);
  check('32 MiB download, SHA-256 of the location', JSON.stringify(seen) === JSON.stringify(want), seen);

  // 2. A reload mid-download: the new page's session gets each event once. Firefox keeps the
  // worker (and its transfer) through a reload: one request, no byte fetched twice.
  seed = `ff-reload-${run}`;
  task = await download(page, `${base}files/16m?seed=${seed}&rate=4000000`);
  await sleep(1500);
  await page.reload();
  await page.close();
  page = await openApp(browser, 'smoke');
  want = [['didFinishDownloadingTo', task, await sha256(seed, 16 * MiB)], ['didCompleteWithError', task, null], ['didFinishEvents']];
  seen = await events(page);
  let server1 = await stats(`${seed}:${16 * MiB}`);
  check('reload mid-download: events once each', JSON.stringify(seen) === JSON.stringify(want), seen);
  check('... bytes sent', server1.bytesSent === 16 * MiB, { bytesSent: server1.bytesSent, requests: requests(server1) });

  // The browser quit mid-download and started again on the same profile: the worker was
  // ended, and the transfer goes on from the parts kept, with Range.
  seed = `ff-restart-${run}`;
  await page.evaluate(() => /** @type {any} */ (globalThis.recorded.length = 0));
  task = await download(page, `${base}files/32m?seed=${seed}&rate=4000000`);
  await sleep(3000);
  await browser.close();
  browser = await launch();
  page = await openApp(browser, 'smoke');
  want = [['didFinishDownloadingTo', task, await sha256(seed, 32 * MiB)], ['didCompleteWithError', task, null], ['didFinishEvents']];
  seen = await events(page);
  server1 = await stats(`${seed}:${32 * MiB}`);
  const resumed = server1.log.length === 2 && server1.log[1].status === 206 && /^bytes=[1-9]\d*-$/.test(server1.log[1].range);
  check('browser restarted mid-download: events once each', JSON.stringify(seen) === JSON.stringify(want), seen);
  check('... resumed with Range', resumed && server1.bytesSent < 32 * MiB + 8 * MiB, { bytesSent: server1.bytesSent, requests: requests(server1) });

  // 3. suspend() stops the transfer; resume() goes on from the bytes kept.
  seed = `ff-suspend-${run}`;
  await page.evaluate(() => /** @type {any} */ (globalThis.recorded.length = 0));
  task = await download(page, `${base}files/32m?seed=${seed}&rate=4000000`);
  await sleep(2000);
  await page.evaluate(() => /** @type {any} */ (globalThis).task.suspend());
  await sleep(1500);
  const before = (await stats(`${seed}:${32 * MiB}`)).bytesSent;
  await sleep(2000);
  const after = (await stats(`${seed}:${32 * MiB}`)).bytesSent;
  await page.evaluate(() => /** @type {any} */ (globalThis).task.resume());
  want = [['didFinishDownloadingTo', task, await sha256(seed, 32 * MiB)], ['didCompleteWithError', task, null], ['didFinishEvents']];
  seen = await events(page);
  server1 = await stats(`${seed}:${32 * MiB}`);
  check('suspend(): no bytes while suspended', before === after, { before, after });
  check('... resume(): events', JSON.stringify(seen) === JSON.stringify(want), seen);
  check('... resumed with Range', server1.log.length === 2 && server1.log[1].status === 206, { bytesSent: server1.bytesSent, requests: requests(server1) });

  // 4. An upload of a 3 MiB Blob: the server receives it whole.
  const id = `ff-upload-${run}`;
  await page.evaluate(() => /** @type {any} */ (globalThis.recorded.length = 0));
  const sent = await page.evaluate(async (/** @type {string} */ url) => {
    const bytes = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31 + 7) & 255);
    /** @type {any} */ (globalThis).session.uploadTask(new Request(url, { method: 'POST' }), new Blob([bytes])).resume();
    return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, `${base}upload?id=${id}`);
  seen = await events(page);
  const uploads = (await stats(id)).uploads;
  check('upload of a 3 MiB Blob', uploads.length === 1 && uploads[0].sha256 === sent && seen[0]?.[2] === null, { seen, uploads });

  // A new version of the worker mid-download (Firefox ends the old one once the new one
  // activates, when the transfer ends): the page still gets each event once.
  seed = `ff-update-${run}`;
  await page.evaluate(() => /** @type {any} */ (globalThis.recorded.length = 0));
  task = await download(page, `${base}files/32m?seed=${seed}&rate=4000000`);
  await sleep(2000);
  await appendFile(path.join(demo, 'sw.js'), `\n// version ${run}\n`);
  await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update());
  want = [['didFinishDownloadingTo', task, await sha256(seed, 32 * MiB)], ['didCompleteWithError', task, null], ['didFinishEvents']];
  seen = await events(page);
  check('worker updated mid-download: events once each', JSON.stringify(seen) === JSON.stringify(want), seen);
  await browser.close();

  // 5. Storage out of room (a 32 MiB quota): cannotWriteToFile, and the next file fits.
  browser = await launch({ 'dom.quotaManager.temporaryStorage.fixedLimit': 160 * 1024 });
  page = await openApp(browser, 'smoke');
  seed = `ff-quota-${run}`;
  task = await download(page, `${base}files/64m?seed=${seed}`);
  seen = await events(page);
  check(
    '64 MiB in a 32 MiB quota: cannotWriteToFile',
    JSON.stringify(seen) === JSON.stringify([['didCompleteWithError', task, 'cannotWriteToFile'], ['didFinishEvents']]),
    seen,
  );
  seed = `ff-fits-${run}`;
  task = await download(page, `${base}files/12m?seed=${seed}`);
  want = [...seen, ['didFinishDownloadingTo', task, await sha256(seed, 12 * MiB)], ['didCompleteWithError', task, null], ['didFinishEvents']];
  seen = await events(page, 2);
  check('... then 12 MiB fits', JSON.stringify(seen) === JSON.stringify(want), seen.slice(2));
  await browser.close();

  // 6. No error or warning of the app, in the page or the worker.
  check('console errors (page and worker)', errors.length === 0, errors.length ? errors.join('\n') : 'none');
} finally {
  await server.close();
  await rm(profile, { recursive: true, force: true });
  await rm(demo, { recursive: true, force: true });
}
process.exit(failed);
