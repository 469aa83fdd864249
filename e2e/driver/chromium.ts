/** The driver for Chromium: Playwright on a persistent profile, with CDP for what only tests do. */
import { chromium, type BrowserContext, type Page } from '@playwright/test';
import { CHROMIUM_PATH, chromiumArgs } from '../../scripts/chromium.mjs';
import { appIsReady, type AppPage, type BrowserDriver, type LaunchOptions } from './driver.js';
import { killProcessTree } from './processes.js';

/** The Chromium driver, which also gives tests its Playwright context (CDP, offline, permissions). */
export interface ChromiumDriver extends BrowserDriver {
  /** The browser's context now: a `restart` or `kill` replaces it. */
  readonly context: BrowserContext;
}

/** A Playwright page as an `AppPage`. */
export function chromiumPage(page: Page): AppPage {
  page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
  const ready = () => page.waitForFunction(appIsReady, null, { timeout: 60_000 }).then(() => undefined);
  return {
    evaluate: <R, A>(fn: (arg: A) => R | Promise<R>, arg?: A) => page.evaluate(fn as (arg: unknown) => R, arg as unknown),
    waitForFunction: async (fn, arg, options) =>
      void (await page.waitForFunction(fn as (arg: unknown) => unknown, arg as unknown, { timeout: options?.timeout ?? 30_000 })),
    waitForTimeout: (ms) => page.waitForTimeout(ms),
    goto: async (url) => void (await page.goto(url), await ready()),
    reload: async () => void (await page.reload(), await ready()),
    close: () => page.close(),
    playwright: page,
  };
}

/** Chromium on the profile `profile`; with `backgroundFetch: false`, the library runs its streaming engine. */
export async function launchChromium({ profile, backgroundFetch = true }: LaunchOptions): Promise<ChromiumDriver> {
  const args = chromiumArgs({ backgroundFetch });
  // Background Fetch needs a tab: the about:blank one a persistent context opens stays open.
  const launch = () => chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, headless: true, args });
  let context = await launch();
  return {
    name: 'chromium',
    get context() {
      return context;
    },
    openPage: async (url) => {
      const page = chromiumPage(await context.newPage());
      await page.goto(url);
      return page;
    },
    restart: async () => {
      await context.close();
      context = await launch();
    },
    kill: async () => {
      await killProcessTree(`--user-data-dir=${profile}`);
      await context.close().catch(() => undefined);
      context = await launch();
    },
    stopWorkers: async () => {
      const cdp = await context.newCDPSession(context.pages()[0] ?? (await context.newPage()));
      await cdp.send('ServiceWorker.enable');
      await cdp.send('ServiceWorker.stopAllWorkers');
      await cdp.detach();
    },
    close: () => context.close(),
  };
}
