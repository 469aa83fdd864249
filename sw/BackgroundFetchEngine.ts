import { URLError, type URLErrorCode } from '../common/errors.js';
import type { FetchOrder } from '../common/protocol.js';
import { PART_SIZE, type ConfigurationRecord, type RequestRecord, type TaskRecord } from '../common/schema.js';
import { completeTask } from './completion.js';
import { getDatabase, updateRateLimiter } from './database.js';
import type { Engine } from './engine.js';
import { isAppVisible } from './conditions.js';
import { isRetryableStatus, parseContentRange, parseRange, rangesFrom, rangesOf, validatorOf } from './http.js';
import { openApp } from './launch.js';
import { deleteParts, putPart } from './parts.js';
import { saveTransfer } from './progress.js';
import { afterWake } from './rateLimiter.js';
import { responseRecord } from './responseRecord.js';

declare const self: ServiceWorkerGlobalScope;

/** How long a page has to start an ordered fetch before the order is given again. */
const ORDER_GRACE_MS = 30_000;

/**
 * The bytes of one request of a ranged registration: half a part. Chromium runs a
 * registration's requests two at a time and keeps nothing of a request in flight when the
 * browser stops, so a restart costs at most the two requests in flight: one part's worth.
 */
const REQUEST_SIZE = PART_SIZE / 2;

/** How long `start` waits for the answer to its `HEAD` before it orders the file as one request. */
const PROBE_TIMEOUT_MS = 10_000;

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
 *
 * A file larger than a part, whose server serves ranges and names its version (a `HEAD` tells),
 * is fetched as several requests of `Range: bytes=a-b`, half a part each, from the
 * first part not stored yet. Each response is checked (206, the range asked, the version the
 * `HEAD` named, every byte) and stored as parts. When the registration fails in a way worth
 * another try (a browser restart, a 5xx), the leading parts that came whole are stored and the
 * streaming engine resumes after them. (`If-Range` cannot go with the requests: Chromium drops
 * it from a same-origin request and fails a cross-origin one that carries it.)
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
  async start(task: TaskRecord, configuration: ConfigurationRecord | undefined): Promise<FetchOrder | void> {
    const { url } = task.originalRequest;
    const title = configuration?.title || task.taskDescription || new URL(url).pathname.split('/').pop() || url;
    const order: FetchOrder = { taskIdentifier: task.taskIdentifier, engineId: task.engineId!, request: task.originalRequest, body: task.body, options: { title } };
    if (configuration?.icon) order.options.icons = [{ src: configuration.icon }];
    const file = await probe(task);
    if (!file) {
      // One request for the whole file: what is stored of it is of no use to this registration.
      if (task.parts > 0) await deleteParts(task.sessionId, task.taskIdentifier);
      await saveTransfer(task, { parts: 0, validator: null, countOfBytesReceived: 0, receivedAtStart: 0 });
      if (task.countOfBytesClientExpectsToReceive > 0) order.options.downloadTotal = task.countOfBytesClientExpectsToReceive;
      if (task.body) order.options.uploadTotal = task.body.size;
      return order;
    }
    const { size, validator, response } = file;
    // The parts stored are of this version of the file, or are dropped.
    const kept = task.validator === validator && task.countOfBytesExpectedToReceive === size ? task.parts : 0;
    if (kept === 0 && task.parts > 0) await deleteParts(task.sessionId, task.taskIdentifier);
    const received = kept > 0 ? task.countOfBytesReceived : 0;
    const saved = await saveTransfer(task, {
      parts: kept,
      validator,
      response,
      countOfBytesReceived: received,
      receivedAtStart: received,
      countOfBytesExpectedToReceive: size,
    });
    if (!saved) return;
    if (received >= size) {
      // Every part is stored already (the last transfer stopped before it could say so).
      await completeTask(task.sessionId, task.taskIdentifier, task.engineId, { response, size, parts: kept });
      return;
    }
    order.requests = rangesFrom(received, size, REQUEST_SIZE).map(({ first, last }) => rangeRequest(task.originalRequest, first, last));
    order.received = received;
    // Bounds the bytes a server that ignores Range (a whole file per request) could waste.
    order.options.downloadTotal = size - received;
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
      const records = await registration.matchAll();
      // `start` keeps a validator only for a registration of ranges.
      if (task.validator !== null) return await this.#endRanged(task, registration, records, success);
      const response = await records[0]?.responseReady.catch(() => undefined);
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
        await fail(task, registration, response?.status);
      }
    } catch (error) {
      const task = await (await getDatabase()).getFromIndex('tasks', 'byEngineId', registration.id);
      if (task && isQuotaError(error)) await failForQuota(task, error);
      else throw error;
    } finally {
      this.#ending.delete(registration.id);
    }
  }

  /**
   * The end of a registration of byte ranges: stores the leading parts whose ranges all came
   * whole, then completes the task, or has the streaming engine fetch the rest.
   */
  async #endRanged(task: TaskRecord, registration: BackgroundFetchRegistration, records: BackgroundFetchRecord[], success: boolean): Promise<void> {
    const reason = registration.failureReason;
    const status = success ? undefined : await failedStatus(records);
    const retry = !success && this.#retry !== undefined && task.state === 'running' && isRangedRetry(reason, status);
    if (!success && !retry) return fail(task, registration, status);
    const size = task.countOfBytesExpectedToReceive;
    const byFirst = new Map<number, BackgroundFetchRecord>();
    for (const record of records) {
      const range = parseRange(record.request.headers.get('Range'));
      if (range) byFirst.set(range.first, record);
    }
    // The ranges start at the bytes kept when the registration was ordered (parts vary in size).
    let parts = task.parts;
    let received = task.countOfBytesReceived;
    for (; received < size; parts++) {
      const end = Math.min(size, received + PART_SIZE);
      const blobs: Blob[] = [];
      for (const { first, last } of rangesFrom(received, end, REQUEST_SIZE)) {
        const blob = await wholeRange(byFirst.get(first), first, last, size, task.validator!);
        if (blob) blobs.push(blob);
      }
      if (blobs.reduce((sum, blob) => sum + blob.size, 0) !== end - received) break;
      // The ranges' Blobs are disk-backed: the part is joined and stored without a copy in memory.
      await putPart(task.sessionId, task.taskIdentifier, parts, new Blob(blobs));
      if (!(await saveTransfer(task, { parts: parts + 1, countOfBytesReceived: end }))) return;
      received = end;
    }
    if (received >= size) {
      await completeTask(task.sessionId, task.taskIdentifier, task.engineId, { response: task.response!, size, parts });
    } else if (this.#retry && task.state === 'running') {
      // A restart, a 5xx, or ranges that did not come whole (the file changed, the server
      // ignored Range): the streaming engine resumes after the parts stored, with If-Range.
      await this.#retry((await (await getDatabase()).get('tasks', [task.sessionId, task.taskIdentifier])) ?? task);
    } else {
      await fail(task, registration, status);
    }
  }
}

