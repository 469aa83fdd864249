/**
 * A classic WebDriver session on WebKitWebDriver, over plain HTTP. Classic WebDriver has one
 * current window per session and runs commands one at a time, so every command goes through
 * one queue that first switches to the window the command is for.
 */

/** An error WebKitWebDriver answered with (`code` is the W3C error code, as `no such window`). */
export class WebDriverError extends Error {
  /** The W3C error code. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'WebDriverError';
    this.code = code;
  }
}

/** The HTTP methods of WebDriver's commands. */
type Method = 'GET' | 'POST' | 'DELETE';

/** What a session is created with: the browser WebKitWebDriver starts and how long a load may take. */
export interface SessionOptions {
  /** The browser's executable (`webkitgtk:browserOptions.binary`). */
  binary: string;
  /** Its arguments (`webkitgtk:browserOptions.args`). */
  args: string[];
}

/** One WebDriver session: its commands in order, each in the window it names. */
export class WebDriverSession {
  private tail: Promise<unknown> = Promise.resolve();
  private current: string | null;
  private endedBy: string | null = null;

  private constructor(
    private readonly base: string,
    /** The window the session opened with. */
    readonly firstWindow: string,
  ) {
    this.current = firstWindow;
  }

  /** Starts a browser through the WebKitWebDriver at `driverUrl` and a session on it. */
  static async create(driverUrl: string, { binary, args }: SessionOptions): Promise<WebDriverSession> {
    const capabilities = {
      alwaysMatch: {
        'webkitgtk:browserOptions': { binary, args },
        pageLoadStrategy: 'normal',
        // Scripts are short (long calls are polled), loads wait for the load event only.
        timeouts: { script: 30_000, pageLoad: 60_000, implicit: 0 },
        unhandledPromptBehavior: 'accept',
      },
    };
    const { sessionId } = await request<{ sessionId: string }>('POST', `${driverUrl}/session`, { capabilities });
    const base = `${driverUrl}/session/${sessionId}`;
    return new WebDriverSession(base, await request<string>('GET', `${base}/window`));
  }

  /** Why the session ended (`restart`, `kill`, `close`), or null while it runs. */
  get ended(): string | null {
    return this.endedBy;
  }

  /** Sends a command once the ones before it are done; with `window`, in that window. */
  command<T>(method: Method, path: string, body?: unknown, window?: string): Promise<T> {
    return this.enqueue(() => this.send<T>(method, path, body, window));
  }

  /** Runs `steps` once the commands before it are done, and before any later one. */
  private enqueue<T>(steps: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => {
      if (this.endedBy) throw new Error(`The WebKit session ended (${this.endedBy}): it has no windows any more`);
      return steps();
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Sends a command now, switching to `window` first if it is not the current one. */
  private async send<T>(method: Method, path: string, body?: unknown, window?: string): Promise<T> {
    if (window && window !== this.current) {
      this.current = null;
      await request('POST', `${this.base}/window`, { handle: window });
      this.current = window;
    }
    return request<T>(method, `${this.base}${path}`, body);
  }

  /** Runs `script` (a function body, `arguments` are `args`) in `window`, synchronously. */
  execute<T>(window: string, script: string, args: unknown[]): Promise<T> {
    return this.command<T>('POST', '/execute/sync', { script, args }, window);
  }

  /** Opens a blank window and returns its handle (the current window stays as it was). */
  async newWindow(): Promise<string> {
    return (await this.command<{ handle: string }>('POST', '/window/new', { type: 'window' })).handle;
  }

  /** Closes `window`, opening a blank one first if it is the last, so the browser and its workers go on. */
  closeWindow(window: string): Promise<void> {
    return this.enqueue(async () => {
      const handles = await this.send<string[]>('GET', '/window/handles');
      if (handles.length === 1 && handles[0] === window) await this.send('POST', '/window/new', { type: 'window' });
      const left = await this.send<string[]>('DELETE', '/window', undefined, window);
      // Commands with no window (as New Window) need an open current one.
      this.current = null;
      if (left[0]) await this.send('GET', '/window', undefined, left[0]);
    });
  }

  /** Fails every later command, saying the session ended for `why` (before the browser is ended, so calls say so). */
  markEnded(why: string): void {
    this.endedBy ??= why;
  }

  /** Ends the session (WebKitWebDriver then SIGKILLs the browser if it still runs); `why` is told to later callers. */
  async end(why: string): Promise<void> {
    this.markEnded(why);
    await this.tail;
    await request('DELETE', this.base).catch(() => undefined);
  }
}

/** Sends one WebDriver request and returns its `value`, or throws the error it answered with. */
async function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let value: unknown;
  try {
    value = (JSON.parse(text) as { value: unknown }).value;
  } catch {
    throw new WebDriverError('unknown error', `${method} ${url}: HTTP ${response.status} ${text.slice(0, 200)}`);
  }
  if (response.ok) return value as T;
  const error = (value ?? {}) as { error?: string; message?: string };
  throw new WebDriverError(error.error ?? 'unknown error', `${error.error ?? response.status}: ${error.message ?? text.slice(0, 200)}`);
}

/** Resolves once the WebKitWebDriver at `driverUrl` answers `/status` as ready; rejects after `timeout` ms. */
export async function waitForDriver(driverUrl: string, timeout: number): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    const ready = await request<{ ready?: boolean }>('GET', `${driverUrl}/status`).then(
      (status) => status.ready !== false,
      () => false,
    );
    if (ready) return;
    if (Date.now() > end) throw new Error(`WebKitWebDriver at ${driverUrl} did not answer within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
