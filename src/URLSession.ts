import { URLError } from '../common/errors.js';
import { isNotice, NOTICE_CHANNEL, type DebugState, type TaskInit } from '../common/protocol.js';
import { checkRequestFields } from './requestFields.js';
import { badValue, quote } from '../common/quote.js';
import { serial, taskOwner } from './CommandQueue.js';
import { callWorker } from './callWorker.js';
import { offerWriter } from './offerWriter.js';
import { delivery, refresh } from './delivery.js';
import { progress, type SessionState } from './SessionState.js';
import type { URLSessionConfiguration } from './URLSessionConfiguration.js';
import type { URLSessionDelegate } from './URLSessionDelegate.js';
import { URLSessionDownloadTask, URLSessionUploadTask, type TaskOwner, type URLSessionTask } from './URLSessionTask.js';

/** This page's sessions by identifier: the last one made of each. */
const live = new Map<string, SessionState>();

/**
 * A background session, as `URLSession`. Its tasks run in the service worker and outlive the
 * page; creating a session with the same identifier again (after a reload, with every page
 * closed in between) re-attaches them, and the events that happened meanwhile are delivered
 * to the new delegate once each, in order, then `didFinishEvents`.
 */
export class URLSession {
  readonly configuration: URLSessionConfiguration;
  readonly delegate: URLSessionDelegate;
  /** Settles when the session has re-attached its tasks and delivered the waiting events. */
  readonly ready: Promise<void>;
  readonly #s: SessionState;

