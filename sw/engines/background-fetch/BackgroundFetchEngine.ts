import { requestOf } from '../../currentRequest.js';
import { URLError, type URLErrorCode } from '../../../common/errors.js';
import type { FetchOrder } from '../../../common/protocol.js';
import type { ConfigurationRecord, TaskRecord } from '../../../common/schema.js';
import { corsBlocked, refusedByCors } from '../../cors.js';
import { isRetryableStatus, isUnauthorized, isWholeBody } from '../../http.js';
import { openApp } from '../../launch.js';
import { mapBounded } from '../../bounded.js';
import { deleteParts, putPart } from '../../store/parts.js';
import { isQuotaError, storageFull } from '../../quota.js';
import { responseRecord } from '../../responseRecord.js';
import { requestTimeoutMs, type Engine, type TransferSink } from '../Engine.js';
import { Stall } from './Stall.js';
import { failedStatus, FINISHED_WAIT_MS, plan, PROBES_AT_ONCE, reasonOf, recordsByTask, storeLeading } from './ranges.js';
import { orderTitle, requestsOf } from './requests.js';
import { registrationTransaction } from './transaction.js';

declare const self: ServiceWorkerGlobalScope;

/** How long a page has to start an ordered fetch before the order is given again. */
const ORDER_GRACE_MS = 30_000;

/**
 * How often, while the worker lives (a page of the app is open), the finished ranges of a
 * running registration are stored: what is stored is not lost to a suspend, and is not left
 * to copy after the last byte.
 */
const FOLLOW_MS = 1000;

