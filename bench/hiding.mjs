// @ts-check
/**
 * `node bench/hiding.mjs`: how often hiding a page starts the hand-over (#15), and what the
 * page sees when it is shown again. The library in Debian's Chromium, headless, launched as a
 * user runs it: without Playwright's flags and focus emulation, which keep every page
 * `visible` (Playwright attaches over CDP with `noDefaults`). `HIDING_RUNS` times per way, a
 * 32 MiB download at 2 MB/s a response is streamed in view and, 10 MiB in, its page is hidden:
 *
 * - `tab`: another tab opened in front of it (a page of another origin);
 * - `minimised`: the browser's window minimised.
 *
 * A registration counts as created when the app has one, as started when it has received
 * bytes; a registration that receives nothing for 10 s with the page open is given up and the
 * download streams again (`unstartedHandOver`), which the server sees as an open range. The
 * page stays hidden until one of them happens (or 20 s), then 2 s more, and is shown again
 * (its tab in front, the window restored), and timed to its first `didWriteData` and its
 * longest wait to the end. What was fetched twice is the server's bytes sent over the file's
 * size.
 *
 * Env: HIDING_RUNS (default 5), HIDING_WAYS (default `tab,minimised`), HIDING_PORT (default
 * 8778). Run `npm run build` first.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../e2e/server/server.mjs';
import { launchChromiumAsUser } from '../scripts/chromium.mjs';
import { FILE, openSession, ranges, seenAtEnd, startDownload, stats, until, waitsSince } from './handover.mjs';
import { median } from './summary.mjs';

const RUNS = Number(process.env.HIDING_RUNS ?? 5);
const PORT = Number(process.env.HIDING_PORT ?? 8778);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 ** 2;

/** How long a hidden page waits, at most, for its registration to receive or its download to stream again. */
const HAND_OVER_WAIT_MS = 20_000;
/** How long the page stays hidden after that. */
const HIDDEN_MS = 2000;

/** @typedef {import('@playwright/test').Page} Page */

/** In a page: its clock now (`performance.now()`), the origin of `seenAtEnd`'s times. */
const pageNow = () => performance.now();

/** In a page of the app: how many Background Fetch registrations the app has, and how many received bytes. */
async function registrations() {
  const manager = (await navigator.serviceWorker.ready).backgroundFetch;
  const all = manager ? await Promise.all((await manager.getIds()).map((id) => manager.get(id))) : [];
  return { count: all.length, received: all.filter((each) => (each?.downloaded ?? 0) > 0).length };
}

/** Hides `page` the `way` given; returns how to show it again. */
async function hide(/** @type {Page} */ page, /** @type {string} */ way) {
  const cdp = await page.context().newCDPSession(page);
  if (way === 'tab') {
    const other = await page.context().newPage();
    await other.goto(page.url().replace('127.0.0.1', 'localhost'));
    await other.bringToFront();
    return async () => {
      await page.bringToFront();
      await other.close();
    };
  }
  const { windowId } = await cdp.send('Browser.getWindowForTarget');
  await cdp.send('Browser.setWindowBounds', { windowId, bounds: { windowState: 'minimized' } });
  return async () => void (await cdp.send('Browser.setWindowBounds', { windowId, bounds: { windowState: 'normal' } }));
}

/** One run: streamed in view, hidden at `FILE.closeAt`, shown again, to the end. */
async function hidingRun(
  /** @type {import('@playwright/test').BrowserContext} */ context,
  /** @type {string} */ origin,
  /** @type {string} */ way,
  /** @type {string} */ id,
) {
  const page = await openSession(context, origin, `bench-hiding-${id}`);
  await page.evaluate(startDownload, `${origin}files/${FILE.size}?seed=${id}&id=${id}&rate=${FILE.rate}`);
  await until(async () => ((await stats(origin, id)).bytesSent > FILE.closeAt ? true : undefined), 60_000, `${FILE.closeAt} bytes sent`);
  const hiddenAt = Date.now();
  const show = await hide(page, way);
  const hidden = await page.evaluate(() => document.visibilityState);
  let created = false;
  const outcome = await until(
    async () => {
      const now = await page.evaluate(registrations);
      created ||= now.count > 0;
      const log = (await stats(origin, id)).log;
      const streamed = log.find((entry) => entry.t > hiddenAt && /^bytes=\d+-$/.test(entry.range ?? ''));
      if (now.received > 0) return { receivedMs: Date.now() - hiddenAt };
      if (streamed) return { streamedAgainMs: streamed.t - hiddenAt };
      return Date.now() - hiddenAt > HAND_OVER_WAIT_MS ? {} : undefined;
    },
    HAND_OVER_WAIT_MS + 5000,
    'the hand-over',
  );
  await new Promise((resolve) => setTimeout(resolve, HIDDEN_MS));
  const hiddenStats = await stats(origin, id);
  const sentHidden = hiddenStats.bytesSent;
  const asked = ranges(hiddenStats)[0];
  await show();
  const shownAt = await page.evaluate(pageNow);
  const seen = await page.evaluate(seenAtEnd, 120_000);
  await page.close();
  const s = await stats(origin, id);
  if (seen.error || seen.size !== FILE.bytes) throw new Error(`hiding: ended with ${seen.error ?? `${seen.size} bytes`}`);
  return {
    hidden,
    created,
    handOverMs: asked ? asked.t - hiddenAt : undefined,
    ...outcome,
    sentHidden,
    size: seen.size,
    ...waitsSince(seen, shownAt),
    fetchedTwice: s.bytesSent - FILE.bytes,
    requests: s.log.map((entry) => `${entry.method} ${entry.range ?? ''}`.trim()),
  };
}

const server = await startServer({ port: PORT, host: '127.0.0.1', staticDir: path.join(ROOT, 'dist/demo') });
const { context, close } = await launchChromiumAsUser();
try {
  const token = Date.now().toString(36);
  for (const way of (process.env.HIDING_WAYS ?? 'tab,minimised').split(',')) {
    /** @type {Awaited<ReturnType<typeof hidingRun>>[]} */
    const results = [];
    for (let run = 1; run <= RUNS; run++) {
      const r = await hidingRun(context, server.url, way, `hiding-${way}-${token}-${run}`);
      results.push(r);
      console.error(`  ${way} run ${run}: ${JSON.stringify({ ...r, requests: r.requests.join(', ') })}`);
    }
    const started = results.filter((r) => r.receivedMs !== undefined);
    const again = results.filter((r) => r.streamedAgainMs !== undefined);
    const m = (/** @type {(r: any) => number | undefined} */ pick, rs = results) => median(rs.flatMap((r) => pick(r) ?? [])).toFixed(0);
    console.log(
      `${way}: page ${[...new Set(results.map((r) => r.hidden))].join('/')}; registration created ${results.filter((r) => r.created).length} of ${RUNS}, received ${started.length}` +
        (started.length > 0 ? ` (${m((r) => r.receivedMs, started)} ms after hiding)` : '') +
        `, streamed again while hidden ${again.length}` +
        (again.length > 0 ? ` (${m((r) => r.streamedAgainMs, again)} ms after hiding)` : '') +
        `; shown again: first didWriteData ${m((r) => r.firstProgressMs)} ms, longest wait ${Math.max(...results.map((r) => r.stallMs)).toFixed(0)} ms; ` +
        `fetched twice ${(Number(m((r) => r.fetchedTwice)) / MiB).toFixed(1)} MiB (most ${(Math.max(...results.map((r) => r.fetchedTwice)) / MiB).toFixed(1)}); medians`,
    );
  }
} finally {
  await close();
  await server.close();
}
