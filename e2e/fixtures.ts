import {
  expect,
  test as playwrightTest,
  type BrowserContext,
  type Page,
  type PlaywrightTestArgs,
  type PlaywrightTestOptions,
  type PlaywrightWorkerArgs,
  type PlaywrightWorkerOptions,
  type TestType,
} from '@playwright/test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChromiumDriver } from './driver/chromium.js';
import { launchBrowser, type AppPage, type BrowserDriver, type BrowserName } from './driver/driver.js';
import { setSessionDefaults } from './recorder.js';

export type { AppPage } from './driver/driver.js';

/** Which engine the browser leaves the library: Background Fetch, or the streaming engine. */
export interface EngineOption {
  engine: 'background-fetch' | 'stream';
}

/** Which browser runs the test: Chromium, Firefox ESR or WebKitGTK. */
export interface BrowserOption {
  testBrowser: BrowserName;
}

/** The test server's statistics for one file id. */
export interface FileStats {
  requests: number;
  bytesSent: number;
  completed: number;
  version: number;
  /** Each request, in order; a preflight (`OPTIONS`) is logged too, not counted in `requests`. */
  log: {
    method: string;
    range: string | null;
    ifRange: string | null;
    status: number;
    bytesSent: number;
    t: number;
    end?: number;
    /** An `OPTIONS`: the method and headers it asked to send. */
    preflight?: { method: string | null; headers: string | null };
    /** The request's `Authorization` and `X-App` headers (null: none), and its path and query. */
    authorization?: string | null;
    app?: string | null;
    url?: string;
  }[];
}

/** How the test server answers another origin (`cors=`, e2e/server/README.md). */
export type CorsMode = 'none' | 'simple' | 'full';

/** A gate of the test server (`gate=NAME`): see e2e/server/README.md. */
export interface GateState {
  released: boolean;
  /** Responses that came to the gate while it was shut. */
  reached: number;
  /** Responses waiting at the gate now. */
  held: number;
}

/** The test HTTP server, seen from a test. */
export interface TestServer {
  /** An absolute URL on the server. */
  url(path: string): string;
  /**
   * An absolute URL on the server from another origin than the tests' pages (which are on
   * `127.0.0.1`): the same port on `localhost`. Its files answer in the `cors` mode asked for.
   */
  crossOriginUrl(path: string, cors: CorsMode): string;
  stats(id: string): Promise<FileStats>;
  sha256(seed: string, size: string | number, version?: number): Promise<string>;
  /** The state of a gate. */
  gate(name: string): Promise<GateState>;
  /** Opens a gate: the responses it holds go on, later ones pass. */
  release(name: string): Promise<void>;
  /** Sets the value a token (`token=NAME`) has from now on. */
  setToken(name: string, value: string): Promise<void>;
}

