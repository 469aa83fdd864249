/**
 * A page of the app in WebKit, driven over classic WebDriver. A call may await a promise for
 * minutes while another page is used, and WebDriver runs one command at a time, so a call is
 * started by a short script that keeps its result in a page global, then polled by short ones.
 */
import { appIsReady, sleep, type AppPage } from './driver.js';
import type { WebDriverSession } from './webkit-session.js';

/** How often a pending call is polled: short, as tests wait on what it settles. */
const POLL_MS = 50;

/** What a call is in the page: pending, settled with its JSON, failed, or gone with its document. */
type CallState = { state: 'pending' } | { state: 'ok'; json: string } | { state: 'error'; name: string; message: string; stack: string } | { state: 'lost' };

/**
 * The page side of a call to the function `source`, as a script: `arguments` are the call id
 * and the function's arguments. A value that is not a promise is answered at once; a promise
 * is kept in `globalThis.__driverCalls[id]` once it settles.
 */
const start = (source: string) => `
const [id, args] = arguments, fn = (${source});
const fail = (e) => ({ state: 'error', name: String(e?.name ?? 'Error'), message: String(e?.message ?? e), stack: String(e?.stack ?? '') });
// An object met again (a cycle: a task's session, say) is left out, as Playwright leaves it.
const acyclic = () => { const seen = new WeakSet(); return (key, v) => { if (v && typeof v === 'object') { if (seen.has(v)) return undefined; seen.add(v); } return v; }; };
const settled = (value) => { try { return { state: 'ok', json: JSON.stringify(value, acyclic()) ?? '' }; } catch (e) { return fail(e); } };
let value;
try { value = fn(...args); } catch (e) { return fail(e); }
if (!value || typeof value.then !== 'function') return settled(value);
const calls = (globalThis.__driverCalls ??= {});
calls[id] = { state: 'pending' };
Promise.resolve(value).then((v) => { calls[id] = settled(v); }, (e) => { calls[id] = fail(e); });
return { state: 'pending' };`;

/** The page side of a poll: the call's state, forgotten once settled; `lost` if the document is another one. */
const POLL = `
const calls = globalThis.__driverCalls, call = calls && calls[arguments[0]];
if (!call) return { state: 'lost' };
if (call.state !== 'pending') delete calls[arguments[0]];
return call;`;

let calls = 0;

/** The `AppPage` of the window `handle` in `session`. */
export function webkitPage(session: WebDriverSession, handle: string): AppPage {
  let closed = false;
  /** The error a command for `what` failed with, saying why when the page or its browser is gone. */
  const failed = (what: string, error: Error & { code?: string }) => {
    const why = closed ? 'the page was closed' : session.ended ? `the browser was ended (${session.ended})` : null;
    if (why || error.code === 'no such window') return Promise.reject(new Error(`${what}: ${why ?? "the page's window was closed"}`));
    return Promise.reject(error);
  };

  /**
   * Runs `source` (a function's source) with `args` in the page and resolves with its JSON
   * result; `what` names the call in errors, `timeout` is what it throws past `deadline`.
   */
  async function call(source: string, args: unknown[], what: string, deadline = Infinity, timeout = ''): Promise<unknown> {
    const id = `c${++calls}`;
    let result = await session.execute<CallState>(handle, start(source), [id, args]).catch((error: Error) => failed(what, error));
    while (result.state === 'pending') {
      if (Date.now() > deadline) throw new Error(timeout || `${what}: timed out`);
      await sleep(POLL_MS);
      result = await session.execute<CallState>(handle, POLL, [id]).catch((error: Error) => failed(what, error));
    }
    return settle(result, what);
  }

  /** Resolves once `appIsReady` holds in the page (60 s at most), as `goto` and `reload` do. */
  const ready = () => waitFor(String(appIsReady), undefined, 60_000, 'the app to be ready (body[data-ready="true"])');

  /** Polls `source(arg)` until it is truthy; rejects after `timeout` ms saying it waited for `what`. */
  async function waitFor(source: string, arg: unknown, timeout: number, what: string): Promise<void> {
    const end = Date.now() + timeout;
    // Truthiness is taken in the page: a truthy value (an element, say) need not survive JSON.
    const truthy = `(arg) => { const v = (${source})(arg); return v && typeof v.then === 'function' ? Promise.resolve(v).then(Boolean) : Boolean(v); }`;
    const timedOut = `Timed out after ${timeout} ms waiting for ${what}`;
    const args = arg === undefined ? [] : [arg];
    while (!(await call(truthy, args, `waiting for ${what}`, end, timedOut))) {
      if (Date.now() > end) throw new Error(timedOut);
      await sleep(100);
    }
  }

  return {
    evaluate: <R, A>(fn: (arg: A) => R | Promise<R>, arg?: A) => call(String(fn), arg === undefined ? [] : [arg], 'evaluate') as Promise<R>,
    waitForFunction: (fn, arg, options) => {
      const timeout = options?.timeout ?? 30_000;
      return waitFor(String(fn), arg, timeout, `waitForFunction(${String(fn).slice(0, 300)})`);
    },
    waitForTimeout: sleep,
    goto: async (url) => void (await session.command('POST', '/url', { url }, handle), await ready()),
    reload: async () => void (await session.command('POST', '/refresh', {}, handle), await ready()),
    close: async () => {
      closed = true;
      if (!session.ended) await session.closeWindow(handle);
    },
  };
}

/** The result of a settled call, or its error as the page threw it. */
function settle(result: Exclude<CallState, { state: 'pending' }>, what: string): unknown {
  // '' is what JSON.stringify gives no JSON for (undefined, a function): undefined, as in Playwright.
  if (result.state === 'ok') return result.json === '' ? undefined : JSON.parse(result.json);
  if (result.state === 'lost') return Promise.reject(new Error(`${what}: the page navigated, reloaded or closed while the call was pending`));
  const error = new Error(result.message);
  error.name = result.name;
  const frames = result.stack.split('\n').filter((frame) => frame.trim());
  error.stack = [`${result.name}: ${result.message}`, ...frames.map((frame) => `    in the page: ${frame}`)].join('\n');
  return Promise.reject(error);
}