/** A `GET` of the file's bytes `first` to `last`. */
function rangeRequest(request: RequestRecord, first: number, last: number): RequestRecord {
  return { ...request, headers: [...request.headers, ['Range', `bytes=${first}-${last}`]] };
}

/**
 * What a `HEAD` says of the file: its size, version and response, if it can be fetched in
 * ranges (a `GET` larger than a part, from a server that serves ranges and names versions).
 */
async function probe(task: TaskRecord) {
  const { url, method, headers } = task.originalRequest;
  if (method !== 'GET' || headers.some(([name]) => /^(range|if-range)$/i.test(name))) return undefined;
  let response: Response;
  try {
    response = await fetch(url, { method: 'HEAD', headers, cache: 'no-store', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  } catch {
    return undefined; // the registration will tell what is wrong, as it did before
  }
  const file = rangesOf(response);
  if (!file || file.size <= PART_SIZE) return undefined;
  // A file over the client's limit goes as one request, which fails as such (`download-total-exceeded`).
  const limit = task.countOfBytesClientExpectsToReceive;
  if (limit > 0 && file.size > limit) return undefined;
  return { ...file, response: { ...responseRecord(response, url), status: 200 } };
}

/** The body of a record if it is exactly the range asked, of the right version, every byte. */
async function wholeRange(record: BackgroundFetchRecord | undefined, first: number, last: number, size: number, validator: string): Promise<Blob | undefined> {
  const response = await record?.responseReady.catch(() => undefined);
  if (response?.status !== 206 || validatorOf(response.headers) !== validator) return undefined;
  const range = parseContentRange(response.headers.get('Content-Range'));
  if (range?.first !== first || range.last !== last || range.complete !== size) return undefined;
  const body = await response.blob().catch(() => undefined);
  return body?.size === last - first + 1 ? body : undefined;
}

/** The status of the first record that came back with an error status, if any. */
async function failedStatus(records: BackgroundFetchRecord[]): Promise<number | undefined> {
  for (const record of records) {
    const response = await record.responseReady.catch(() => undefined);
    if (response && !response.ok) return response.status;
  }
  return undefined;
}

/** Ends a task with the registration's failure, named. */
async function fail(task: TaskRecord, registration: BackgroundFetchRegistration, status: number | undefined): Promise<void> {
  const reason = registration.failureReason;
  const [code, message] = reasons[reason] ?? reasons[''];
  const text = status ? `${message}: HTTP ${status} for ${task.originalRequest.url}` : `${message} (${reason})`;
  const ended = await completeTask(task.sessionId, task.taskIdentifier, task.engineId, { error: new URLError(code, text, status || undefined) });
  // A file that found no room gives back what it took, so that other files keep theirs.
  if (ended && reason === 'quota-exceeded') await deleteParts(task.sessionId, task.taskIdentifier);
}

function isQuotaError(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'QuotaExceededError';
}

/** Ends a task whose file found no room: its parts go, so that other files keep theirs. */
async function failForQuota(task: TaskRecord, error: unknown): Promise<void> {
  const text = `No storage left for the download of ${task.originalRequest.url}: ${(error as Error).message}`;
  if (await completeTask(task.sessionId, task.taskIdentifier, task.engineId, { error: new URLError('cannotWriteToFile', text) })) {
    await deleteParts(task.sessionId, task.taskIdentifier);
  }
}

/**
 * Failures of a ranged registration worth another try: those of `isWorthRetrying`, a 416
 * (the file changed), and more bytes than the ranges hold (a server that ignored Range).
 */
function isRangedRetry(reason: BackgroundFetchFailureReason, status: number | undefined): boolean {
  return isWorthRetrying(reason, status) || reason === 'download-total-exceeded' || (reason === 'bad-status' && status === 416);
}

/** A browser restart (`fetch-error`) or a status worth another try. */
function isWorthRetrying(reason: BackgroundFetchFailureReason, status: number | undefined): boolean {
  return reason === 'fetch-error' || (reason === 'bad-status' && status !== undefined && isRetryableStatus(status));
}
