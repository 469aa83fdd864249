import { test as base, chromium, expect, type BrowserContext, type Page } from '@playwright/test';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CHROMIUM_PATH, chromiumArgs } from '../scripts/chromium.mjs';

/** Which engine the browser leaves the library: Background Fetch, or the streaming engine. */
export interface EngineOption {
  engine: 'background-fetch' | 'stream';
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
  };
}

export interface Fixtures {
  /** A browser on a fresh on-disk profile, with one `about:blank` tab kept open (Background Fetch needs a tab). */
  context: BrowserContext;
  /** Closes the browser and starts it again on the same profile; `openApp` then opens pages in the new one. */
  restartBrowser: () => Promise<BrowserContext>;
  /**
   * Kills every process of the browser (SIGKILL, as a phone's OS ends an app) and starts it
   * again on the same profile; `openApp` then opens pages in the new one.
   */
  killBrowser: () => Promise<BrowserContext>;
  /** The demo page, loaded, its worker active. */
  page: Page;
  server: TestServer;
  /** Stops every service worker, as the browser does to idle or long-running ones. */
  stopWorkers: () => Promise<void>;
  /** A fresh page of the app (the demo), loaded and ready. */
  openApp: () => Promise<Page>;
  /**
   * Fires a Background Sync event with this tag at the app's worker, as the browser does when
   * it retries a sync (Chromium waits minutes before it does so by itself).
   */
  fireSync: (tag: string) => Promise<void>;
}

/** The browser's processes: those whose command line names the profile `dir`, and their descendants. */
async function browserProcesses(dir: string): Promise<number[]> {
  const parents = new Map<number, number>();
  const roots: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [command, stat] = await Promise.all([readFile(`/proc/${entry}/cmdline`, 'utf8'), readFile(`/proc/${entry}/stat`, 'utf8')]).catch(() => ['', '']);
    // stat: "pid (name) state ppid ...", the name may hold spaces.
    parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    if (command.includes(`--user-data-dir=${dir}`)) roots.push(Number(entry));
  }
  const tree = new Set(roots);
  for (let grown = true; grown;) {
    grown = false;
    for (const [pid, parent] of parents) if (tree.has(parent) && !tree.has(pid)) grown = Boolean(tree.add(pid));
  }
  return [...tree];
}

/** The browser under test, replaced by `restartBrowser`. */
export interface BrowserHolder {
  current: BrowserContext;
  launch: () => Promise<BrowserContext>;
  /** The profile's directory, which every process of the browser names in its command line. */
  dir: string;
}

export const test = base.extend<Fixtures & EngineOption & { chromiumProfile: BrowserHolder }>({
  engine: ['background-fetch', { option: true }],

  chromiumProfile: [
    async ({ engine }, use) => {
      const dir = await mkdtemp(path.join(tmpdir(), 'bgdl-profile-'));
      const args = chromiumArgs({ backgroundFetch: engine !== 'stream' });
      const launch = () => chromium.launchPersistentContext(dir, { executablePath: CHROMIUM_PATH, headless: true, args });
      const holder = { current: await launch(), launch, dir };
      await use(holder);
      await holder.current.close();
      await rm(dir, { recursive: true, force: true });
    },
    { scope: 'test' },
  ],

  context: async ({ chromiumProfile: browser }, use) => {
    await use(browser.current);
  },

  restartBrowser: async ({ chromiumProfile: browser }, use) => {
    await use(async () => {
      await browser.current.close();
      browser.current = await browser.launch();
      return browser.current;
    });
  },

  killBrowser: async ({ chromiumProfile: browser }, use) => {
    await use(async () => {
      const processes = await browserProcesses(browser.dir);
      expect(processes.length).toBeGreaterThan(0);
      for (const pid of processes) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already, with its parent
        }
      }
      await browser.current.close().catch(() => undefined);
      browser.current = await browser.launch();
      return browser.current;
    });
  },

  openApp: async ({ chromiumProfile: browser, baseURL }, use) => {
    await use(async () => {
      const page = await browser.current.newPage();
      page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
      await page.goto(baseURL!);
      await expect(page.locator('body[data-ready="true"]')).toBeAttached();
      return page;
    });
  },

  page: async ({ openApp }, use) => {
    await use(await openApp());
  },

  server: async ({ baseURL }, use) => {
    await use(testServerAt(baseURL!));
  },

  stopWorkers: async ({ chromiumProfile: browser }, use) => {
    await use(async () => {
      const context = browser.current;
      const anyPage = context.pages()[0] ?? (await context.newPage());
      const cdp = await context.newCDPSession(anyPage);
      await cdp.send('ServiceWorker.enable');
      await cdp.send('ServiceWorker.stopAllWorkers');
      await cdp.detach();
    });
  },

  fireSync: async ({ chromiumProfile: browser, baseURL }, use) => {
    await use(async (tag) => {
      const context = browser.current;
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
