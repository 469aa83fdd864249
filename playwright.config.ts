import { defineConfig } from '@playwright/test';
import type { BrowserOption, EngineOption } from './e2e/fixtures.js';

const PORT = Number(process.env.TEST_PORT ?? 8321);

/**
 * The files Firefox and WebKit run on every `npm test`: downloads, re-attach and once-delivery,
 * server faults, suspend/resume, uploads, CORS, two tabs, a remount, restarts, the packaged Vite app,
 * and kept files served and played.
 * The rest (batching, scheduling, storage, messages, updates, Workbox, the demo) run there too
 * with TEST_ALL_BROWSERS=1; by default they run in Chromium only, to keep a run within CI's
 * 35 minutes on two cores.
 */
const EVERY_BROWSER = process.env.TEST_ALL_BROWSERS
  ? /.*\.spec\.ts$/
  : /(session|tasks|uploads|wakes|faults|interruptions|restart|remount|tabs|cors|package|documents|keeping|requests|readAhead|writer)\.spec\.ts$/;

/**
 * Every end-to-end test runs in Chromium twice, with Background Fetch (its default) and with
 * the streaming engine (Background Fetch switched off), then in Firefox ESR and WebKitGTK,
 * which have no Background Fetch. A test a browser cannot run skips there and says why.
 * Unit tests of pure logic run in Node.
 */
export default defineConfig<EngineOption & BrowserOption>({
  testDir: 'e2e',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  // Three lanes, each project in one of them at a time (a project's tests run one by one): the
  // tests mostly wait (on throttled servers, on Chromium's stalls), so two cores carry three
  // browsers. Background Fetch, the longest, starts first; WebKit follows whichever ends first.
  workers: 3,
  reporter: [['list'], ['json', { outputFile: 'test-results/report.json' }]],
  retries: 0,
  use: { baseURL: `http://127.0.0.1:${PORT}/` },
  projects: [
    { name: 'unit', testMatch: /unit\/.*\.test\.ts$/, workers: 1 },
    { name: 'background-fetch', testMatch: /.*\.spec\.ts$/, use: { engine: 'background-fetch' }, workers: 1 },
    { name: 'stream', testMatch: /.*\.spec\.ts$/, use: { engine: 'stream' }, workers: 1 },
    { name: 'firefox', testMatch: EVERY_BROWSER, use: { engine: 'stream', testBrowser: 'firefox' }, workers: 1 },
    { name: 'webkit', testMatch: EVERY_BROWSER, use: { engine: 'stream', testBrowser: 'webkit' }, workers: 1 },
  ],
  webServer: {
    command: 'node e2e/server/server.mjs',
    env: { PORT: String(PORT), STATIC_DIR: 'dist/demo' },
    url: `http://127.0.0.1:${PORT}/__stats`,
    reuseExistingServer: !process.env.CI,
    stdout: 'ignore',
  },
});
