/** The driver for Firefox: puppeteer-core over WebDriver BiDi (Firefox has no CDP). */
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { appIsReady, sleep, type AppPage, type BrowserDriver, type LaunchOptions } from './driver.js';
import { killProcessTree } from './processes.js';

/** The Firefox to launch: `FIREFOX_PATH`, else Debian's ESR. */
export const FIREFOX_PATH = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';

/** A puppeteer page as an `AppPage`. */
function firefoxPage(page: Page): AppPage {
  page.on('pageerror', (error) => console.error(`[page error] ${error instanceof Error ? error.message : String(error)}`));
  const ready = () => page.waitForFunction(appIsReady, { timeout: 60_000, polling: 100 }).then(() => undefined);
  return {
    evaluate: <R, A>(fn: (arg: A) => R | Promise<R>, arg?: A) => page.evaluate(fn as (arg: unknown) => R, arg as unknown) as Promise<R>,
    waitForFunction: async (fn, arg, options) =>
      void (await page.waitForFunction(fn as (arg: unknown) => unknown, { timeout: options?.timeout ?? 30_000, polling: 100 }, arg as unknown)),
    waitForTimeout: sleep,
    goto: async (url) => void (await page.goto(url), await ready()),
    reload: async () => void (await page.reload(), await ready()),
    close: () => page.close(),
  };
}

/** Firefox ESR, headless, on the profile `profile`. */
export async function launchFirefox({ profile }: LaunchOptions): Promise<BrowserDriver> {
  const launch = () => puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, userDataDir: profile });
  let browser: Browser = await launch();
  return {
    name: 'firefox',
    openPage: async (url) => {
      const page = firefoxPage(await browser.newPage());
      await page.goto(url);
      return page;
    },
    restart: async () => {
      await browser.close();
      browser = await launch();
    },
    kill: async () => {
      await killProcessTree(profile);
      await browser.close().catch(() => undefined);
      browser = await launch();
    },
    // Firefox gives WebDriver no way to stop a service worker (about:debugging is a page of its own UI).
    stopWorkers: null,
    close: () => browser.close(),
  };
}