/** How long the end of a registration waits for a store of its finished ranges under way. */
const END_WAIT_MS = 5000;

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
  /**
   * Transfers being planned here (their `HEAD`s may take a while), then when their order was
   * handed out: a page starts it from then on.
   */
  readonly #ordered = new Map<string, number>();
  /** Registrations whose finished ranges are stored as they run: the store under way. */
  readonly #following = new Map<string, Promise<void>>();
  readonly carriesMany = true;
  /** The browser's events about registrations: their ends, and clicks on their UI. */
  readonly handlers = {
    backgroundfetchsuccess: (event: ExtendableEvent) => this.#end(event as BackgroundFetchEvent, true),
    backgroundfetchfail: (event: ExtendableEvent) => this.#end(event as BackgroundFetchEvent, false),
    backgroundfetchabort: (event: ExtendableEvent) => this.#end(event as BackgroundFetchEvent, false),
    backgroundfetchclick: (event: ExtendableEvent) => this.#click(event as BackgroundFetchEvent),
  };

  constructor(
    private readonly manager: BackgroundFetchManager,
    private readonly sink: TransferSink,
  ) {}

  /**
   * One registration for tasks resumed together (sharing `transferId`): every task's requests,
   * in the order the tasks were resumed. Chromium runs one registration at a time and the first
   * after a launch starts late, so many tasks in one cost that wait once.
   */
  async start(tasks: TaskRecord[], configuration: ConfigurationRecord | undefined): Promise<FetchOrder | void> {
    // Probes count as connections to the host: no more at a time than the session allows.
    const probes = Math.min(PROBES_AT_ONCE, configuration?.httpMaximumConnectionsPerHost ?? PROBES_AT_ONCE);
    const { transferId } = tasks[0]!;
    this.#ordered.set(transferId!, Infinity);
    const plans = await mapBounded(tasks, probes, (task) => plan(this.sink, task, tasks.length === 1)).finally(() =>
      this.#ordered.set(transferId!, Date.now()),
    );
    const order: FetchOrder = { transferId: transferId!, tasks: [], requests: [], body: null, options: { title: '' } };
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
    const title = order.tasks.length > 1 ? `${order.tasks.length} downloads` : orderTitle(first);
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
   * Alive: under way, being ended here, being planned here, or ordered so recently that a page
   * may be starting it (from the order's hand-out, or, in another worker, the task's start).
   * One under way has its finished ranges stored from now on, while this worker lives.
   */
  async isAlive(task: TaskRecord): Promise<boolean> {
    if (this.#ending.has(task.transferId!)) return true;
    const registration = await this.manager.get(task.transferId!);
    if (registration) {
      this.#ordered.delete(registration.id);
      this.#follow(registration);
    }
    const ordered = this.#ordered.get(task.transferId!) ?? task.startedAt;
    return registration !== undefined || Date.now() - ordered < ORDER_GRACE_MS;
  }

  /**
   * Keeps the bytes a registration received (its ranges finished; a request in flight keeps
   * nothing): the task is then stopped by the caller, which aborts the registration.
   */
  async suspend(task: TaskRecord): Promise<void> {
    const registration = await this.manager.get(task.transferId!);
    if (!registration) return;
    await Promise.race([this.#following.get(registration.id), new Promise((resolve) => setTimeout(resolve, END_WAIT_MS))]);
    await this.#storeFinished(registration).catch(() => undefined);
  }

  /**
   * Stores a running registration's finished ranges every FOLLOW_MS, until it ends; one that
   * has received nothing for the session's `timeoutIntervalForRequest` is given up (`#stalled`).
   */
  #follow(registration: BackgroundFetchRegistration): void {
    const { id } = registration;
    if (this.#following.has(id)) return;
    let stall: Stall | undefined;
    const step = async (): Promise<void> => {
      if (this.#ending.has(id) || registration.result !== '') return void this.#following.delete(id);
      try {
        await this.#storeFinished(registration);
        stall ??= new Stall(await this.#requestTimeout(id));
        const current = await this.manager.get(id);
        if (!current || (stall.seen(current.downloaded, Date.now(), navigator.onLine) && (await this.#stalled(current)))) {
          return void this.#following.delete(id);
        }
      } catch {
        return void this.#following.delete(id); // its records went (it ended)
      }
      setTimeout(() => {
        if (this.#following.has(id)) this.#following.set(id, step());
      }, FOLLOW_MS);
    };
    this.#following.set(id, step());
  }

  /** The `timeoutIntervalForRequest` of the session whose tasks a registration carries, in ms. */
  async #requestTimeout(transferId: string): Promise<number> {
    const [task] = await this.sink.tasksOf(transferId);
    const configuration = task && (await this.sink.configuration(task.sessionId));
    return requestTimeoutMs(configuration);
  }

  /**
   * Gives up a registration that stopped receiving: its running tasks go to the streaming
   * engine, which resumes after the parts stored (they are no longer the registration's, so its
   * end changes nothing), and the registration is aborted. False if it ended meanwhile.
   */
  async #stalled(registration: BackgroundFetchRegistration): Promise<boolean> {
    if (this.#ending.has(registration.id) || registration.result !== '') return false;
    const tasks = await this.sink.tasksOf(registration.id);
    for (const task of tasks) if (task.state === 'running') await this.sink.handOver(task, 'stream');
    await registration.abort().catch(() => false);
    return true;
  }

  /** Stores, for each running task of the registration fetched in ranges, the leading ranges that came whole. */
  async #storeFinished(registration: BackgroundFetchRegistration): Promise<void> {
    const carried = await this.sink.tasksOf(registration.id);
    // `plan` keeps a validator only for a task fetched in ranges.
    const tasks = carried.filter((task) => task.state === 'running' && task.validator !== null);
    if (tasks.length === 0) return;
    const byTask = recordsByTask(tasks, await registration.matchAll());
    for (const [index, task] of tasks.entries()) await storeLeading(this.sink, task, byTask[index]!, FINISHED_WAIT_MS);
  }

  /** Aborts the registration, unless it carries other running tasks: then only this task ends. */
  async cancel(task: TaskRecord): Promise<void> {
    const carried = await this.sink.tasksOf(task.transferId!);
    const shared = carried.some((other) => other.taskIdentifier !== task.taskIdentifier && other.state === 'running');
    const registration = shared ? undefined : await this.manager.get(task.transferId!);
    if (!(await registration?.abort())) {
      await this.sink.complete(task, { error: new URLError('cancelled', 'The download was cancelled') });
    }
  }

  /** A click on the browser's download UI brings the user back, if the session says so. */
  async #click(event: BackgroundFetchEvent): Promise<void> {
    const [task] = await this.sink.tasksOf(event.registration.id);
    const configuration = task && (await this.sink.configuration(task.sessionId));
    if (configuration?.sessionSendsLaunchEvents !== false) await openApp(configuration?.launchURL);
  }

  async #end(event: BackgroundFetchEvent, success: boolean): Promise<void> {
    const { registration } = event;
    this.#ending.add(registration.id);
    try {
      // A store of its finished ranges under way ends first (or is left behind after a while:
      // one that hangs must not hold the end up): the records are read after it.
      await Promise.race([this.#following.get(registration.id)?.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, END_WAIT_MS))]);
      this.#following.delete(registration.id);
      // The browser woke the app for this: with no page visible, the rate limiter counts it.
      await this.sink.woke();
      const tasks = await this.sink.tasksOf(registration.id);
      if (tasks.length === 0) return;
      const byTask = recordsByTask(tasks, await registration.matchAll());
      const metrics = (await this.sink.configuration(tasks[0]!.sessionId))?.didFinishCollecting;
      // Each task ends with its own records: one that failed does not fail the others.
      await mapBounded(tasks, ENDS_AT_ONCE, async (task, index) => {
        try {
          const records = byTask[index]!;
          if (metrics) await this.sink.keepTransactions(task, [await registrationTransaction(task, records)]);
          // A registration's success or failure is its one task's; with several, a failure
          // (a status, an unfinished request) may be another task's.
          const shared = !success && tasks.length > 1 && /^(bad-status|fetch-error)$/.test(registration.failureReason);
          const own = shared
            ? await reasonOf(records, requestsOf(task).length, registration.failureReason)
            : { reason: registration.failureReason, ok: success };
          await this.#endTask(task, records, own.ok, own.reason);
        } catch (error) {
          if (isQuotaError(error)) await failForQuota(this.sink, task, error);
          else throw error;
        }
      });
    } finally {
      this.#ending.delete(registration.id);
    }
  }

  /**
   * Ends one task of a registration, from its own records, whether they all came, and why not.
   */
  async #endTask(task: TaskRecord, records: BackgroundFetchRecord[], success: boolean, reason: BackgroundFetchFailureReason): Promise<void> {
    // `plan` keeps a validator only for a task fetched in ranges.
    if (task.validator !== null) return this.#endRanged(task, records, success, reason);
    const response = await records[0]?.responseReady.catch(() => undefined);
    const { sessionId, taskIdentifier, transferId } = task;
    if (success && response && task.kind === 'upload') {
      await this.sink.complete(task, { response: responseRecord(response, requestOf(task).url), size: 0, parts: 0 });
      return;
    }
    // Chromium hands a record's body over as a disk-backed Blob: no copy into memory.
    const body = success && response ? await response.blob() : undefined;
    // A response may have been cut off, even in a registration that reports success (seen in
    // Chromium 156: a server restarted mid-body, a success with an empty body): it is checked
    // against the length announced before anything is handed over.
    if (body && response && isWholeBody(response.headers, response.type !== 'basic', body.size, task.countOfBytesExpectedToReceive)) {
      await putPart(sessionId, taskIdentifier, 0, body, task.transferId!);
      await this.sink.complete(task, { response: responseRecord(response, requestOf(task).url), size: body.size, parts: 1, partsBy: [task.transferId!] });
    } else if (!response && reason === 'fetch-error' && task.state === 'running' && task.kind === 'download' && (await refusedByCors(requestOf(task)))) {
      // Not a browser restart: the server refuses this origin. Another try would fail the same way.
      await this.sink.complete(task, { error: corsBlocked(requestOf(task).url) });
    } else if (task.state === 'running' && isWorthRetrying(body ? 'fetch-error' : reason, response?.status)) {
      await this.sink.handOver(task, 'stream');
    } else {
      await fail(this.sink, task, reason, response?.status);
    }
  }

  /**
   * The end of a registration of byte ranges: stores the leading parts whose ranges all came
   * whole, then completes the task, or has the streaming engine fetch the rest.
   */
  async #endRanged(task: TaskRecord, records: BackgroundFetchRecord[], success: boolean, reason: BackgroundFetchFailureReason): Promise<void> {
    const status = success ? undefined : await failedStatus(records);
    // Refused for its credentials, the ranges received are kept for a new request to go on from.
    const retry = !success && task.state === 'running' && (isRangedRetry(reason, status) || isUnauthorized(status));
    if (!success && !retry) return fail(this.sink, task, reason, status);
    const size = task.countOfBytesExpectedToReceive;
    const stored = await storeLeading(this.sink, task, records);
    if (!stored) return;
    const { received, parts, partsBy } = stored;
    if (received >= size) {
      await this.sink.complete(task, { response: task.response!, size, parts, partsBy });
    } else if (task.state === 'running' && !isUnauthorized(status)) {
      // A restart, a 5xx, or ranges that did not come whole (the file changed, the server
      // ignored Range): the streaming engine resumes after the parts stored, with If-Range.
      await this.sink.handOver((await this.sink.read(task)) ?? task, 'stream');
    } else {
      await fail(this.sink, task, reason, status);
    }
  }
}

/** Ends a task with the registration's failure, named. */
async function fail(sink: TransferSink, task: TaskRecord, reason: BackgroundFetchFailureReason, status: number | undefined): Promise<void> {
  const [code, message] = reasons[reason] ?? reasons[''];
  const text = status ? `${message}: HTTP ${status} for ${requestOf(task).url}` : `${message} (${reason})`;
  const ended = await sink.complete(task, { error: new URLError(code, text, status || undefined) });
  // A file that found no room gives back what it took, so that other files keep theirs.
  if (ended && reason === 'quota-exceeded') await deleteParts(task.sessionId, task.taskIdentifier);
}

/** Ends a task whose file found no room: its parts go, so that other files keep theirs. */
async function failForQuota(sink: TransferSink, task: TaskRecord, error: unknown): Promise<void> {
  if (await sink.complete(task, { error: storageFull(requestOf(task).url, error) })) {
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
