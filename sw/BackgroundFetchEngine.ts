import { URLError, type URLErrorCode } from '../common/errors.js';
import type { FetchOrder } from '../common/protocol.js';
import { PART_SIZE, type ConfigurationRecord, type RequestRecord, type TaskRecord } from '../common/schema.js';
import { completeTask } from './completion.js';
import { getDatabase, updateRateLimiter } from './database.js';
import type { Engine } from './engine.js';
import { isAppVisible } from './conditions.js';
import { isRetryableStatus, parseContentRange, parseRange, rangesFrom, rangesOf, validatorOf } from './http.js';
import { openApp } from './launch.js';
import { mapBounded } from './bounded.js';
import { deleteParts, putPart } from './parts.js';
import { isQuotaError, storageFull } from './quota.js';
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

/** How many `HEAD`s a registration of many tasks sends at a time (HTTP/1.1's per-host limit). */
const PROBES_AT_ONCE = 6;

/**
 * How often, while the worker lives (a page of the app is open), the finished ranges of a
 * running registration are stored: what is stored is not lost to a suspend, and is not left
 * to copy after the last byte.
 */
const FOLLOW_MS = 1000;

/** How long a record's response is waited for before its request is taken as not finished. */
const FINISHED_WAIT_MS = 50;

/** How many tasks of an ended registration are stored at a time. */
const ENDS_AT_ONCE = 8;

const reasons: Record<BackgroundFetchFailureReason, [URLErrorCode, string]> = {
  '': ['unknown', 'The background fetch failed'],
  aborted: ['cancelled', 'The download was cancelled'],
  'bad-status': ['badServerResponse', 'The server answered with an error status'],
  'fetch-error': ['networkConnectionLost', 'The download failed (network error or browser restart)'],
  'quota-exceeded': ['cannotWriteToFile', 'The browser has no storage left for the download'],
  'download-total-exceeded': ['dataLengthExceedsMaximum', 'The response is larger than countOfBytesClientExpectsToReceive'],
};

/**
 * The engine for browsers with Background Fetch: one registration per transfer, which carries
 * every task resumed together (each ends with its own records, whatever the others did). The browser
 * carries the transfer even with every page closed and the worker stopped; the worker is
 * woken for the end, moves the file into the library's store, then lets the registration go.
 * Only a page may start a Background Fetch, so the worker hands out orders (`FetchOrder`).
 *
 * A file larger than a part, whose server serves ranges and names its version (a `HEAD` tells),
 * is fetched as several requests of `Range: bytes=a-b`, half a part each, from the
 * first part not stored yet. Each response is checked (206, the range asked, the version the
 * `HEAD` named, every byte) and stored as a part. While a page keeps the worker alive, the
 * ranges that came whole are stored as the registration runs (so a suspend keeps them, and
 * little is left to store after the last byte). When the registration fails in a way worth
 * another try (a browser restart, a 5xx), the leading ranges that came whole are stored and
 * the streaming engine resumes after them. (`If-Range` cannot go with the requests: Chromium drops
 * it from a same-origin request and fails a cross-origin one that carries it.)
 */
export class BackgroundFetchEngine implements Engine {
  readonly name = 'background-fetch';
  /** Registrations whose end event is being handled by this worker right now. */
  readonly #ending = new Set<string>();
  /** Registrations whose finished ranges are stored as they run: the store under way. */
  readonly #following = new Map<string, Promise<void>>();
  #retry: ((task: TaskRecord) => Promise<void>) | undefined;

