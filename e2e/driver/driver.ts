/**
 * The small browser driver every end-to-end test is written against, so that one test file
 * serves Chromium (Playwright), Firefox (WebDriver BiDi) and WebKit (classic WebDriver). It
 * has what a user does to an app (open a page, run code in it, reload, close) and what the OS
 * or the browser does to it (restart, kill, stop workers), each where the browser allows it.
 */
import type { Page } from '@playwright/test';

/** The browsers the tests run in. */
export type BrowserName = 'chromium' | 'firefox' | 'webkit';

/** A page of the app, in any browser. */
export interface AppPage {
  /**
   * Runs `fn` in the page (its source is sent, not its closure) and resolves with its result,
   * awaited. Arguments and results must survive JSON.
   */
  evaluate<R>(fn: () => R | Promise<R>): Promise<R>;
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  /** Resolves once `fn(arg)` is truthy in the page; rejects after `timeout` ms (default 30 s). */
  waitForFunction<A>(fn: (arg: A) => unknown, arg?: A, options?: { timeout?: number }): Promise<void>;
  waitForTimeout(ms: number): Promise<void>;
  /** Loads `url`, then waits for the app to say it is ready (`body[data-ready="true"]`). */
  goto(url: string): Promise<void>;
  /** Reloads, then waits for the app to be ready again. */
  reload(): Promise<void>;
  close(): Promise<void>;
  /** The Playwright page, in Chromium only: for tests of the demo's UI and of CDP faults. */
  readonly playwright?: Page;
}

/** A browser on an on-disk profile of its own, kept across `restart` and `kill`. */
export interface BrowserDriver {
  readonly name: BrowserName;
  /** A new page (tab) at `url`, once the app on it is ready. */
  openPage(url: string): Promise<AppPage>;
  /** Closes the browser as a user would and starts it again on the same profile. */
  restart(): Promise<void>;
  /** Ends every process of the browser at once (SIGKILL, as a phone's OS does), then starts it again on the same profile. */
  kill(): Promise<void>;
  /** Stops every service worker, as the browser does to idle ones; null where the browser gives tests no way to. */
  readonly stopWorkers: (() => Promise<void>) | null;
  /** Closes the browser for good. */
  close(): Promise<void>;
}

/** What a driver is launched with. */
export interface LaunchOptions {
  /** The profile's directory, created by the caller. */
  profile: string;
  /** Chromium only: false switches Background Fetch off, as in Firefox and Safari. */
  backgroundFetch?: boolean;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 100 ms until it is truthy; rejects with `what` after `timeout` ms. */
export async function pollUntil(check: () => Promise<unknown>, timeout: number, what: string): Promise<void> {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** The source of a check that the app's page is ready, as `goto` and `reload` wait for it. */
export const appIsReady = () => document.body?.dataset.ready === 'true';

/** Launches the driver for `name`; Firefox and WebKit are loaded only when asked for. */
export async function launchBrowser(name: BrowserName, options: LaunchOptions): Promise<BrowserDriver> {
  if (name === 'chromium') return (await import('./chromium.js')).launchChromium(options);
  if (name === 'firefox') return (await import('./firefox.js')).launchFirefox(options);
  return (await import('./webkit.js')).launchWebKit(options);
}
