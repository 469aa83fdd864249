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