/** The client of a test server whose root is `baseURL`. */
export function testServerAt(baseURL: string): TestServer {
  const url = (p: string) => new URL(p, baseURL).href;
  const json = async <T>(p: string, init?: RequestInit): Promise<T> => {
    const response = await fetch(url(p), init);
    if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${p}: ${response.status} ${await response.text()}`);
    return response.status === 204 ? (undefined as T) : ((await response.json()) as T);
  };
  const crossOriginUrl = (p: string, cors: CorsMode) => {
    const cross = new URL(p, baseURL);
    cross.hostname = cross.hostname === 'localhost' ? '127.0.0.1' : 'localhost';
    cross.searchParams.set('cors', cors);
    return cross.href;
  };
  return {
    url,
    crossOriginUrl,
    stats: (id) => json<FileStats>(`/__stats?id=${encodeURIComponent(id)}`),
    sha256: async (seed, size, version = 1) => {
      const query = new URLSearchParams({ seed, size: String(size), version: String(version) });
      return (await json<{ sha256: string }>(`/__sha256?${query}`)).sha256;
    },
    gate: (name) => json<GateState>(`/__gate?gate=${encodeURIComponent(name)}`),
    release: (name) => json<void>(`/__release?gate=${encodeURIComponent(name)}`, { method: 'POST' }),
    setToken: (name, value) => json<void>(`/__token?${new URLSearchParams({ name, value })}`, { method: 'POST' }),
  };
}

export interface Fixtures {
  /** Sets `recordSession`'s defaults for the test's engine (automatic). */
  sessionDefaults: void;
  /** The browser under test, on a fresh on-disk profile kept across restarts. */
  driver: BrowserDriver;
  /** Chromium's Playwright context, for tests of CDP faults, offline and permissions; other browsers skip such tests. */
  context: BrowserContext;
  /** Closes the browser and starts it again on the same profile; `openApp` then opens pages in the new one. */
  restartBrowser: () => Promise<void>;
  /**
   * Kills every process of the browser (SIGKILL, as a phone's OS ends an app) and starts it
   * again on the same profile; `openApp` then opens pages in the new one.
   */
  killBrowser: () => Promise<void>;
  /** The demo page, loaded, its worker active. */
  page: AppPage;
  /** The demo page as Playwright drives it, for tests of its user interface (Chromium only). */
  demoPage: Page;
  server: TestServer;
  /** Stops every service worker, as the browser does to idle or long-running ones; skips the test where the browser cannot. */
  stopWorkers: () => Promise<void>;
  /** A fresh page of the app (the demo), loaded and ready. */
  openApp: () => Promise<AppPage>;
  /**
   * Fires a Background Sync event with this tag at the app's worker, as the browser does when
   * it retries a sync (Chromium waits minutes before it does so by itself).
   */
  fireSync: (tag: string) => Promise<void>;
}

/** Playwright's test without its own `page`: ours is a page of any browser, through the driver. */
const base = playwrightTest as unknown as TestType<PlaywrightTestOptions & Omit<PlaywrightTestArgs, 'page'>, PlaywrightWorkerArgs & PlaywrightWorkerOptions>;

/** The Chromium driver of a test, or a skip that names the CDP or Playwright feature it needs. */
function chromiumOnly(driver: BrowserDriver, feature: string): ChromiumDriver {
  test.skip(driver.name !== 'chromium', `${feature}: only Chromium gives tests a way to do it (CDP)`);
  return driver as ChromiumDriver;
}

export const test = base.extend<Fixtures & EngineOption & BrowserOption>({
  engine: ['background-fetch', { option: true }],
  testBrowser: ['chromium', { option: true }],

  // The background-fetch project tests the Background Fetch engine: its sessions stay on it
  // while the page is visible. What they do by default (stream in view, hand over when the
  // page goes) is tested by handover.spec.ts.
  sessionDefaults: [
    async ({ engine }, use) => {
      setSessionDefaults(engine === 'background-fetch' ? { streamsWhileVisible: false } : {});
      await use();
    },
    { auto: true },
  ],

  driver: [
    async ({ engine, testBrowser }, use) => {
      const profile = await mkdtemp(path.join(tmpdir(), `bgdl-${testBrowser}-`));
      const driver = await launchBrowser(testBrowser, { profile, backgroundFetch: engine !== 'stream' });
      await use(driver);
      await driver.close();
      await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    },
    { scope: 'test' },
  ],

  context: async ({ driver }, use) => {
    await use(chromiumOnly(driver, "Playwright's browser context").context);
  },

  restartBrowser: async ({ driver }, use) => {
    await use(() => driver.restart());
  },

  killBrowser: async ({ driver }, use) => {
    await use(() => driver.kill());
  },

  openApp: async ({ driver, baseURL }, use) => {
    await use(() => driver.openPage(baseURL!));
  },

  page: async ({ openApp }, use) => {
    await use(await openApp());
  },

  demoPage: async ({ driver, page }, use) => {
    chromiumOnly(driver, 'The demo UI test clicks and reads elements through Playwright');
    await use(page.playwright!);
  },

  server: async ({ baseURL }, use) => {
    await use(testServerAt(baseURL!));
  },

  stopWorkers: async ({ driver }, use) => {
    test.skip(driver.stopWorkers === null, `Stopping service workers: ${driver.name} gives tests no way to (no CDP)`);
    await use(driver.stopWorkers!);
  },

  fireSync: async ({ driver, baseURL }, use) => {
    const { context } = chromiumOnly(driver, 'Firing a Background Sync event');
    await use(async (tag) => {
      const anyPage = context.pages()[0] ?? (await context.newPage());
      const cdp = await context.newCDPSession(anyPage);
      const origin = new URL(baseURL!).origin;
      const registration = new Promise<string>((resolve) =>
        cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
          const ours = registrations.find((r) => !r.isDeleted && new URL(r.scopeURL).origin === origin);
          if (ours) resolve(ours.registrationId);
        }),
      );
      await cdp.send('ServiceWorker.enable');
      await cdp.send('ServiceWorker.dispatchSyncEvent', { origin, registrationId: await registration, tag, lastChance: false });
      await cdp.detach();
    });
  },
});

export { expect };

/** A name no other test uses, for session identifiers and file ids. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The server's log of a file, one line a request, printed for the run's record. */
export async function printLog(server: TestServer, id: string): Promise<FileStats> {
  const stats = await server.stats(id);
  const t0 = stats.log[0]?.t ?? 0;
  const lines = stats.log.map(
    (r) =>
      `  +${r.t - t0} ms ${r.method} ${r.range ?? '-'} ${r.ifRange ?? '-'} -> ${r.status} ${r.bytesSent} B${r.preflight ? ` (asks ${r.preflight.headers})` : ''}`,
  );
  console.log(`${test.info().title} [${test.info().project.name}]\n${lines.join('\n')}`);
  return stats;
}
