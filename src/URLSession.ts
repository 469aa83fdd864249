import { URLError, type SerializedError } from '../common/errors.js';
import { NOTICE_CHANNEL, type DebugState, type FetchOrder, type Notice, type SessionSnapshot, type TaskInit, type TaskView, type WorkerApi } from '../common/protocol.js';
import { badValue, quote } from '../common/quote.js';
import type { EventRecord } from '../common/schema.js';
import { callWorker } from './connection.js';
import { DownloadLocation } from './DownloadLocation.js';
import type { URLSessionConfiguration } from './URLSessionConfiguration.js';
import type { URLSessionDelegate } from './URLSessionDelegate.js';
import { URLSessionDownloadTask, URLSessionUploadTask, type TaskOwner, type URLSessionTask } from './URLSessionTask.js';

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
  readonly #tasks = new Map<number, URLSessionTask>();
  readonly #watched = new Set<string>();
  #calls: Promise<unknown> = Promise.resolve();
  #draining: Promise<void> | undefined;
  #drainAgain = false;
  #delivered = 0;
  /** The last event delivered, and the last one the worker was told of. */
  #seq = 0;
  #acked = 0;
  #acking: Promise<void> | undefined;
  /** The stamp of the last snapshot delivered: the next holds only the tasks changed since. */
  #stamp: string | undefined;
  /** Tasks resumed in this tick, for one worker call. */
  #batch: [URLSessionTask[], (number | TaskInit)[]] | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #invalid = false;
  #invalidTold = false;

  constructor(configuration: URLSessionConfiguration, delegate: URLSessionDelegate) {
    if (typeof configuration?.toRecord !== 'function') throw badValue('new URLSession() needs a URLSessionConfiguration', configuration);
    if (typeof delegate !== 'object' || delegate === null) throw badValue('A background URLSession needs a delegate', delegate);
    if (!('serviceWorker' in navigator)) throw new TypeError('URLSession needs service workers (is the page served over https?)');
    this.configuration = configuration;
    this.delegate = delegate;
    const channel = new BroadcastChannel(NOTICE_CHANNEL);
    channel.onmessage = ({ data }: MessageEvent<Notice>) => {
      if (data?.sessionId !== configuration.identifier) return;
      if (data.type === 'changed') this.#refresh();
      else this.#progress(this.#tasks.get(data.taskIdentifier), data.type === 'sent' ? data.sent : data.received, data.expected, data.type === 'sent');
    };
    // A page that goes away tells the worker what it delivered, so that nothing comes twice.
    addEventListener('pagehide', () => this.#acked < this.#seq && void this.#call('acknowledge', (this.#acked = this.#seq)));
    // With the session's lock free, the waiting events are delivered from attach's answer.
    this.ready = this.#locked(async (lock) => {
      const snapshot = await this.#serial(() => callWorker('attach', configuration.toRecord()));
      if (lock) return this.#deliverAll(snapshot);
      this.#stamp = snapshot.stamp;
      this.#apply(snapshot.tasks);
      await this.#carryOut(snapshot.orders);
      return this.#drain();
    }, true);
  }

  /**
   * A task that downloads `request` (a URL or a `Request`), `suspended` until `resume()`.
   * Only `http:` and `https:` URLs are allowed. With `{ resumeData }` (from
   * `cancelByProducingResumeData()`), the task continues from the bytes that were kept.
   */
  downloadTask(request: string | URL | Request | { resumeData: string }): URLSessionDownloadTask {
    this.#checkValid();
    if (typeof request === 'object' && request !== null && 'resumeData' in request) {
      const { resumeData } = request;
      return this.#add(URLSessionDownloadTask, resumeDataURL(resumeData), { resumeData });
    }
    return this.#add(URLSessionDownloadTask, request, {});
  }

  /**
   * A task that uploads a file (`Blob` or `File`) with `request` (POST unless the request says
   * otherwise), `suspended` until `resume()`. As in the seed, background sessions upload only
   * from files: data or a stream would be lost with the page.
   */
  uploadTask(request: string | URL | Request, fromFile: Blob): URLSessionUploadTask {
    this.#checkValid();
    if (!(fromFile instanceof Blob)) {
      // Uploads from data or a stream would fail once the page is gone.
      throw badValue('uploadTask() takes a Blob or File (background sessions upload only from files)', Object.prototype.toString.call(fromFile));
    }
    return this.#add(URLSessionUploadTask, request, { body: fromFile }, { method: 'POST' });
  }

  /**
   * A new task of the session, for an `http:` or `https:` request (made with `requestInit` from
   * a URL), that the worker creates from `init` when it is first resumed.
   */
  #add<T extends URLSessionTask>(
    Task: new (owner: TaskOwner, id: number, request: Request) => T,
    request: string | URL | Request,
    init: Partial<TaskInit>,
    requestInit?: RequestInit,
  ): T {
    // A URL is resolved against the page; one that does not parse throws the browser's TypeError.
    const original = request instanceof Request ? request : new Request(request, requestInit);
    // Only http: and https: URLs, as the seed's limitations require.
    if (!/^https?:/.test(original.url)) throw badValue('Only http: and https: URLs can be used', original.url);
    const task = new Task(this.#owner, newTaskIdentifier(this.#tasks), original);
    task.init = init;
    this.#tasks.set(task.taskIdentifier, task);
    return task;
  }

  /** The session's tasks that have not completed (or whose completion is still to be told). */
  async getAllTasks(): Promise<URLSessionTask[]> {
    await this.ready;
    return [...this.#tasks.values()];
  }

  /**
   * What the library is doing, as the seed's Background Networking Profile shows it: the
   * engine in use, the network as the worker sees it, and each task's state and why it waits.
   */
  debugState(): Promise<DebugState> {
    return this.#call('debugState');
  }

  /**
   * Cancels every task and makes the session invalid: it takes no new task, and tells
   * `didBecomeInvalidWithError(session, null)` once its tasks have ended.
   */
  invalidateAndCancel(): void {
    this.#invalid = true;
    for (const task of this.#tasks.values()) task.cancel();
    this.#refresh();
  }

  /**
   * Lets the running tasks finish and makes the session invalid: it takes no new task, and
   * tells `didBecomeInvalidWithError(session, null)` once its tasks have ended.
   */
  finishTasksAndInvalidate(): void {
    this.#invalid = true;
    this.#refresh();
  }

  #checkValid(): void {
    if (this.#invalid) throw new DOMException(`Session ${quote(this.configuration.identifier)} was invalidated: no new tasks`, 'InvalidStateError');
  }

  /** What the session's tasks ask of the worker, in the order they ask it. */
  readonly #owner: TaskOwner = {
    resume: (task) => {
      const { taskIdentifier, originalRequest: request, init } = task;
      const item: number | TaskInit = init
        ? {
            taskIdentifier,
            request: { url: request.url, method: request.method, headers: [...request.headers] },
            taskDescription: task.taskDescription,
            countOfBytesClientExpectsToReceive: Math.max(0, task.countOfBytesClientExpectsToReceive),
            countOfBytesClientExpectsToSend: Math.max(0, task.countOfBytesClientExpectsToSend),
            earliestBeginDate: task.earliestBeginDate?.getTime() ?? null,
            priority: task.priority,
            resumeData: null,
            body: null,
            ...init,
          }
        : taskIdentifier;
      // From now on the worker knows the task.
      task.init = undefined;
      // Tasks resumed in the same tick (until another call is queued) go in one worker call,
      // so that the worker can put them into as few transfers as possible.
      if (!this.#batch) {
        const batch: [URLSessionTask[], (number | TaskInit)[]] = [[], []];
        this.#command(batch[0], () => {
          if (this.#batch === batch) this.#batch = undefined;
          return this.#call('resume', batch[1]);
        });
        this.#batch = batch;
      }
      this.#batch[0].push(task);
      this.#batch[1].push(item);
    },
    suspend: (task) => {
      // A task the worker never knew has no transfer to stop.
      if (!task.init) this.#command([task], () => this.#call('suspend', task.taskIdentifier));
    },
    cancel: (task) => {
      if (task.init) this.#cancelUnknown(task);
      else this.#command([task], () => this.#call('cancel', task.taskIdentifier));
    },
    cancelByProducingResumeData: async (task) => {
      if (task.init) return this.#cancelUnknown(task), null;
      const data = this.#serial(() => this.#call('cancelByProducingResumeData', task.taskIdentifier));
      void data.then(() => this.#refresh(), () => undefined);
      return (await data) ?? null;
    },
  };

  /** A task the worker never knew ends here when cancelled. */
  #cancelUnknown(task: URLSessionTask): void {
    void this.#fail(task, new URLError('cancelled', 'The download was cancelled'));
  }

  /** Runs a worker call for tasks after the earlier ones; a failure completes the tasks. */
  #command(tasks: URLSessionTask[], call: () => Promise<SessionSnapshot | void>): void {
    // Queued after `attach`, so the worker knows the session first.
    void this.#serial(async () => {
      try {
        const snapshot = await call();
        if (snapshot) {
          for (const [taskIdentifier, error] of snapshot.rejected ?? []) await this.#fail(this.#tasks.get(taskIdentifier as number), error);
          this.#apply(snapshot.tasks);
          await this.#carryOut(snapshot.orders);
        }
      } catch (error) {
        for (const task of tasks) await this.#fail(task, error);
      }
    });
  }

  /** Ends a task the worker refused (or never knew): it is gone before its delegate is told. */
  async #fail(task: URLSessionTask | undefined, error: unknown): Promise<void> {
    if (!task) return;
    this.#tasks.delete(task.taskIdentifier);
    await this.#complete(task, error);
  }

  /** Completes a task and tells its delegate; `error` is a SerializedError, an Error, or null. */
  async #complete(task: URLSessionTask, error: unknown): Promise<void> {
    task.complete(error);
    await this.#tell('didCompleteWithError', task, task.error);
    this.#tasks.delete(task.taskIdentifier);
  }

  #serial<T>(call: () => Promise<T>): Promise<T> {
    this.#batch = undefined;
    const result = this.#calls.then(call);
    this.#calls = result.catch(() => undefined);
    return result;
  }

  /** Takes the worker's records of tasks into the page's task objects. */
  #apply(records: TaskView[]): void {
    // A Background Fetch that carries several tasks tells no task's own progress.
    const carried = new Map<string | null, number>();
    for (const { transferId } of records) carried.set(transferId, (carried.get(transferId) ?? 0) + 1);
    for (const record of records) {
      const { taskIdentifier, transferId } = record;
      let task = this.#tasks.get(taskIdentifier);
      if (!task) {
        const Task = record.kind === 'upload' ? URLSessionUploadTask : URLSessionDownloadTask;
        this.#tasks.set(taskIdentifier, (task = new Task(this.#owner, taskIdentifier, record.originalRequest)));
      }
      const waiting = task.record?.waitingFor;
      task.update(record);
      if (record.waitingFor && !waiting) void this.#tell('taskIsWaitingForConnectivity', task);
      if (record.state === 'running' && record.engine === 'background-fetch' && transferId && carried.get(transferId) === 1) {
        void this.#watch(taskIdentifier, transferId, undefined, record.receivedAtStart);
      }
    }
    // A transfer of the streaming engine lives only as long as the worker, a task waiting for
    // its earliestBeginDate starts at a wake, and a Background Fetch's finished ranges are
    // stored while the worker lives: while a task runs, the page calls the worker now and
    // then, which keeps it alive, revives it if it died, and starts what is due.
    const streaming = [...this.#tasks.values()].some(({ state, record }) => state === 'running' && record?.state === 'running');
    // (Set again at each change: the worker was called just now.)
    clearInterval(this.#keepAlive);
    this.#keepAlive = streaming ? setInterval(() => this.#refresh(), KEEP_ALIVE_MS) : undefined;
  }

  /** Starts the Background Fetches the worker ordered (browsers let only pages start them). */
  async #carryOut(orders: FetchOrder[]): Promise<void> {
    for (const { transferId, tasks, requests, body, options } of orders) {
      const manager = (await backgroundFetch())!;
      try {
        // A file's request (with an upload's body) or its byte ranges, for each task it carries.
        const registration = await manager.fetch(transferId, requests.map((each) => new Request(each.url, { ...each, body })), options);
        // Its progress is a task's only when it carries one.
        if (tasks.length === 1) void this.#watch(tasks[0]!.taskIdentifier, transferId, registration, tasks[0]!.received);
      } catch (error) {
        // Another page of the app may have started the same order already.
        if (await manager.get(transferId)) continue;
        // A DOMException or TypeError: posted as it is, with its name and message.
        await this.#call('fail', transferId, error as SerializedError);
      }
    }
  }

  /**
   * Reports a Background Fetch's progress as `didWriteData` while this page is open. The
   * registration fetches what is not stored yet: its bytes count from `received` on.
   */
  async #watch(taskIdentifier: number, transferId: string, started?: BackgroundFetchRegistration, received = 0): Promise<void> {
    if (this.#watched.has(transferId)) return;
    const registration = started ?? (await (await backgroundFetch())?.get(transferId));
    if (this.#watched.has(transferId)) return;
    if (!registration) {
      // Another page may not have started the order yet: look again while the task runs.
      if (this.#tasks.get(taskIdentifier)?.state === 'running') setTimeout(() => void this.#watch(taskIdentifier, transferId, undefined, received), 1000);
      return;
    }
    this.#watched.add(transferId);
    registration.addEventListener('progress', () => {
      const task = this.#tasks.get(taskIdentifier);
      if (registration.uploadTotal > 0) this.#progress(task, registration.uploaded, registration.uploadTotal, true);
      const total = registration.downloadTotal ? received + registration.downloadTotal : -1;
      this.#progress(task, received + registration.downloaded, total);
    });
  }

  /**
   * Tells the delegate of a running task's bytes received (`didWriteData`, for a download) or
   * `sent` (`didSendBodyData`), when they are more than it was told before.
   */
  #progress(task: URLSessionTask | undefined, bytes: number, expected: number, sent = false): void {
    const count = sent ? 'countOfBytesSent' : 'countOfBytesReceived';
    if (!task || task.state !== 'running' || bytes <= task[count] || !(sent || task instanceof URLSessionDownloadTask)) return;
    const delta = bytes - task[count];
    task[count] = bytes;
    if (sent) return void this.#tell('didSendBodyData', task, delta, bytes, expected);
    if (expected >= 0) task.countOfBytesExpectedToReceive = expected;
    void this.#tell('didWriteData', task, delta, bytes, task.countOfBytesExpectedToReceive);
  }

  /** A drain no one waits for: a failure (the worker gone, storage full) waits for the next. */
  #refresh(): void {
    this.#drain().catch(() => undefined);
  }

  /**
   * Delivers the waiting events, in order, each once: one page at a time holds the session's
   * lock, and an event leaves the outbox only after its handler has settled.
   */
  #drain(): Promise<void> {
    if (this.#draining) {
      this.#drainAgain = true;
      return this.#draining;
    }
    this.#draining = this.#locked(async () => {
      do {
        this.#drainAgain = false;
        await this.#deliverAll(await this.#call('snapshot', this.#stamp));
      } while (this.#drainAgain);
    }).finally(() => (this.#draining = undefined));
    return this.#draining;
  }

  /** Runs `run` holding the session's lock (if it is free, with `ifAvailable`; else `lock` is null). */
  #locked<T>(run: (lock: unknown) => Promise<T>, ifAvailable = false): Promise<T> {
    const locks = navigator.locks;
    return locks ? locks.request(`bgdl:${this.configuration.identifier}`, { ifAvailable }, run) : run(true);
  }

  async #deliverAll({ tasks, events, orders, stamp, gone }: SessionSnapshot): Promise<void> {
    this.#stamp = stamp;
    this.#apply(tasks);
    // A task the worker had and no longer has was completed and delivered by another page.
    const current = new Set(tasks.map((record) => record.taskIdentifier));
    for (const taskIdentifier of gone ?? [...this.#tasks.keys()].filter((id) => !current.has(id))) {
      const task = this.#tasks.get(taskIdentifier);
      if (!task?.record) continue;
      task.complete(null);
      this.#tasks.delete(taskIdentifier);
    }
    await this.#carryOut(orders);
    for (const event of events) {
      await this.#deliver(event);
      this.#delivered++;
      // Acknowledged without waiting: the worker is told the last event delivered so far.
      this.#seq = event.seq;
      void this.#acknowledge();
    }
    // Every event delivered is acknowledged before another page may take the lock.
    while (this.#acked < this.#seq) await this.#acknowledge();
    const busy = [...this.#tasks.values()].some((task) => task.state === 'running' || task.state === 'canceling');
    if (this.#delivered > 0 && !busy) {
      this.#delivered = 0;
      await this.#tell('didFinishEvents');
    }
    if (this.#invalid && !this.#invalidTold && this.#tasks.size === 0) {
      this.#invalidTold = true;
      await this.#tell('didBecomeInvalidWithError', null);
    }
  }

  async #deliver(event: EventRecord): Promise<void> {
    const task = this.#tasks.get(event.taskIdentifier);
    if (!task) return;
    // A task this page saw running gets a last progress event before it ends.
    if (event.type === 'didFinishDownloadingTo') {
      if (task.live) this.#progress(task, event.size, event.size);
      const location = new DownloadLocation(event, task.response?.mimeType ?? '');
      await this.#tell('didFinishDownloadingTo', task, location);
      // The worker deletes the file when the event is acknowledged.
      location.close();
    } else {
      if (task.live && !event.error) this.#progress(task, task.countOfBytesExpectedToSend, task.countOfBytesExpectedToSend, true);
      await this.#complete(task, event.error);
    }
  }

  /**
   * Tells the worker the events delivered up to `#seq` (one call at a time: while one is under
   * way, events delivered meanwhile wait for the next, which carries them all).
   */
  #acknowledge(): Promise<void> {
    this.#acking ??= (async () => {
      while (this.#acked < this.#seq) await this.#call('acknowledge', (this.#acked = this.#seq));
    })()
      // Not acknowledged: the events are delivered again (to this page or another).
      .catch(() => undefined)
      .finally(() => (this.#acking = undefined));
    return this.#acking;
  }

  /** Calls the worker about this session. */
  #call<M extends SessionMethod>(method: M, ...args: SessionArgs<M>): ReturnType<WorkerApi[M]> {
    return (callWorker as (method: M, ...args: unknown[]) => ReturnType<WorkerApi[M]>)(method, this.configuration.identifier, ...args);
  }

  /** Calls a delegate method; what it throws is reported, never lost in the library. */
  async #tell<M extends keyof URLSessionDelegate>(method: M, ...args: unknown[]): Promise<void> {
    const handler = this.delegate[method] as ((...a: unknown[]) => unknown) | undefined;
    try {
      await handler?.call(this.delegate, this, ...args);
    } catch (error) {
      reportError(error);
    }
  }
}

/** The worker's methods about one session (their first argument, its identifier). */
type SessionMethod = { [M in keyof WorkerApi]: Parameters<WorkerApi[M]> extends [string, ...unknown[]] ? M : never }[keyof WorkerApi];
/** A session method's arguments after the session's identifier. */
type SessionArgs<M extends SessionMethod> = Parameters<WorkerApi[M]> extends [string, ...infer Rest] ? Rest : never;

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

/** The Background Fetch manager (browsers without it never get orders to carry out). */
async function backgroundFetch(): Promise<BackgroundFetchManager | undefined> {
  return (await navigator.serviceWorker.ready).backgroundFetch;
}

/** How often a page calls the worker while the streaming engine runs one of its tasks. */
const KEEP_ALIVE_MS = 5000;

/** A random identifier unique among the session's tasks (tabs create tasks independently). */
function newTaskIdentifier(tasks: Map<number, unknown>): number {
  let id = 0;
  // 48 random bits: a safe integer.
  while (!id || tasks.has(id)) id = Math.floor(Math.random() * 2 ** 48);
  return id;
}