  constructor(private readonly manager: BackgroundFetchManager) {
    self.addEventListener('backgroundfetchsuccess', (event) => event.waitUntil(this.#end(event, true)));
    self.addEventListener('backgroundfetchfail', (event) => event.waitUntil(this.#end(event, false)));
    self.addEventListener('backgroundfetchabort', (event) => event.waitUntil(this.#end(event, false)));
    self.addEventListener('backgroundfetchclick', (event) => event.waitUntil(this.#click(event)));
  }

  /** A page starts the fetch (browsers refuse it in a worker): this returns its order. */
  start(task: TaskRecord, configuration: ConfigurationRecord | undefined): Promise<FetchOrder | void> {
    return this.startMany([task], configuration);
  }

  /**
   * One registration for tasks resumed together (sharing `transferId`): every task's requests,
   * in the order the tasks were resumed. Chromium runs one registration at a time and the first
   * after a launch starts late, so many tasks in one cost that wait once.
   */
  async startMany(tasks: TaskRecord[], configuration: ConfigurationRecord | undefined): Promise<FetchOrder | void> {
    const plans = await mapBounded(tasks, PROBES_AT_ONCE, plan);
    const order: FetchOrder = { transferId: tasks[0]!.transferId!, tasks: [], requests: [], body: null, options: { title: '' } };
    let total: number | undefined = 0;
    tasks.forEach((task, index) => {
      const planned = plans[index];
      if (!planned) return;
      order.tasks.push({ taskIdentifier: task.taskIdentifier, received: planned.received });
      order.requests.push(...planned.requests);
      total = total === undefined || planned.total === undefined ? undefined : total + planned.total;
    });
    if (order.tasks.length === 0) return;
    const first = tasks.find((task) => task.taskIdentifier === order.tasks[0]!.taskIdentifier)!;
    const { url } = first.originalRequest;
    const title = order.tasks.length > 1 ? `${order.tasks.length} downloads` : first.taskDescription || new URL(url).pathname.split('/').pop() || url;
    order.options.title = configuration?.title || title;
    if (configuration?.icon) order.options.icons = [{ src: configuration.icon }];
    if (total) order.options.downloadTotal = total;
    if (first.body) {
      order.body = first.body;
      order.options.uploadTotal = first.body.size;
    }
    return order;
  }

  /**
   * Alive: under way, being ended here, or ordered so recently that a page may be starting it.
   * One under way has its finished ranges stored from now on, while this worker lives.
   */
  async isAlive(task: TaskRecord): Promise<boolean> {
    if (this.#ending.has(task.transferId!)) return true;
    const registration = await this.manager.get(task.transferId!);
    if (registration) this.#follow(registration);
    return registration !== undefined || Date.now() - task.startedAt < ORDER_GRACE_MS;
  }

  /**
   * Keeps the bytes a registration received (its ranges finished; a request in flight keeps
   * nothing): the task is then stopped by the caller, which aborts the registration.
   */
  async suspend(task: TaskRecord): Promise<void> {
    const registration = await this.manager.get(task.transferId!);
    if (!registration) return;
    await this.#following.get(registration.id);
    await this.#storeFinished(registration).catch(() => undefined);
  }

  /** Stores a running registration's finished ranges every FOLLOW_MS, until it ends. */
  #follow(registration: BackgroundFetchRegistration): void {
    const { id } = registration;
    if (this.#following.has(id)) return;
    const step = async (): Promise<void> => {
      if (this.#ending.has(id) || registration.result !== '') return void this.#following.delete(id);
      try {
        await this.#storeFinished(registration);
      } catch {
        return void this.#following.delete(id); // its records went (it ended)
      }
      setTimeout(() => {
        if (this.#following.has(id)) this.#following.set(id, step());
      }, FOLLOW_MS);
    };
    this.#following.set(id, step());
  }

  /** Stores, for each running task of the registration fetched in ranges, the leading ranges that came whole. */
  async #storeFinished(registration: BackgroundFetchRegistration): Promise<void> {
    const carried = await (await getDatabase()).getAllFromIndex('tasks', 'byTransfer', registration.id);
    // `plan` keeps a validator only for a task fetched in ranges.
    const tasks = carried.filter((task) => task.state === 'running' && task.validator !== null);
    if (tasks.length === 0) return;
    const byTask = recordsByTask(tasks, await registration.matchAll());
    for (const [index, task] of tasks.entries()) await storeLeading(task, byTask[index]!, FINISHED_WAIT_MS);
  }

  /** Who takes over a transfer that failed in a way worth another try. */
  onRetryable(retry: (task: TaskRecord) => Promise<void>): void {
    this.#retry = retry;
  }

  /** Aborts the registration, unless it carries other running tasks: then only this task ends. */
  async cancel(task: TaskRecord): Promise<void> {
    const carried = await (await getDatabase()).getAllFromIndex('tasks', 'byTransfer', task.transferId!);
    const shared = carried.some((other) => other.taskIdentifier !== task.taskIdentifier && other.state === 'running');
    const registration = shared ? undefined : await this.manager.get(task.transferId!);
    if (!(await registration?.abort())) {
      await completeTask(task.sessionId, task.taskIdentifier, task.transferId, {
        error: new URLError('cancelled', 'The download was cancelled'),
      });
    }
  }

  /** A click on the browser's download UI brings the user back, if the session says so. */
  async #click(event: BackgroundFetchEvent): Promise<void> {
    const db = await getDatabase();
    const task = await db.getFromIndex('tasks', 'byTransfer', event.registration.id);
    const configuration = task && (await db.get('sessions', task.sessionId));
    if (configuration?.sessionSendsLaunchEvents !== false) await openApp(configuration?.launchURL);
  }

  async #end(event: BackgroundFetchEvent, success: boolean): Promise<void> {
    const { registration } = event;
    this.#ending.add(registration.id);
    try {
      // A store of its finished ranges under way ends first: the records are read after it.
      await this.#following.get(registration.id)?.catch(() => undefined);
      this.#following.delete(registration.id);
      // The browser woke the app for this: with no page visible, the rate limiter counts it.
      if (!(await isAppVisible())) await updateRateLimiter((state) => afterWake(state, Date.now()));
      const tasks = await (await getDatabase()).getAllFromIndex('tasks', 'byTransfer', registration.id);
      if (tasks.length === 0) return;
      const byTask = recordsByTask(tasks, await registration.matchAll());
      // Each task ends with its own records: one that failed does not fail the others.
      await mapBounded(tasks, ENDS_AT_ONCE, async (task, index) => {
        try {
          const records = byTask[index]!;
          // A registration's success or failure is its one task's; with several, a failure
          // (a status, an unfinished request) may be another task's.
          const shared = !success && tasks.length > 1 && /^(bad-status|fetch-error)$/.test(registration.failureReason);
          const own = shared ? await reasonOf(records, requestsOf(task).length, registration.failureReason) : { reason: registration.failureReason, ok: success };
          await this.#endTask(task, records, own.ok, own.reason, success);
        } catch (error) {
          if (isQuotaError(error)) await failForQuota(task, error);
          else throw error;
        }
      });
    } finally {
      this.#ending.delete(registration.id);
    }
  }

  /**
   * Ends one task of a registration, from its own records, whether they all came, and why not
   * (`whole`: the registration as a whole succeeded).
   */
  async #endTask(task: TaskRecord, records: BackgroundFetchRecord[], success: boolean, reason: BackgroundFetchFailureReason, whole: boolean): Promise<void> {
    // `plan` keeps a validator only for a task fetched in ranges.
    if (task.validator !== null) return this.#endRanged(task, records, success, reason);
    const response = await records[0]?.responseReady.catch(() => undefined);
    const { sessionId, taskIdentifier, transferId } = task;
    if (success && response && task.kind === 'upload') {
      await completeTask(sessionId, taskIdentifier, transferId, { response: responseRecord(response, task.originalRequest.url), size: 0, parts: 0 });
      return;
    }
    // Chromium hands a record's body over as a disk-backed Blob: no copy into memory.
    const body = success && response ? await response.blob() : undefined;
    // In a registration that failed, a response of this task may have been cut off.
    const length = whole || response?.headers.has('Content-Encoding') ? null : response?.headers.get('Content-Length');
    if (body && response && (length === null || length === undefined || Number(length) === body.size)) {
      await putPart(sessionId, taskIdentifier, 0, body);
      await completeTask(sessionId, taskIdentifier, transferId, { response: responseRecord(response, task.originalRequest.url), size: body.size, parts: 1 });
    } else if (this.#retry && task.state === 'running' && isWorthRetrying(body ? 'fetch-error' : reason, response?.status)) {
      await this.#retry(task);
    } else {
      await fail(task, reason, response?.status);
    }
  }

  /**
   * The end of a registration of byte ranges: stores the leading parts whose ranges all came
   * whole, then completes the task, or has the streaming engine fetch the rest.
   */
  async #endRanged(task: TaskRecord, records: BackgroundFetchRecord[], success: boolean, reason: BackgroundFetchFailureReason): Promise<void> {
    const status = success ? undefined : await failedStatus(records);
    const retry = !success && this.#retry !== undefined && task.state === 'running' && isRangedRetry(reason, status);
    if (!success && !retry) return fail(task, reason, status);
    const size = task.countOfBytesExpectedToReceive;
    const stored = await storeLeading(task, records);
    if (!stored) return;
    const { received, parts } = stored;
    if (received >= size) {
      await completeTask(task.sessionId, task.taskIdentifier, task.transferId, { response: task.response!, size, parts });
    } else if (this.#retry && task.state === 'running') {
      // A restart, a 5xx, or ranges that did not come whole (the file changed, the server
      // ignored Range): the streaming engine resumes after the parts stored, with If-Range.
      await this.#retry((await (await getDatabase()).get('tasks', [task.sessionId, task.taskIdentifier])) ?? task);
    } else {
      await fail(task, reason, status);
    }
  }
}

/**
 * What a registration fetches for a task: its request, or the byte ranges of its file not
 * stored yet; with the bytes stored before and the bytes it may take (if known). Nothing if
 * the task is no longer this transfer's, or its file is stored whole already.
 */
async function plan(task: TaskRecord): Promise<{ requests: RequestRecord[]; received: number; total?: number } | undefined> {
  const file = await probe(task);
  if (!file) {
    // One request for the whole file: what is stored of it is of no use to this registration.
    if (task.parts > 0) await deleteParts(task.sessionId, task.taskIdentifier);
    if (!(await saveTransfer(task, { parts: 0, validator: null, countOfBytesReceived: 0, receivedAtStart: 0 }))) return;
    const limit = task.countOfBytesClientExpectsToReceive;
    return { requests: [task.originalRequest], received: 0, ...(limit > 0 ? { total: limit } : {}) };
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
    await completeTask(task.sessionId, task.taskIdentifier, task.transferId, { response, size, parts: kept });
    return;
  }
  const requests = rangesFrom(received, size, REQUEST_SIZE).map(({ first, last }) => rangeRequest(task.originalRequest, first, last));
  // Bounds the bytes a server that ignores Range (a whole file per request) could waste.
  return { requests, received, total: size - received };
}

/** What a task's part of a registration asks: its request, or its ranges (from the parts stored). */
function requestsOf(task: TaskRecord): RequestRecord[] {
  // `plan` keeps a validator only for a task fetched in ranges.
  if (task.validator === null) return [task.originalRequest];
  return rangesFrom(task.countOfBytesReceived, task.countOfBytesExpectedToReceive, REQUEST_SIZE).map(({ first, last }) =>
    rangeRequest(task.originalRequest, first, last),
  );
}

/** A request's identity within a registration: method, URL and range. */
function requestKey(method: string, url: string, range: string | null | undefined): string {
  return `${method} ${url} ${range ?? ''}`;
}

/**
 * Each task's records: the ones whose requests it asked. Two tasks that asked the very same
 * request take its records in turn.
 */
function recordsByTask(tasks: TaskRecord[], records: readonly BackgroundFetchRecord[]): BackgroundFetchRecord[][] {
  const pool = new Map<string, BackgroundFetchRecord[]>();
  for (const record of records) {
    const key = requestKey(record.request.method, record.request.url, record.request.headers.get('Range'));
    pool.set(key, [...(pool.get(key) ?? []), record]);
  }
  return tasks.map((task) =>
    requestsOf(task).flatMap(({ method, url, headers }) => {
      const range = headers.find(([name]) => name.toLowerCase() === 'range')?.[1];
      const record = pool.get(requestKey(method, url, range))?.shift();
      return record ? [record] : [];
    }),
  );
}

/**
 * Why a task of a failed registration failed, from its own records: an error status of its
 * own, else a request of its own that did not finish (`fetch-error`, whatever another task's
 * status was), else the registration's reason.
 */
async function reasonOf(records: BackgroundFetchRecord[], expected: number, reason: BackgroundFetchFailureReason): Promise<{ reason: BackgroundFetchFailureReason; ok: boolean }> {
  let finished = 0;
  for (const record of records) {
    const response = await record.responseReady.catch(() => undefined);
    if (response && !response.ok) return { reason: 'bad-status', ok: false };
    if (response) finished++;
  }
  if (finished === expected && records.length === expected) return { reason, ok: true };
  return { reason: reason === 'bad-status' ? 'fetch-error' : reason, ok: false };
}

/**
 * Stores, a part each, a task's ranges that came whole, from its bytes kept on, in order; returns
 * the bytes and parts kept then, or undefined if the task is no longer this transfer's. With
 * `wait`, a registration still running: a record not answered within `wait` ms is unfinished.
 */
async function storeLeading(task: TaskRecord, records: BackgroundFetchRecord[], wait?: number): Promise<{ received: number; parts: number } | undefined> {
  const size = task.countOfBytesExpectedToReceive;
  const byFirst = new Map<number, BackgroundFetchRecord>();
  for (const record of records) {
    const range = parseRange(record.request.headers.get('Range'));
    if (range) byFirst.set(range.first, record);
  }
  // The ranges start at the bytes kept when the registration was ordered (parts vary in size):
  // each range that came whole is stored as a part of its own.
  let parts = task.parts;
  let received = task.countOfBytesReceived;
  for (; received < size; parts++) {
    const last = Math.min(size, received + REQUEST_SIZE) - 1;
    const blob = await wholeRange(byFirst.get(received), received, last, size, task.validator!, wait);
    if (!blob) break;
    // The range's Blob is disk-backed: the part is stored without a copy in memory.
    await putPart(task.sessionId, task.taskIdentifier, parts, blob);
    if (!(await saveTransfer(task, { parts: parts + 1, countOfBytesReceived: last + 1 }))) return;
    received = last + 1;
  }
  return { received, parts };
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

/**
 * The body of a record if it is exactly the range asked, of the right version, every byte
 * (with `wait`: if it is answered within `wait` ms, i.e. its request finished).
 */
async function wholeRange(record: BackgroundFetchRecord | undefined, first: number, last: number, size: number, validator: string, wait?: number): Promise<Blob | undefined> {
  const ready = record?.responseReady.catch(() => undefined);
  const response = await (wait === undefined ? ready : Promise.race([ready, new Promise<undefined>((resolve) => setTimeout(resolve, wait))]));
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
async function fail(task: TaskRecord, reason: BackgroundFetchFailureReason, status: number | undefined): Promise<void> {
  const [code, message] = reasons[reason] ?? reasons[''];
  const text = status ? `${message}: HTTP ${status} for ${task.originalRequest.url}` : `${message} (${reason})`;
  const ended = await completeTask(task.sessionId, task.taskIdentifier, task.transferId, { error: new URLError(code, text, status || undefined) });
  // A file that found no room gives back what it took, so that other files keep theirs.
  if (ended && reason === 'quota-exceeded') await deleteParts(task.sessionId, task.taskIdentifier);
}

/** Ends a task whose file found no room: its parts go, so that other files keep theirs. */
async function failForQuota(task: TaskRecord, error: unknown): Promise<void> {
  if (await completeTask(task.sessionId, task.taskIdentifier, task.transferId, { error: storageFull(task.originalRequest.url, error) })) {
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