  constructor(configuration: URLSessionConfiguration, delegate: URLSessionDelegate) {
    if (typeof configuration?.toRecord !== 'function') throw badValue('new URLSession() needs a URLSessionConfiguration', configuration);
    if (typeof delegate !== 'object' || delegate === null) throw badValue('A background URLSession needs a delegate', delegate);
    if (!('serviceWorker' in navigator)) throw new TypeError('URLSession needs service workers (is the page served over https?)');
    this.configuration = configuration;
    this.delegate = delegate;
    // The state is complete once it has its owner, which is made from it.
    const s = (this.#s = {
      session: this as URLSession,
      id: configuration.identifier,
      tasks: new Map(),
      calls: Promise.resolve(),
      delivered: 0,
      seq: 0,
      acked: 0,
      watched: new Set(),
      asked: new Set(),
      standby: new Map(),
    } satisfies Omit<SessionState, 'owner'> as SessionState);
    s.owner = taskOwner(s);
    // The last session made with an identifier is the page's: an older one stops delivering.
    const older = live.get(s.id);
    if (older) ((older.replaced = true), clearInterval(older.keepAlive));
    live.set(s.id, s);
    const channel = new BroadcastChannel(NOTICE_CHANNEL);
    channel.onmessage = ({ data }: MessageEvent<unknown>) => {
      if (s.replaced) return channel.close();
      if (!isNotice(data) || data.sessionId !== configuration.identifier) return;
      if (data.type === 'changed') refresh(s);
      else progress(s, s.tasks.get(data.taskIdentifier), data.type === 'sent' ? data.sent : data.received, data.expected, data.type === 'sent');
    };
    // Only a browser with Background Fetch loads the code that hands downloads over to it.
    if ('BackgroundFetchManager' in globalThis) {
      void Promise.all([navigator.serviceWorker.ready, import('./HandOver.js')]).then(
        ([registration, { handOverOnHide }]) => handOverOnHide(s, registration, refresh),
        reportError,
      );
    }
    // Queued now, before any task's resume(): the lock is granted a task later, and a resume
    // sent first would run under the default configuration. With the lock free, the waiting
    // events are delivered from attach's answer.
    // The worker asks what the delegate can answer, and keeps what it takes.
    const has = (method: keyof URLSessionDelegate) => typeof delegate[method] === 'function';
    const record = { ...configuration.toRecord(), willBeginDelayedRequest: has('willBeginDelayedRequest'), didFinishCollecting: has('didFinishCollecting') };
    // The page's writer is made and given now, not at the first resume().
    void offerWriter();
    const attach = serial(s, () => callWorker('attach', record));
    attach.catch(() => undefined); // `ready` rejects with it, once the lock is had
    this.ready = delivery().then(({ begin }) => begin(s, attach));
  }

  /**
   * A task that downloads `request` (a URL or a `Request`), `suspended` until `resume()`.
   * Only `http:` and `https:` URLs are allowed. With `{ resumeData }` (from
   * `cancelByProducingResumeData()`), the task continues from the bytes that were kept.
   */
  downloadTask(request: string | URL | Request | { resumeData: string }): URLSessionDownloadTask {
    checkValid(this.#s);
    if (typeof request === 'object' && request !== null && 'resumeData' in request) {
      const { resumeData } = request;
      return add(this.#s, URLSessionDownloadTask, resumeDataURL(resumeData), { resumeData });
    }
    return add(this.#s, URLSessionDownloadTask, request, {});
  }

  /**
   * A task that uploads a file (`Blob` or `File`) with `request` (POST unless the request says
   * otherwise), `suspended` until `resume()`. As Apple's background sessions do, it uploads
   * only from files: data or a stream would be lost with the page.
   */
  uploadTask(request: string | URL | Request, fromFile: Blob): URLSessionUploadTask {
    checkValid(this.#s);
    if (!(fromFile instanceof Blob)) {
      // Uploads from data or a stream would fail once the page is gone.
      throw badValue('uploadTask() takes a Blob or File (background sessions upload only from files)', Object.prototype.toString.call(fromFile));
    }
    return add(this.#s, URLSessionUploadTask, request, { body: fromFile }, { method: 'POST' });
  }

  /** The session's tasks that have not completed (or whose completion is still to be told). */
  async getAllTasks(): Promise<URLSessionTask[]> {
    await this.ready;
    return [...this.#s.tasks.values()];
  }

  /**
   * What the library is doing (a Background Networking Profile for the web): the engine in
   * use, the network as the worker sees it, and each task's state and why it waits.
   */
  debugState(): Promise<DebugState> {
    return callWorker('debugState', this.#s.id);
  }

  /**
   * Cancels every task and makes the session invalid: it takes no new task, and tells
   * `didBecomeInvalidWithError(session, null)` once its tasks have ended.
   */
  invalidateAndCancel(): void {
    this.#s.invalid = true;
    for (const task of this.#s.tasks.values()) task.cancel();
    refresh(this.#s);
  }

  /**
   * Lets the running tasks finish and makes the session invalid: it takes no new task, and
   * tells `didBecomeInvalidWithError(session, null)` once its tasks have ended.
   */
  finishTasksAndInvalidate(): void {
    this.#s.invalid = true;
    refresh(this.#s);
  }
}

/** Throws if the session was invalidated. */
function checkValid(s: SessionState): void {
  if (s.invalid) throw new DOMException(`Session ${quote(s.id)} was invalidated: no new tasks`, 'InvalidStateError');
}

/**
 * A new task of the session, for an `http:` or `https:` request (made with `requestInit` from
 * a URL), that the worker creates from `init` when it is first resumed.
 */
function add<T extends URLSessionTask>(
  s: SessionState,
  Task: new (owner: TaskOwner, id: number, request: Request) => T,
  request: string | URL | Request,
  init: Partial<TaskInit>,
  requestInit?: RequestInit,
): T {
  // A URL is resolved against the page; one that does not parse throws the browser's TypeError.
  const original = request instanceof Request ? request : new Request(request, requestInit);
  // Only http: and https: URLs, as Apple's background sessions allow.
  if (!/^https?:/.test(original.url)) throw badValue('Only http: and https: URLs can be used', original.url);
  checkRequestFields(original);
  // As fetch() does: an aborted signal refuses the task, and a signal aborted later cancels it.
  original.signal.throwIfAborted();
  const task = new Task(s.owner, newTaskIdentifier(s.tasks), original);
  original.signal.addEventListener('abort', () => task.cancel(), { once: true });
  task.init = init;
  s.tasks.set(task.taskIdentifier, task);
  return task;
}

/** The URL resume data is for; resume data that is not ours is refused with a named error. */
function resumeDataURL(resumeData: unknown): string {
  try {
    const url = (JSON.parse(resumeData as string) as { request?: { url?: unknown } }).request?.url;
    if (typeof url === 'string') return url;
  } catch {
    // reported below
  }
  throw new URLError('cannotDecodeRawData', `Not resume data: ${quote(String(resumeData).slice(0, 80))}`);
}

/** This page's last task identifier: the first is random, as tabs create tasks independently. */
let lastTaskIdentifier = Math.floor(Math.random() * 2 ** 48);

/**
 * An identifier unique among the session's tasks. A page's are consecutive, from a random start
 * (48 bits: two tabs' runs of 1,000 meet once in 10^11), so that the worker reads and deletes
 * the records of many tasks by key ranges, not one request each.
 */
function newTaskIdentifier(tasks: Map<number, unknown>): number {
  while (tasks.has(++lastTaskIdentifier));
  return lastTaskIdentifier;
}
