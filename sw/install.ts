import { expose } from 'comlink';
import { serializeError } from '../common/errors.js';
import { installErrorTransfer } from '../common/errorTransfer.js';
import { CONNECT, isConnectMessage, type WorkerApi } from '../common/protocol.js';
import { quote } from '../common/quote.js';
import { createApi, type WorkerSideApi } from './api.js';
import { Calls } from './calls.js';
import { isDocumentRequest, serveDocument } from './documents.js';
import { guardedPort, refuse } from './guard.js';
import { BackgroundFetchEngine } from './engines/background-fetch/BackgroundFetchEngine.js';
import { StreamEngine } from './engines/stream/StreamEngine.js';
import { onNotificationClick } from './launch.js';
import { Scheduler } from './scheduler/Scheduler.js';
import { pendingSessions } from './store/outbox.js';
import { readAhead } from './store/readAhead.js';

declare const self: ServiceWorkerGlobalScope;

/** How long a call may keep its message event open if the page never makes it. */
const CALL_TIMEOUT_MS = 60_000;

/**
 * How long one event may keep the worker alive for the transfers under way. Chromium ends a
 * worker whose event lasts 5 minutes; a long transfer is carried by a sequence of events (a
 * page's calls), each well under that.
 */
const EVENT_BUDGET_MS = 4 * 60_000;

/**
 * The Background Sync tag under which the worker asks the browser to wake it while streaming
 * transfers are unfinished: a worker stopped mid-transfer with no page open is woken again
 * when the browser retries the sync (Chromium: minutes later), and picks the transfers up.
 */
export const SYNC_TAG = 'bgdl:transfers';

/**
 * How often, at most, the worker asks Background Sync again while transfers run: each ask is a
 * call to the browser, which stores the registration; one stands until its sync event has run.
 */
const SYNC_INTERVAL_MS = 1000;

/** Options of `installURLSessionWorker`. */
export interface WorkerOptions {
  /** Use the streaming engine even where Background Fetch exists. Default: false. */
  disableBackgroundFetch?: boolean;
  /**
   * Answer the URLs `documents.url(name)` gives (a `fetch` listener that takes only those).
   * Default: false, and the worker adds no `fetch` listener. An app that routes its own fetches
   * (Workbox) can instead answer them with `isDocumentRequest` and `serveDocument`.
   */
  serveDocuments?: boolean;
}

let installed = false;

/**
 * Wires background URL sessions into this service worker: answers the library's pages, runs
 * the transfers, and handles Background Fetch events with no page open. Call it once, at the
 * top level of the worker script (event listeners must be added during its first run). It
 * adds every listener the library has, here, and leaves `fetch` and every message that is
 * not its own to the worker's other code.
 */
export function installURLSessionWorker(options: WorkerOptions = {}): void {
  if (installed) return;
  installed = true;
  installErrorTransfer();
  const manager = options.disableBackgroundFetch ? undefined : self.registration.backgroundFetch;
  const scheduler = new Scheduler(manager ? 'background-fetch' : 'stream');
  const stream = new StreamEngine(scheduler.sink);
  scheduler.add(stream);
  if (manager) scheduler.add(new BackgroundFetchEngine(manager, scheduler.sink));
  const calls = new Calls();
  const api = createApi(scheduler, calls);
  const busy = () => stream.busy || scheduler.queue.size > 0;
  // A transfer given its turn starts a moment later: the queue counts it until the engine does.
  const idle = async () => {
    while (busy()) await Promise.all([stream.idle(), delay(0)]);
  };
  const whileStreaming = keepAlive(busy, idle);

  for (const engine of Object.values(scheduler.engines)) {
    for (const [type, handler] of Object.entries(engine.handlers ?? {})) {
      // What an engine could not finish, the streaming engine may take over within the event.
      self.addEventListener(type, (event) => (event as ExtendableEvent).waitUntil(handler(event as ExtendableEvent).then(whileStreaming)));
    }
  }
  self.addEventListener('notificationclick', onNotificationClick);
  self.addEventListener('sync', (event) => {
    if (event.tag !== SYNC_TAG) return;
    event.waitUntil(
      scheduler
        .wake()
        .then(whileStreaming)
        .then(() => {
          // Rejected, the sync is retried by the browser later: the transfers go on then.
          if (stream.busy) throw new Error('Transfers are still under way');
        }),
    );
  });
  self.addEventListener('message', (event) => onMessage(event, api, calls, whileStreaming));
  if (options.serveDocuments) {
    self.addEventListener('fetch', (event) => {
      // A page of the app loads: the sessions it may re-create are read meanwhile.
      if (event.request.mode === 'navigate') pendingSessions().then(readAhead, () => undefined);
      if (isDocumentRequest(event.request)) event.respondWith(serveDocument(event.request));
    });
  }
}

