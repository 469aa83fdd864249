// @ts-check
/**
 * The demo page in a Chromium of its own, for the small benches (`save`, `paths`, `buckets`):
 * the test server serving `dist/demo` on `port`, a fresh profile, the page loaded and ready.
 */
import { chromium } from '@playwright/test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../e2e/server/server.mjs';
import { CHROMIUM_PATH, chromiumArgs } from '../scripts/chromium.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Opens the demo page (Background Fetch off: the benches measure storage); `close()` ends it all. */
export async function openDemoPage(/** @type {string} */ name, /** @type {number} */ port) {
  const server = await startServer({ port, host: '127.0.0.1', staticDir: path.join(ROOT, 'dist/demo') });
  const profile = await mkdtemp(path.join(tmpdir(), `bgdl-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: chromiumArgs({ backgroundFetch: false }),
  });
  const page = await context.newPage();
  await page.goto(server.url);
  await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
  const close = async () => {
    await context.close().catch(() => undefined);
    await server.close();
    await rm(profile, { recursive: true, force: true });
  };
  return { server, context, page, profile, close };
}
