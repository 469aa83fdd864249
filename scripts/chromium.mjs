// @ts-check
/**
 * The one definition of how the tests (e2e/fixtures.ts), the benches (bench/*.mjs) and the
 * scripts launch Chromium: which executable, and with which flags.
 */

/** The Chromium to launch: `CHROMIUM_PATH`, else Debian's. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Flags for Debian's Chromium on a machine with no outside network. */
export const CHROMIUM_ARGS = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]);

/** The flag that switches Background Fetch off, so the library runs its streaming engine (as in Firefox and Safari). */
export const NO_BACKGROUND_FETCH = '--disable-blink-features=BackgroundFetch';

/**
 * The flags for one launch.
 * @param {{ backgroundFetch?: boolean }} [options] `backgroundFetch: false` switches Background Fetch off.
 * @returns {string[]}
 */
export function chromiumArgs({ backgroundFetch = true } = {}) {
  return backgroundFetch ? [...CHROMIUM_ARGS] : [...CHROMIUM_ARGS, NO_BACKGROUND_FETCH];
}

/**
 * Chromium as a user runs it, headless: with the flags above only, and attached over CDP
 * without Playwright's defaults (`noDefaults`), whose focus emulation keeps every page
 * `visible`. Its pages can be hidden: by another tab in front, or the window minimised.
 * It runs in a new profile, which `close()` deletes.
 * @returns {Promise<{ context: import('@playwright/test').BrowserContext, close: () => Promise<void> }>}
 */
export async function launchChromiumAsUser() {
  const { spawn } = await import('node:child_process');
  const { chromium } = await import('@playwright/test');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const profile = await mkdtemp(join(tmpdir(), 'bgdl-chromium-'));
  const args = [...CHROMIUM_ARGS, '--headless', `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'];
  const browser = spawn(CHROMIUM_PATH, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const endpoint = await new Promise((resolve, reject) => {
    let text = '';
    browser.stderr.on('data', (chunk) => {
      text += chunk;
      const found = /DevTools listening on (ws:\S+)/.exec(text);
      if (found) resolve(found[1]);
    });
    browser.on('exit', (code) => reject(new Error(`chromium exited (${code}): ${text.slice(-500)}`)));
  });
  const connected = await chromium.connectOverCDP(/** @type {string} */ (endpoint), { noDefaults: true });
  const context = connected.contexts()[0];
  if (!context) throw new Error('chromium: no browser context');
  const close = async () => {
    await connected.close().catch(() => undefined);
    browser.kill();
    await new Promise((resolve) => (browser.exitCode === null ? browser.once('exit', resolve) : resolve(undefined)));
    // Chromium's helper processes may still write to the profile after the browser's exit.
    await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  };
  return { context, close };
}
