import { defineConfig } from '@playwright/test';
import type { BrowserOption, EngineOption } from './e2e/fixtures.js';

const PORT = Number(process.env.TEST_PORT ?? 8321);

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
  workers: 1,
  // The JSON report feeds README's browser matrix (scripts/browser-matrix.mjs).
  reporter: [['list'], ['json', { outputFile: 'test-results/report.json' }]],
  retries: 0,
  use: { baseURL: `http://127.0.0.1:${PORT}/` },
  projects: [
    { name: 'unit', testMatch: /unit\/.*\.test\.ts$/ },
    { name: 'background-fetch', testMatch: /.*\.spec\.ts$/, use: { engine: 'background-fetch' } },
    { name: 'stream', testMatch: /.*\.spec\.ts$/, use: { engine: 'stream' } },
    { name: 'firefox', testMatch: /.*\.spec\.ts$/, use: { engine: 'stream', testBrowser: 'firefox' } },
    { name: 'webkit', testMatch: /.*\.spec\.ts$/, use: { engine: 'stream', testBrowser: 'webkit' } },
  ],
  webServer: {
    command: 'node e2e/server/server.mjs',
    env: { PORT: String(PORT), STATIC_DIR: 'dist/demo' },
    url: `http://127.0.0.1:${PORT}/__stats`,
    reuseExistingServer: !process.env.CI,
    stdout: 'ignore',
  },
});