/**
 * What keeps the worker alive while streaming transfers run, within one event's budget; where
 * the browser has Background Sync, it is asked to wake the worker if this one dies (at most
 * every SYNC_INTERVAL_MS: with 1,000 small files, a page's calls asked 130 times).
 */
function keepAlive(busy: () => boolean, idle: () => Promise<void>): () => Promise<void> {
  let syncAsked = -Infinity;
  return () => {
    if (busy() && Date.now() - syncAsked >= SYNC_INTERVAL_MS) {
      syncAsked = Date.now();
      self.registration.sync?.register(SYNC_TAG).catch(() => undefined);
    }
    return Promise.race([idle(), delay(EVENT_BUDGET_MS)]);
  };
}

/** Answers a page's call: only a well-formed one, from a client of this origin. */
function onMessage(event: ExtendableMessageEvent, api: WorkerSideApi, calls: Calls, whileStreaming: () => Promise<void>): void {
  const source = event.source as Client | null;
  if (!isConnectMessage(event.data, event.ports)) {
    // Not ours, unless it claims to be: then it is malformed, and the sender is told so.
    const type = (event.data as { type?: unknown } | null)?.type;
    if (typeof type === 'string' && type.startsWith('bgdl:')) {
      const error = new TypeError(`Malformed bgdl message ${quote(event.data)}: expected { type: "${CONNECT}" } with one MessagePort`);
      source?.postMessage({ type: 'bgdl:error', error: serializeError(error) });
    }
    return;
  }
  const port = event.ports[0]!;
  // A client whose URL does not parse (a srcdoc frame's is '') is not known to be of this origin.
  if (!source || !URL.canParse(source.url) || new URL(source.url).origin !== self.location.origin) {
    refuse(port, new TypeError(`Refused: not a client of this origin (${quote(source?.url ?? null)})`));
    return;
  }
  let called!: () => void;
  const call = new Promise<void>((resolve) => (called = resolve));
  const { call: id } = event.data;
  if (id) {
    calls.begin(id);
    void call.then(() => calls.end(id));
  }
  expose(oneCall(api, called, source.id), guardedPort(port, api));
  // Each call extends the worker's life while transfers are under way, within a budget.
  event.waitUntil(Promise.race([call, delay(CALL_TIMEOUT_MS)]).then(whileStreaming));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The API, reporting through `done` when a call to it has ended. `handOver` is told which
 * client called: the page going away, which may still be listed as visible for a while;
 * `connectWriter`, the page whose writer it takes.
 */
function oneCall(api: WorkerSideApi, done: () => void, caller: string): WorkerApi {
  const wrapped = {} as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const [name, method] of Object.entries(api)) {
    wrapped[name] = (...args) => (method as (...a: unknown[]) => Promise<unknown>)(...args).finally(done);
  }
  wrapped.handOver = (sessionId, transferIds) => api.handOver(sessionId as string, transferIds as string[], caller).finally(done);
  wrapped.connectWriter = (port) => api.connectWriter(port as MessagePort, caller).finally(done);
  return wrapped as unknown as WorkerApi;
}
