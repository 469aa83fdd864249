import { serializeError, URLError, type SerializedError } from '../common/errors.js';
import { NOTICE_CHANNEL, type DebugState, type FetchOrder, type Notice, type SessionSnapshot, type TaskInit } from '../common/protocol.js';
import { badValue, quote } from '../common/quote.js';
import type { EventRecord, TaskRecord } from '../common/schema.js';
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
  /** Tasks this page has seen running: they get a last `didWriteData` before they finish. */
  readonly #live = new Set<number>();
  /** Tasks waiting for their conditions, whose delegate was told so. */
  readonly #waiting = new Set<number>();
  /** Running tasks that need the worker alive: streamed, or waiting to start. */
  readonly #needsWorker = new Set<number>();
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
  /** Tasks the worker knows (created there, or re-attached from there). */
  readonly #created = new Set<number>();
  /** Tasks this page has seen in the worker's records. */
  readonly #seen = new Set<number>();
  /** Resume data of tasks not yet sent to the worker. */
  readonly #resumeData = new Map<number, string>();
  /** Files of upload tasks not yet sent to the worker. */
  readonly #bodies = new Map<number, Blob>();

  constructor(configuration: URLSessionConfiguration, delegate: URLSessionDelegate) {
    if (typeof configuration?.toRecord !== 'function') throw badValue('new URLSession() needs a URLSessionConfiguration', configuration);
    if (typeof delegate !== 'object' || delegate === null) throw badValue('A background URLSession needs a delegate', delegate);
    if (!('serviceWorker' in navigator)) throw new TypeError('URLSession needs service workers (is the page served over https?)');
    this.configuration = configuration;
    this.delegate = delegate;
    const channel = new BroadcastChannel(NOTICE_CHANNEL);
    channel.onmessage = ({ data }: MessageEvent<Notice>) => {
      if (data?.sessionId !== configuration.identifier) return;
      if (data.type === 'progress') this.#progress(data.taskIdentifier, data.received, data.expected);
      else if (data.type === 'sent') this.#sent(data.taskIdentifier, data.sent, data.expected);
      else void this.#drain();
    };
    // A page that goes away tells the worker what it delivered, so that nothing comes twice.
    addEventListener('pagehide', () => this.#acked < this.#seq && void callWorker('acknowledge', configuration.identifier, (this.#acked = this.#seq)));
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
    let resumeData: string | null = null;
    if (typeof request === 'object' && request !== null && 'resumeData' in request) {
      resumeData = request.resumeData;
      request = resumeDataURL(resumeData);
    }
    const task = this.#add(URLSessionDownloadTask, request);
    if (resumeData !== null) this.#resumeData.set(task.taskIdentifier, resumeData);
    return task;
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
    const task = this.#add(URLSessionUploadTask, request, { method: 'POST' });
    this.#bodies.set(task.taskIdentifier, fromFile);
    return task;
  }

  /** A new task of the session, for an `http:` or `https:` request (made with `init` from a URL). */
  #add<T extends URLSessionTask>(Task: new (owner: TaskOwner, id: number, request: Request) => T, request: string | URL | Request, init?: RequestInit): T {
    const original = request instanceof Request ? request : new Request(checkedURL(request), init);
    checkedURL(original.url);
    const task = new Task(this.#owner, newTaskIdentifier(this.#tasks), original);
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
    return callWorker('debugState', this.configuration.identifier);
  }

  /**
   * Cancels every task and makes the session invalid: it takes no new task, and tells
   * `didBecomeInvalidWithError(session, null)` once its tasks have ended.
   */
  invalidateAndCancel(): void {
    this.#invalid = true;
    for (const task of this.#tasks.values()) task.cancel();
    void this.#drain();
  }

  /**
   * Lets the running tasks finish and makes the session invalid: it takes no new task, and
   * tells `didBecomeInvalidWithError(session, null)` once its tasks have ended.
   */
  finishTasksAndInvalidate(): void {
    this.#invalid = true;
    void this.#drain();
  }

  #checkValid(): void {
    if (this.#invalid) throw new DOMException(`Session ${quote(this.configuration.identifier)} was invalidated: no new tasks`, 'InvalidStateError');
  }

  /** What the session's tasks ask of the worker, in the order they ask it. */
  readonly #owner: TaskOwner = {
    resumeTask: (task) => {
      const { taskIdentifier, originalRequest: request } = task;
      const item: number | TaskInit = this.#created.has(taskIdentifier)
        ? taskIdentifier
        : {
            taskIdentifier,
            request: { url: request.url, method: request.method, headers: [...request.headers] },
            taskDescription: task.taskDescription,
            countOfBytesClientExpectsToReceive: Math.max(0, task.countOfBytesClientExpectsToReceive),
            countOfBytesClientExpectsToSend: Math.max(0, task.countOfBytesClientExpectsToSend),
            earliestBeginDate: task.earliestBeginDate?.getTime() ?? null,
            priority: task.priority,
            resumeData: this.#resumeData.get(taskIdentifier) ?? null,
            body: this.#bodies.get(taskIdentifier) ?? null,
          };
      this.#resumeData.delete(taskIdentifier);
      this.#bodies.delete(taskIdentifier);
      this.#created.add(taskIdentifier);
      // Tasks resumed in the same tick (until another call is queued) go in one worker call,
      // so that the worker can put them into as few transfers as possible.
      if (!this.#batch) {
        const batch: [URLSessionTask[], (number | TaskInit)[]] = [[], []];
        this.#command(batch[0], (id) => {
          if (this.#batch === batch) this.#batch = undefined;
          return callWorker('resume', id, batch[1]);
        });
        this.#batch = batch;
      }
      this.#batch[0].push(task);
      this.#batch[1].push(item);
    },
    suspendTask: (task) => {
      if (this.#created.has(task.taskIdentifier)) this.#command([task], (id) => callWorker('suspend', id, task.taskIdentifier));
    },
    cancelTask: (task) => {
      if (!this.#created.has(task.taskIdentifier)) {
        // A task the worker never knew ends here.
        return void this.#fail(task, serializeError(new URLError('cancelled', 'The download was cancelled')));
      }
      this.#command([task], async (id) => void (await callWorker('cancel', id, task.taskIdentifier)));
    },
    cancelByProducingResumeData: (task) => {
      if (!this.#created.has(task.taskIdentifier)) {
        this.#owner.cancelTask(task);
        return Promise.resolve(null);
      }
      const data = this.#serial(() => callWorker('cancelByProducingResumeData', this.configuration.identifier, task.taskIdentifier));
      void data.then(() => this.#drain(), () => undefined);
      return data;
    },
  };

  /** Runs a worker call for tasks after the earlier ones; a failure completes the tasks. */
  #command(tasks: URLSessionTask[], call: (sessionId: string) => Promise<SessionSnapshot | undefined>): void {
    // Queued after `attach`, so the worker knows the session first.
    void this.#serial(async () => {
      try {
        const snapshot = await call(this.configuration.identifier);
        if (snapshot) {
          for (const [taskIdentifier, error] of snapshot.rejected ?? []) await this.#fail(this.#tasks.get(taskIdentifier as number), error);
          this.#apply(snapshot.tasks);
          await this.#carryOut(snapshot.orders);
        }
      } catch (error) {
        for (const task of tasks) await this.#fail(task, serializeError(error));
      }
    });
  }

  /** Ends a task the worker refused (or never knew). */
  async #fail(task: URLSessionTask | undefined, error: SerializedError): Promise<void> {
    if (!task) return;
    task.complete(error);
    this.#tasks.delete(task.taskIdentifier);
    await this.#tell('didCompleteWithError', task, task.error);
  }

  #serial<T>(call: () => Promise<T>): Promise<T> {
    this.#batch = undefined;
    const result = this.#calls.then(call);
    this.#calls = result.catch(() => undefined);
    return result;
  }

  /** Takes the worker's records of tasks into the page's task objects. */
  #apply(records: TaskRecord[]): void {
    this.#update(records);
    // A transfer of the streaming engine lives only as long as the worker, and a task waiting
    // for its earliestBeginDate starts at a wake: while there is one, the page calls the worker
    // now and then, which keeps it alive, revives it if it died, and starts what is due.
    const streaming = [...this.#tasks.values()].some((task) => task.state === 'running' && this.#needsWorker.has(task.taskIdentifier));
    if (streaming && !this.#keepAlive) this.#keepAlive = setInterval(() => void this.#drain(), KEEP_ALIVE_MS);
    if (!streaming && this.#keepAlive) this.#keepAlive = void clearInterval(this.#keepAlive);
  }

  #update(records: TaskRecord[]): void {
    // A Background Fetch that carries several tasks tells no task's own progress.
    const carried = new Map<string | null, number>();
    for (const { engineId } of records) carried.set(engineId, (carried.get(engineId) ?? 0) + 1);
    for (const record of records) {
      let task = this.#tasks.get(record.taskIdentifier);
      if (!task) {
        const Task = record.kind === 'upload' ? URLSessionUploadTask : URLSessionDownloadTask;
        task = new Task(this.#owner, record.taskIdentifier, record.originalRequest);
        this.#tasks.set(task.taskIdentifier, task);
      }
      task.update(record);
      this.#created.add(record.taskIdentifier);
      this.#seen.add(record.taskIdentifier);
      if (record.state === 'running') this.#live.add(record.taskIdentifier);
      if (record.waitingFor && !this.#waiting.has(record.taskIdentifier)) void this.#tell('taskIsWaitingForConnectivity', task);
      this.#waiting[record.waitingFor ? 'add' : 'delete'](record.taskIdentifier);
      const fetched = record.engine === 'background-fetch';
      this.#needsWorker[record.state === 'running' && !fetched ? 'add' : 'delete'](record.taskIdentifier);
      if (record.state === 'running' && fetched && record.engineId && carried.get(record.engineId) === 1) {
        void this.#watch(record.taskIdentifier, record.engineId, undefined, record.receivedAtStart);
      }
    }
  }

  /** Starts the Background Fetches the worker ordered (browsers let only pages start them). */
  async #carryOut(orders: FetchOrder[]): Promise<void> {
    for (const { engineId, tasks, requests, body, options } of orders) {
      const manager = (await backgroundFetch())!;
      try {
        // A file's request (with an upload's body) or its byte ranges, for each task it carries.
        const registration = await manager.fetch(engineId, requests.map((each) => new Request(each.url, { ...each, body })), options);
        // Its progress is a task's only when it carries one.
        if (tasks.length === 1) void this.#watch(tasks[0]!.taskIdentifier, engineId, registration, tasks[0]!.received);
      } catch (error) {
        // Another page of the app may have started the same order already.
        if (await manager.get(engineId)) continue;
        await callWorker('fail', this.configuration.identifier, engineId, serializeError(error));
      }
    }
  }

  /**
   * Reports a Background Fetch's progress as `didWriteData` while this page is open. The
   * registration fetches what is not stored yet: its bytes count from `received` on.
   */
  async #watch(taskIdentifier: number, engineId: string, started?: BackgroundFetchRegistration, received = 0): Promise<void> {
    if (this.#watched.has(engineId)) return;
    const registration = started ?? (await (await backgroundFetch())?.get(engineId));
    if (this.#watched.has(engineId)) return;
    if (!registration) {
      // Another page may not have started the order yet: look again while the task runs.
      if (this.#tasks.get(taskIdentifier)?.state === 'running') setTimeout(() => void this.#watch(taskIdentifier, engineId, undefined, received), 1000);
      return;
    }
    this.#watched.add(engineId);
    registration.addEventListener('progress', () => {
      if (registration.uploadTotal > 0) this.#sent(taskIdentifier, registration.uploaded, registration.uploadTotal);
      const total = registration.downloadTotal ? received + registration.downloadTotal : -1;
      this.#progress(taskIdentifier, received + registration.downloaded, total);
    });
  }

  #sent(taskIdentifier: number, sent: number, expected: number): void {
    const task = this.#tasks.get(taskIdentifier);
    if (!task || task.state !== 'running' || sent <= task.countOfBytesSent) return;
    const delta = sent - task.countOfBytesSent;
    task.countOfBytesSent = sent;
    void this.#tell('didSendBodyData', task, delta, sent, expected);
  }

  #progress(taskIdentifier: number, received: number, expected: number): void {
    const task = this.#tasks.get(taskIdentifier);
    if (!(task instanceof URLSessionDownloadTask) || task.state !== 'running' || received <= task.countOfBytesReceived) return;
    const written = received - task.countOfBytesReceived;
    task.countOfBytesReceived = received;
    if (expected >= 0) task.countOfBytesExpectedToReceive = expected;
    void this.#tell('didWriteData', task, written, received, task.countOfBytesExpectedToReceive);
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
        await this.#deliverAll(await callWorker('snapshot', this.configuration.identifier, this.#stamp));
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
      if (!task || !this.#seen.has(taskIdentifier)) continue;
      task.complete(null);
      this.#tasks.delete(taskIdentifier);
      this.#seen.delete(taskIdentifier);
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
    if (task && event.type === 'didFinishDownloadingTo') {
      if (this.#live.has(task.taskIdentifier) && task.countOfBytesReceived < event.size) {
        this.#progress(task.taskIdentifier, event.size, event.size);
      }
      const type = task.response?.mimeType ?? '';
      const location = new DownloadLocation(this.configuration.identifier, task.taskIdentifier, event.parts, event.size, type);
      await this.#tell('didFinishDownloadingTo', task, location);
      // The worker deletes the file when the event is acknowledged.
      location.close();
    }
    if (task && event.type === 'didCompleteWithError') {
      if (this.#live.has(task.taskIdentifier) && task.countOfBytesSent < task.countOfBytesExpectedToSend && !event.error) {
        this.#sent(task.taskIdentifier, task.countOfBytesExpectedToSend, task.countOfBytesExpectedToSend);
      }
      task.complete(event.error);
      await this.#tell('didCompleteWithError', task, task.error);
      this.#tasks.delete(task.taskIdentifier);
      this.#live.delete(task.taskIdentifier);
    }
  }

  /**
   * Tells the worker the events delivered up to `#seq` (one call at a time: while one is under
   * way, events delivered meanwhile wait for the next, which carries them all).
   */
  #acknowledge(): Promise<void> {
    this.#acking ??= (async () => {
      while (this.#acked < this.#seq) await callWorker('acknowledge', this.configuration.identifier, (this.#acked = this.#seq));
    })()
      // Not acknowledged: the events are delivered again (to this page or another).
      .catch(() => undefined)
      .finally(() => (this.#acking = undefined));
    return this.#acking;
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

/** An absolute `http:` or `https:` URL (resolved against the page), as the seed's limitations require. */
function checkedURL(value: string | URL): URL {
  let url: URL | undefined;
  try {
    url = new URL(String(value), location.href);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw badValue('Only http: and https: URLs can be used', String(value));
  return url;
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
  while (!id || tasks.has(id)) id = Number(crypto.getRandomValues(new BigUint64Array(1))[0]! >> 16n);
  return id;
}
