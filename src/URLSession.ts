import { serializeError } from '../common/errors.js';
import { NOTICE_CHANNEL, type FetchOrder, type Notice, type SessionSnapshot } from '../common/protocol.js';
import { quote } from '../common/quote.js';
import type { EventRecord, TaskRecord } from '../common/schema.js';
import { callWorker } from './connection.js';
import { DownloadLocation } from './DownloadLocation.js';
import type { URLSessionConfiguration } from './URLSessionConfiguration.js';
import type { URLSessionDelegate } from './URLSessionDelegate.js';
import { URLSessionDownloadTask, type URLSessionTask } from './URLSessionTask.js';

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
  /** Tasks carried by the streaming engine. */
  readonly #streamed = new Set<number>();
  #calls: Promise<unknown> = Promise.resolve();
  #draining: Promise<void> | undefined;
  #drainAgain = false;
  #delivered = 0;
  #keepAlive: ReturnType<typeof setInterval> | undefined;

  constructor(configuration: URLSessionConfiguration, delegate: URLSessionDelegate) {
    if (typeof configuration?.toRecord !== 'function') {
      throw new TypeError(`new URLSession() needs a URLSessionConfiguration, not ${quote(configuration)}`);
    }
    if (typeof delegate !== 'object' || delegate === null) {
      throw new TypeError(`A background URLSession needs a delegate to receive its events, not ${quote(delegate)}`);
    }
    if (!('serviceWorker' in navigator)) {
      throw new TypeError('Background URL sessions need service workers, which this page does not have (is it served over https?)');
    }
    this.configuration = configuration;
    this.delegate = delegate;
    const channel = new BroadcastChannel(NOTICE_CHANNEL);
    channel.onmessage = ({ data }: MessageEvent<Notice>) => {
      if (data?.sessionId !== configuration.identifier) return;
      if (data.type === 'progress') this.#progress(data.taskIdentifier, data.received, data.expected);
      else void this.#drain();
    };
    this.ready = this.#serial(() => callWorker('attach', configuration.toRecord())).then(async (snapshot) => {
      this.#apply(snapshot.tasks);
      await this.#carryOut(snapshot.orders);
      return this.#drain();
    });
  }

  /**
   * A task that downloads `request` (a URL or a `Request`), `suspended` until `resume()`.
   * Only `http:` and `https:` URLs are allowed.
   */
  downloadTask(request: string | URL | Request): URLSessionDownloadTask {
    let url: URL | undefined;
    try {
      url = new URL(request instanceof Request ? request.url : String(request), location.href);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new TypeError(`Only http: and https: URLs can be downloaded, not ${quote(String(request instanceof Request ? request.url : request))}`);
    }
    const original = request instanceof Request ? request : new Request(url);
    const task = new URLSessionDownloadTask(this.#owner, newTaskIdentifier(this.#tasks), original);
    this.#tasks.set(task.taskIdentifier, task);
    return task;
  }

  /** The session's tasks that have not completed (or whose completion is still to be told). */
  async getAllTasks(): Promise<URLSessionTask[]> {
    await this.ready;
    return [...this.#tasks.values()];
  }

  /** What the session's tasks ask of the worker, in the order they ask it. */
  readonly #owner = {
    resumeTask: (task: URLSessionTask) => {
      const { taskIdentifier, originalRequest: request } = task;
      const init = {
        taskIdentifier,
        request: { url: request.url, method: request.method, headers: [...request.headers] },
        taskDescription: task.taskDescription,
        countOfBytesClientExpectsToReceive: Math.max(0, task.countOfBytesClientExpectsToReceive),
      };
      this.#command(task, async (id) => {
        await callWorker('createTask', id, init);
        return callWorker('resume', id, taskIdentifier);
      });
    },
    cancelTask: (task: URLSessionTask) => {
      this.#command(task, async (id) => {
        await callWorker('cancel', id, task.taskIdentifier).catch((error: unknown) => {
          // A task never sent to the worker ends here.
          if (!(error instanceof TypeError)) throw error;
          task.complete({ name: 'URLError', code: 'cancelled', message: 'The download was cancelled' });
          return this.#tell('didCompleteWithError', task, task.error);
        });
        return undefined;
      });
    },
  };

  /** Runs a worker call for a task after the earlier ones; a failure completes the task. */
  #command(task: URLSessionTask, call: (sessionId: string) => Promise<SessionSnapshot | undefined>): void {
    // Queued after `attach`, so the worker knows the session first.
    void this.#serial(async () => {
      try {
        const snapshot = await call(this.configuration.identifier);
        if (snapshot) {
          this.#apply(snapshot.tasks);
          await this.#carryOut(snapshot.orders);
        }
      } catch (error) {
        task.complete({ name: (error as Error).name, message: (error as Error).message });
        this.#tasks.delete(task.taskIdentifier);
        await this.#tell('didCompleteWithError', task, task.error);
      }
    });
  }

  #serial<T>(call: () => Promise<T>): Promise<T> {
    const result = this.#calls.then(call);
    this.#calls = result.catch(() => undefined);
    return result;
  }

  /** Takes the worker's records of tasks into the page's task objects. */
  #apply(records: TaskRecord[]): void {
    this.#update(records);
    // A transfer of the streaming engine lives only as long as the worker: while one runs,
    // the page calls the worker now and then, which keeps it alive and revives it if it died.
    const streaming = [...this.#tasks.values()].some((task) => task.state === 'running' && this.#streamed.has(task.taskIdentifier));
    if (streaming && !this.#keepAlive) this.#keepAlive = setInterval(() => void this.#drain(), KEEP_ALIVE_MS);
    if (!streaming && this.#keepAlive) this.#keepAlive = void clearInterval(this.#keepAlive);
  }

  #update(records: TaskRecord[]): void {
    for (const record of records) {
      let task = this.#tasks.get(record.taskIdentifier);
      if (!task) {
        const { url, method, headers } = record.originalRequest;
        task = new URLSessionDownloadTask(this.#owner, record.taskIdentifier, new Request(url, { method, headers }));
        this.#tasks.set(task.taskIdentifier, task);
      }
      task.update(record);
      if (record.state === 'running') this.#live.add(record.taskIdentifier);
      if (record.engine === 'stream') this.#streamed.add(record.taskIdentifier);
      else this.#streamed.delete(record.taskIdentifier);
      if (record.state === 'running' && record.engine === 'background-fetch' && record.engineId) {
        void this.#watch(record.taskIdentifier, record.engineId, undefined, record.receivedAtStart);
      }
    }
  }

  /** Starts the Background Fetches the worker ordered (browsers let only pages start them). */
  async #carryOut(orders: FetchOrder[]): Promise<void> {
    for (const { taskIdentifier, engineId, request, requests, received, options } of orders) {
      const manager = (await navigator.serviceWorker.ready).backgroundFetch!;
      try {
        // One request, or the file's byte ranges (a restart then costs only the ranges in flight).
        const all = (requests ?? [request]).map((each) => new Request(each.url, each));
        const registration = await manager.fetch(engineId, all, options);
        void this.#watch(taskIdentifier, engineId, registration, received);
      } catch (error) {
        // Another page of the app may have started the same order already.
        if (await manager.get(engineId)) continue;
        await callWorker('fail', this.configuration.identifier, taskIdentifier, engineId, serializeError(error));
      }
    }
  }

  /**
   * Reports a Background Fetch's progress as `didWriteData` while this page is open. The
   * registration fetches what is not stored yet: its bytes count from `received` on.
   */
  async #watch(taskIdentifier: number, engineId: string, started?: BackgroundFetchRegistration, received = 0): Promise<void> {
    if (this.#watched.has(engineId)) return;
    const registration = started ?? (await (await navigator.serviceWorker.ready).backgroundFetch?.get(engineId));
    if (!registration || this.#watched.has(engineId)) return;
    this.#watched.add(engineId);
    registration.addEventListener('progress', () => {
      const total = registration.downloadTotal ? received + registration.downloadTotal : -1;
      this.#progress(taskIdentifier, received + registration.downloaded, total);
    });
  }

  #progress(taskIdentifier: number, received: number, expected: number): void {
    const task = this.#tasks.get(taskIdentifier);
    if (!task || task.state !== 'running' || received <= task.countOfBytesReceived) return;
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
    const locks = navigator.locks;
    const run = async () => {
      do {
        this.#drainAgain = false;
        const snapshot = await callWorker('snapshot', this.configuration.identifier);
        await this.#deliverAll(snapshot);
      } while (this.#drainAgain);
    };
    const name = `bgdl:${this.configuration.identifier}`;
    this.#draining = (locks ? locks.request(name, run) : run()).finally(() => (this.#draining = undefined));
    return this.#draining;
  }

  async #deliverAll({ tasks, events }: SessionSnapshot): Promise<void> {
    this.#apply(tasks);
    for (const event of events) {
      await this.#deliver(event);
      this.#delivered++;
    }
    const busy = [...this.#tasks.values()].some((task) => task.state === 'running' || task.state === 'canceling');
    if (this.#delivered > 0 && !busy) {
      this.#delivered = 0;
      await this.#tell('didFinishEvents');
    }
  }

  async #deliver(event: EventRecord): Promise<void> {
    const id = this.configuration.identifier;
    const task = this.#tasks.get(event.taskIdentifier);
    if (task && event.type === 'didFinishDownloadingTo') {
      if (this.#live.has(task.taskIdentifier) && task.countOfBytesReceived < event.size) {
        this.#progress(task.taskIdentifier, event.size, event.size);
      }
      const type = task.response?.mimeType ?? '';
      const location = new DownloadLocation(id, task.taskIdentifier, event.parts, event.size, type);
      await this.#tell('didFinishDownloadingTo', task, location);
      location.close();
      await callWorker('acknowledge', id, event.seq);
      await location.delete();
      return;
    }
    if (task && event.type === 'didCompleteWithError') {
      task.complete(event.error);
      await this.#tell('didCompleteWithError', task, task.error);
      this.#tasks.delete(task.taskIdentifier);
      this.#live.delete(task.taskIdentifier);
    }
    await callWorker('acknowledge', id, event.seq);
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

/** How often a page calls the worker while the streaming engine runs one of its tasks. */
const KEEP_ALIVE_MS = 5000;

/** A random identifier unique among the session's tasks (tabs create tasks independently). */
function newTaskIdentifier(tasks: Map<number, unknown>): number {
  for (;;) {
    const [high, low] = crypto.getRandomValues(new Uint32Array(2));
    const id = (high! & 0xffff) * 2 ** 32 + low!;
    if (id > 0 && !tasks.has(id)) return id;
  }
}
