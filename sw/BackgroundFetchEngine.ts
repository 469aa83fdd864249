import { URLError, type URLErrorCode } from '../common/errors.js';
import type { FetchOrder } from '../common/protocol.js';
import type { ConfigurationRecord, TaskRecord } from '../common/schema.js';
import { completeTask } from './completion.js';
import { getDatabase, updateRateLimiter } from './database.js';
import type { Engine } from './engine.js';
import { isRetryableStatus } from './http.js';
import { putPart } from './parts.js';
import { isAppVisible } from './conditions.js';
import { openApp } from './launch.js';
import { afterWake } from './rateLimiter.js';
import { responseRecord } from './responseRecord.js';

declare const self: ServiceWorkerGlobalScope;

/** How long a page has to start an ordered fetch before the order is given again. */
const ORDER_GRACE_MS = 30_000;

const reasons: Record<BackgroundFetchFailureReason, [URLErrorCode, string]> = {
  '': ['unknown', 'The background fetch failed'],
  aborted: ['cancelled', 'The download was cancelled'],
  'bad-status': ['badServerResponse', 'The server answered with an error status'],
  'fetch-error': ['networkConnectionLost', 'The download failed (network error or browser restart)'],
  'quota-exceeded': ['cannotWriteToFile', 'The browser has no storage left for the download'],
  'download-total-exceeded': ['dataLengthExceedsMaximum', 'The response is larger than countOfBytesClientExpectsToReceive'],
};

/**
 * The engine for browsers with Background Fetch: one registration per task. The browser
 * carries the transfer even with every page closed and the worker stopped; the worker is
 * woken for the end, moves the file into the library's store, then lets the registration go.
 * Only a page may start a Background Fetch, so the worker hands out orders (`FetchOrder`).
 */
export class BackgroundFetchEngine implements Engine {
  readonly name = 'background-fetch';
  /** Registrations whose end event is being handled by this worker right now. */
  readonly #ending = new Set<string>();
  #retry: ((task: TaskRecord) => Promise<void>) | undefined;

  constructor(private readonly manager: BackgroundFetchManager) {
    self.addEventListener('backgroundfetchsuccess', (event) => event.waitUntil(this.#end(event, true)));
    self.addEventListener('backgroundfetchfail', (event) => event.waitUntil(this.#end(event, false)));
    self.addEventListener('backgroundfetchabort', (event) => event.waitUntil(this.#end(event, false)));
    self.addEventListener('backgroundfetchclick', (event) => event.waitUntil(this.#click(event)));
  }

  /** A page starts the fetch (browsers refuse it in a worker): this returns its order. */
  async start(task: TaskRecord, configuration: ConfigurationRecord | undefined): Promise<FetchOrder> {
    const { url } = task.originalRequest;
    const title = configuration?.title || task.taskDescription || new URL(url).pathname.split('/').pop() || url;
    const order: FetchOrder = { taskIdentifier: task.taskIdentifier, engineId: task.engineId!, request: task.originalRequest, body: task.body, options: { title } };
    if (configuration?.icon) order.options.icons = [{ src: configuration.icon }];
    if (task.countOfBytesClientExpectsToReceive > 0) order.options.downloadTotal = task.countOfBytesClientExpectsToReceive;
    if (task.body) order.options.uploadTotal = task.body.size;
    return order;
  }

  /** Alive: under way, being ended here, or ordered so recently that a page may be starting it. */
  async isAlive(task: TaskRecord): Promise<boolean> {
    if (this.#ending.has(task.engineId!) || Date.now() - task.startedAt < ORDER_GRACE_MS) return true;
    return (await this.manager.get(task.engineId!)) !== undefined;
  }

  /** Who takes over a transfer that failed in a way worth another try. */
  onRetryable(retry: (task: TaskRecord) => Promise<void>): void {
    this.#retry = retry;
  }

  async cancel(task: TaskRecord): Promise<void> {
    const registration = await this.manager.get(task.engineId!);
    if (!(await registration?.abort())) {
      await completeTask(task.sessionId, task.taskIdentifier, task.engineId, {
        error: new URLError('cancelled', 'The download was cancelled'),
      });
    }
  }

  /** A click on the browser's download UI brings the user back, if the session says so. */
  async #click(event: BackgroundFetchEvent): Promise<void> {
    const db = await getDatabase();
    const task = await db.getFromIndex('tasks', 'byEngineId', event.registration.id);
    const configuration = task && (await db.get('sessions', task.sessionId));
    if (configuration?.sessionSendsLaunchEvents !== false) await openApp(configuration?.launchURL);
  }

  async #end(event: BackgroundFetchEvent, success: boolean): Promise<void> {
    const { registration } = event;
    this.#ending.add(registration.id);
    try {
      // The browser woke the app for this: with no page visible, the rate limiter counts it.
      if (!(await isAppVisible())) await updateRateLimiter((state) => afterWake(state, Date.now()));
      const task = await (await getDatabase()).getFromIndex('tasks', 'byEngineId', registration.id);
      if (!task) return;
      const [record] = await registration.matchAll();
      const response = await record?.responseReady.catch(() => undefined);
      const { sessionId, taskIdentifier, engineId } = task;
      if (success && response && task.kind === 'upload') {
        await completeTask(sessionId, taskIdentifier, engineId, { response: responseRecord(response, task.originalRequest.url), size: 0, parts: 0 });
      } else if (success && response) {
        const meta = responseRecord(response, task.originalRequest.url);
        // Chromium hands a record's body over as a disk-backed Blob: no copy into memory.
        const body = await response.blob();
        await putPart(sessionId, taskIdentifier, 0, body);
        await completeTask(sessionId, taskIdentifier, engineId, { response: meta, size: body.size, parts: 1 });
      } else if (this.#retry && task.state === 'running' && isWorthRetrying(registration.failureReason, response?.status)) {
        await this.#retry(task);
      } else {
        const reason = registration.failureReason;
        const [code, message] = reasons[reason] ?? reasons[''];
        const status = response?.status || undefined;
        const text = status ? `${message}: HTTP ${status} for ${task.originalRequest.url}` : `${message} (${reason})`;
        await completeTask(sessionId, taskIdentifier, engineId, { error: new URLError(code, text, status) });
      }
    } finally {
      this.#ending.delete(registration.id);
    }
  }
}

/** A browser restart (`fetch-error`) or a status worth another try. */
function isWorthRetrying(reason: BackgroundFetchFailureReason, status: number | undefined): boolean {
  return reason === 'fetch-error' || (reason === 'bad-status' && status !== undefined && isRetryableStatus(status));
}
