import { defineConfig } from '@playwright/test';
import type { EngineOption } from './e2e/fixtures.js';

const PORT = Number(process.env.TEST_PORT ?? 8321);

/**
 * Every end-to-end test runs twice: with Background Fetch (Chromium's default) and with the
 * streaming engine (Background Fetch switched off in the browser, as in Firefox and Safari).
 * Unit tests of pure logic run in Node.
 */
export default defineConfig<EngineOption>({
  testDir: 'e2e',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  workers: 1,
  reporter: process.env.CI ? 'list' : [['list']],
  retries: 0,
  use: { baseURL: `http://127.0.0.1:${PORT}/` },
  projects: [
    { name: 'unit', testMatch: /unit\/.*\.test\.ts$/ },
    { name: 'background-fetch', testMatch: /.*\.spec\.ts$/, use: { engine: 'background-fetch' } },
    { name: 'stream', testMatch: /.*\.spec\.ts$/, use: { engine: 'stream' } },
  ],
  webServer: {
    command: 'node e2e/server/server.mjs',
    env: { PORT: String(PORT), STATIC_DIR: 'dist/demo' },
    url: `http://127.0.0.1:${PORT}/__stats`,
    reuseExistingServer: !process.env.CI,
    stdout: 'ignore',
  },
});
