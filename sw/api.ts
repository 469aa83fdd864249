import { serializeError, URLError } from '../common/errors.js';
import type { DebugState, FetchOrder, SessionSnapshot, TaskInit, WorkerApi } from '../common/protocol.js';
import type { IDBPTransaction } from 'idb';
import { PART_SIZE, resumeKey, temporaryKey, type ConfigurationRecord, type EngineName, type EventRecord, type ResumeDataRecord, type Schema, type TaskRecord } from '../common/schema.js';
import { inBatch } from './batch.js';
import { changedSince, stampNow, touch } from './changes.js';
import { completeTask } from './completion.js';
import { getDatabase, getRateLimiter, getTask, updateRateLimiter } from './database.js';
import { NO_DELAY, notBefore } from './rateLimiter.js';
import type { Engine } from './engine.js';

declare const self: ServiceWorkerGlobalScope;
import { isAppVisible, waitingReason } from './conditions.js';
import { dismiss } from './launch.js';
import { notify } from './notify.js';
import { deleteParts, filesCache } from './parts.js';
import { isQuotaError } from './quota.js';
import { withResponseFields } from './responseRecord.js';
import { taskView } from './taskView.js';
import * as valid from './validate.js';

/**
 * How many times in a row a transfer that vanished (its worker or browser gone) is started
 * again without a byte more: a safety net against a loop, not a retry policy (that is the
 * engine's `retryLimit`). A stopped worker is an interruption, not a failure.
 */
const MAX_ATTEMPTS = 50;

/**
 * How often, at most, a page's drain reads every task of its session to find transfers that
 * died (or are due): the other drains read only the tasks changed since the page's last one.
 */
const RECONCILE_MS = 1000;

/**
 * From how many downloads started together, while a page of the app is visible, the streaming
 * engine carries them rather than Background Fetch. Chromium runs a registration's requests
 * two at a time, after a `HEAD` per file; the streaming engine fetches 6 at a time and needs
 * no `HEAD`, and the visible page keeps the worker alive meanwhile. Measured with files of
 * 16 KiB (bench/README.md): 2 or 4 took the same on either engine (~110 ms), 8 took 315 ms
 * on Background Fetch and 110 ms streamed, 16 took 212 ms and 116 ms.
 */
const STREAM_BATCH = 8;

/**
 * The largest `countOfBytesClientExpectsToReceive` of a download that counts as small for
 * STREAM_BATCH. A download without that hint may be large: it stays on Background Fetch, which
 * goes on with every page closed.
 */
const SMALL_DOWNLOAD = 1024 * 1024;

/** Whether a task is a download its app said is small. */
function isSmall(task: TaskRecord): boolean {
  return task.kind === 'download' && task.countOfBytesClientExpectsToReceive > 0 && task.countOfBytesClientExpectsToReceive <= SMALL_DOWNLOAD;
}

/** How long a transfer just started is taken to be alive, whatever its engine says. */
const START_GRACE_MS = 3000;

/**
 * The worker's answers to pages. Every argument is checked, since anything may be posted;
 * the worker, not the page, is the one that writes the database.
 */
export function createApi(engines: Partial<Record<EngineName, Engine>>, preferred: Engine): { api: WorkerApi; handOver: HandOver; wake: () => Promise<void> } {
  async function mustGetTask(sessionId: unknown, taskIdentifier: unknown): Promise<TaskRecord> {
    const id = valid.taskIdentifier(taskIdentifier);
    const task = await getTask(valid.sessionId(sessionId), id);
    if (!task) throw new TypeError(`There is no task ${id} in session ${valid.quote(sessionId)}`);
    return task;
  }

  /**
   * Starts new transfers for tasks, each if it still waits for its `previousTransferId` (or
   * none). The downloads an engine can carry together (Background Fetch: one registration of
   * many requests) share one transfer; the rest get one each. `created` holds the tasks just
   * made by `createTasks`, which no one else knows yet: they are not read, and those it did not
   * store are stored here, once, as started (an identifier taken is refused in `rejected`).
   * Returns the orders for the page, and the tasks as written.
   */
  async function startMany(
    sessionId: string,
    entries: [taskIdentifier: number, previousTransferId: string | null][],
    engine: Engine = preferred,
    created?: Created,
  ): Promise<{ orders: FetchOrder[]; written: TaskRecord[] }> {
    const db = await getDatabase();
    const configuration = created ? created.configuration : await db.get('sessions', sessionId);
    const shared = `bgdl:${crypto.randomUUID()}`;
    // Many small downloads with the app in view: streamed (see STREAM_BATCH). A page closed
    // meanwhile leaves the rest to the next wake or page, which start them again by this rule.
    const mayStream = engines.stream !== undefined && engine !== engines.stream && entries.length >= STREAM_BATCH && (created?.visible ?? (await isAppVisible()));
    const started: TaskRecord[] = [];
    const exhausted: TaskRecord[] = [];
    let changed = false;
    const tx = db.transaction('tasks', 'readwrite');
    // Read together, written together: each `await` in a transaction is a round trip.
    const [records, keys] = await Promise.all([
      Promise.all(entries.map(([taskIdentifier]) => created?.tasks.get(taskIdentifier) ?? tx.store.get([sessionId, taskIdentifier]))),
      created && created.unstored.size > 0 ? tx.store.getAllKeys(sessionRange(sessionId)) : [],
    ]);
    const taken = new Set(keys.map((key) => key[1]));
    const streamed = mayStream && records.filter((task) => task && isSmall(task)).length >= STREAM_BATCH;
    const writes: Promise<unknown>[] = [];
    const written: TaskRecord[] = [];
    const seen = new Set<number>();
    for (const [index, [taskIdentifier, previousTransferId]] of entries.entries()) {
      const task = records[index];
      // A task listed twice is started once.
      if (seen.has(taskIdentifier)) continue;
      seen.add(taskIdentifier);
      const unstored = created?.unstored.has(taskIdentifier) === true;
      if (unstored && taken.has(taskIdentifier)) {
        created!.rejected.push(alreadyTaken(sessionId, taskIdentifier));
        continue;
      }
      changed ||= unstored;
      if (!task || task.state === 'completed' || task.transferId !== previousTransferId) continue;
      const waitingFor = waitingReason(configuration, task);
      if (waitingFor) {
        // Conditions are poor: the task waits, running with no engine, and is tried at each wake.
        changed ||= task.waitingFor === null;
        Object.assign(task, { state: 'running', engine: null, transferId: null, waitingFor });
        writes.push(tx.store.put(task));
        written.push(task);
        continue;
      }
      task.waitingFor = null;
      // Only starts that brought no byte more count toward the limit.
      if (task.countOfBytesReceived > task.receivedAtStart) task.attempts = 0;
      if (task.attempts >= MAX_ATTEMPTS || overSendLimit(task)) {
        if (unstored) writes.push(tx.store.put(task));
        exhausted.push(task);
        continue;
      }
      changed = true;
      if (task.earliestBeginDate !== null && task.earliestBeginDate > Date.now()) {
        // Not yet: the task waits, running but with no engine, until a wake after that time.
        Object.assign(task, { state: 'running', engine: null, transferId: null });
        writes.push(tx.store.put(task));
        written.push(task);
        continue;
      }
      // Bytes kept (after a suspend, resume data, a failed Background Fetch): the streaming
      // engine continues from them.
      const resumable = task.parts > 0 && Boolean(task.validator);
      const chosen = engines.stream && (resumable || (streamed && isSmall(task))) ? engines.stream : engine;
      // An upload, or a download with its own size limit, goes alone (a registration has one limit).
      const together = chosen.startMany !== undefined && task.kind === 'download' && task.countOfBytesClientExpectsToReceive === 0;
      Object.assign(task, {
        state: 'running',
        engine: chosen.name,
        transferId: together ? shared : `bgdl:${crypto.randomUUID()}`,
        startedAt: Date.now(),
        receivedAtStart: task.countOfBytesReceived,
      });
      task.attempts++;
      writes.push(tx.store.put(task));
      written.push(task);
      started.push(task);
    }
    await Promise.all(writes);
    await tx.done;
    touch(sessionId, entries.map(([taskIdentifier]) => taskIdentifier));
    if (changed) notify({ type: 'changed', sessionId });
    for (const task of exhausted) {
      const limit = task.countOfBytesClientExpectsToSend;
      const error = overSendLimit(task)
        ? new URLError('dataLengthExceedsMaximum', `The upload to ${task.originalRequest.url} (${task.body!.size} bytes) is larger than countOfBytesClientExpectsToSend (${limit} bytes)`)
        : new URLError('networkConnectionLost', `The download of ${task.originalRequest.url} was interrupted ${task.attempts} times`);
      await completeTask(sessionId, task.taskIdentifier, task.transferId, { error });
    }
    const orders: FetchOrder[] = [];
    const together = started.filter((task) => task.transferId === shared);
    const transfers = together.length > 0 ? [together] : [];
    for (const task of started) if (task.transferId !== shared) transfers.push([task]);
    for (const tasks of transfers) {
      const carrier = engines[tasks[0]!.engine!]!;
      try {
        const order = tasks[0]!.transferId === shared ? await carrier.startMany!(tasks, configuration) : await carrier.start(tasks[0]!, configuration);
        if (order) orders.push(order);
      } catch (cause) {
        for (const task of tasks) await failToStart(sessionId, task.taskIdentifier, task.transferId!, cause, task.originalRequest.url);
      }
    }
    return { orders, written };
  }

  /** Ends a task whose transfer could not start. */
  async function failToStart(sessionId: string, taskIdentifier: number, transferId: string, cause: unknown, url: string): Promise<void> {
    const { name, message } = cause as { name?: unknown; message?: unknown };
    const code = isQuotaError(cause) ? 'cannotWriteToFile' : 'unknown';
    const error = new URLError(code, `The download of ${url} could not start: ${String(name)}: ${String(message)}`);
    await completeTask(sessionId, taskIdentifier, transferId, { error });
  }

  /**
   * Starts again, together, every running task of the session (`tasks`, as read) whose transfer
   * is gone. Returns the orders, or undefined if there was nothing to start.
   */
  async function reconcile(sessionId: string, tasks: TaskRecord[], engine: Engine = preferred): Promise<FetchOrder[] | undefined> {
    const entries: [number, string | null][] = [];
    // Tasks resumed together share a transfer: each transfer is asked about once.
    const alive = new Map<string, Promise<boolean>>();
    for (const task of tasks) {
      if (task.state !== 'running') continue;
      if (!task.transferId) {
        if ((task.earliestBeginDate ?? 0) <= Date.now()) entries.push([task.taskIdentifier, null]);
        continue;
      }
      // A transfer just handed to its engine may not be registered there yet.
      if (Date.now() - task.startedAt < START_GRACE_MS) continue;
      const engine = task.engine ? engines[task.engine] : undefined;
      if (engine && !alive.has(task.transferId)) alive.set(task.transferId, engine.isAlive(task));
      if (engine && (await alive.get(task.transferId))) continue;
      entries.push([task.taskIdentifier, task.transferId]);
    }
    return entries.length > 0 ? (await startMany(sessionId, entries, engine)).orders : undefined;
  }

  /** When each session's tasks were last all read for dead transfers (ms since the epoch). */
  const reconciled = new Map<string, number>();

  /** The sweep under way, if any: resume data waits for it before it puts its parts back. */
  let sweeping: Promise<void> = Promise.resolve();

  /**
   * Deletes temporary files of tasks that no longer need them (a page closed mid-cleanup).
   * The files are listed before the records are read: a file's task was stored before the file,
   * so a file whose task is neither running nor waiting to be delivered then is left over.
   */
  async function sweep(sessionId: string): Promise<void> {
    await deleteParts(sessionId, undefined, async () => {
      const { tasks, events } = await read(sessionId);
      const keep = new Set<number>();
      for (const task of tasks) if (task.state !== 'completed') keep.add(task.taskIdentifier);
      for (const event of events) keep.add(event.taskIdentifier);
      return keep;
    });
  }

  /**
   * Stops a task's transfer, keeping its stored parts (and what the engine can keep of the
   * bytes in flight), and leaves it in `state` with no engine.
   * Returns the task as stopped, or undefined if it was not running or suspended.
   */
  async function stop(task: TaskRecord, state: 'suspended' | 'canceling'): Promise<TaskRecord | undefined> {
    // First the engine keeps what it received (the stream engine stores its parts in flight),
    // while the task is still its own to record them in.
    const running = await getTask(task.sessionId, task.taskIdentifier);
    if (running?.state === 'running' && running.engine && running.transferId) await engines[running.engine]?.suspend?.(running);
    const tx = (await getDatabase()).transaction('tasks', 'readwrite');
    const current = await tx.store.get([task.sessionId, task.taskIdentifier]);
    if (!current || (current.state !== 'running' && current.state !== 'suspended')) return void (await tx.done);
    const { engine: engineName, transferId } = current;
    Object.assign(current, { state, engine: null, transferId: null });
    await tx.store.put(current);
    await tx.done;
    touch(task.sessionId, [task.taskIdentifier]);
    notify({ type: 'changed', sessionId: task.sessionId });
    // The transfer's own end is ignored now that the task no longer waits for it.
    const engine = engineName && transferId ? engines[engineName] : undefined;
    await engine?.cancel({ ...current, engine: engineName, transferId });
    return current;
  }

  /** Moves a stopped task's parts under a new resume token and describes them. */
  async function keepForResume(task: TaskRecord): Promise<string> {
    const token = crypto.randomUUID();
    const cache = await filesCache();
    for (let part = 0; part < task.parts; part++) {
      const stored = await cache.match(temporaryKey(task.sessionId, task.taskIdentifier, part));
      if (!stored) throw new URLError('cannotWriteToFile', `Part ${part} of the download is gone from storage`);
      await cache.put(resumeKey(token, part), stored);
    }
    const data: ResumeDataRecord = {
      format: 'bgdl-resume-data/1',
      origin: self.location.origin,
      token,
      request: task.originalRequest,
      response: task.response,
      validator: task.validator!,
      parts: task.parts,
      countOfBytesReceived: task.countOfBytesReceived,
      countOfBytesExpectedToReceive: task.countOfBytesExpectedToReceive,
    };
    return JSON.stringify(data);
  }

  /** Takes the bytes that resume data kept into a new task; refuses data that is not ours. */
  async function adoptResumeData(task: TaskRecord, resumeData: string): Promise<void> {
    const invalid = (why: string) => new URLError('cannotDecodeRawData', `The resume data cannot be used: ${why}`);
    let data: ResumeDataRecord;
    try {
      data = JSON.parse(resumeData) as ResumeDataRecord;
    } catch {
      throw invalid('it is not resume data from cancelByProducingResumeData()');
    }
    if (data?.format !== 'bgdl-resume-data/1') throw invalid('it is not resume data from cancelByProducingResumeData()');
    if (data.origin !== self.location.origin) throw invalid(`it was made by another origin (${valid.quote(data.origin)})`);
    // Data made when every part but the last was PART_SIZE does not say how many bytes they hold.
    const received = data?.countOfBytesReceived ?? data?.parts * PART_SIZE;
    if (typeof data.token !== 'string' || !Number.isSafeInteger(data.parts) || data.parts < 0 || typeof data.validator !== 'string' ||
      !Number.isSafeInteger(received) || received < 0) {
      throw invalid('it is corrupt');
    }
    const cache = await filesCache();
    // Parts put back before the task is stored would look left over to a sweep under way.
    await sweeping;
    for (let part = 0; part < data.parts; part++) {
      const stored = await cache.match(resumeKey(data.token, part));
      if (!stored) throw invalid('the bytes it kept are gone (it was used already, or storage was cleared)');
      await cache.put(temporaryKey(task.sessionId, task.taskIdentifier, part), stored);
    }
    for (let part = 0; part < data.parts; part++) await cache.delete(resumeKey(data.token, part));
    Object.assign(task, {
      originalRequest: valid.request(data.request),
      // Resume data made by an older version lacks what the page shows of the response.
      response: data.response && withResponseFields(data.response),
      validator: data.validator,
      parts: data.parts,
      countOfBytesReceived: received,
      receivedAtStart: received,
      countOfBytesExpectedToReceive: data.countOfBytesExpectedToReceive,
    });
  }

  /**
   * Makes new tasks, suspended, for `startMany` to start. Those with resume data are stored now
   * (their parts are in place, and a sweep must see their task); the others are stored once, by
   * `startMany`, as started (measured with 1,000 tasks resumed together: each write of 1,000
   * tasks took 250-450 ms before the first transfer began). The errors of those that could not
   * be made (resume data that cannot be used, an identifier taken) go in `rejected`.
   */
  async function createTasks(sessionId: string, inits: TaskInit[], rejected: Rejected): Promise<Created> {
    const db = await getDatabase();
    const configuration = await db.get('sessions', sessionId);
    // As the seed says: a task resumed while the app is in the background is discretionary,
    // and does not begin before the rate limiter's delay expires.
    const visible = await isAppVisible();
    const background = !visible;
    const discretionary = (configuration?.isDiscretionary ?? false) || background;
    const limit = background ? notBefore(await getRateLimiter(), Date.now()) : 0;
    const tasks: TaskRecord[] = [];
    for (const { taskIdentifier, request, taskDescription, countOfBytesClientExpectsToReceive, countOfBytesClientExpectsToSend, earliestBeginDate, priority, resumeData, body } of inits) {
      const task: TaskRecord = {
        sessionId,
        taskIdentifier,
        kind: body ? 'upload' : 'download',
        body,
        countOfBytesSent: 0,
        countOfBytesExpectedToSend: body ? body.size : 0,
        state: 'suspended',
        taskDescription,
        originalRequest: request,
        response: null,
        error: null,
        countOfBytesReceived: 0,
        countOfBytesExpectedToReceive: -1,
        countOfBytesClientExpectsToReceive,
        countOfBytesClientExpectsToSend,
        earliestBeginDate: limit > Date.now() ? Math.max(limit, earliestBeginDate ?? 0) : earliestBeginDate,
        priority,
        discretionary,
        waitingFor: null,
        engine: null,
        transferId: null,
        attempts: 0,
        receivedAtStart: 0,
        parts: 0,
        validator: null,
        startedAt: 0,
        createdAt: Date.now(),
      };
      try {
        if (resumeData !== null) await adoptResumeData(task, resumeData);
        tasks.push(task);
      } catch (error) {
        rejected.push([taskIdentifier, serializeError(error)]);
      }
    }
    const created: Created = { tasks: new Map(), unstored: new Set(), rejected, configuration, visible };
    const stored: TaskRecord[] = [];
    for (const task of tasks) {
      if (created.tasks.has(task.taskIdentifier)) {
        rejected.push(alreadyTaken(sessionId, task.taskIdentifier));
        continue;
      }
      if (task.parts > 0) stored.push(task);
      else created.unstored.add(task.taskIdentifier);
      created.tasks.set(task.taskIdentifier, task);
    }
    if (stored.length === 0) return created;
    const tx = db.transaction('tasks', 'readwrite');
    const keys = new Set((await tx.store.getAllKeys(sessionRange(sessionId))).map((key) => key[1]));
    const writes: Promise<unknown>[] = [];
    for (const task of stored) {
      if (keys.has(task.taskIdentifier)) {
        rejected.push(alreadyTaken(sessionId, task.taskIdentifier));
        created.tasks.delete(task.taskIdentifier);
      } else {
        writes.push(tx.store.put(task));
      }
    }
    await Promise.all([...writes, tx.done]);
    touch(sessionId, stored.map((task) => task.taskIdentifier));
    notify({ type: 'changed', sessionId });
    return created;
  }

  /** What `snapshot` answers (see `WorkerApi`). */
  async function sessionSnapshot(id: string, since: unknown): Promise<SessionSnapshot> {
    const stamp = stampNow();
    let orders: FetchOrder[] = [];
    // Every task is read to find dead transfers, at most every RECONCILE_MS for a page that
    // has the tasks already (it then gets only those changed since its stamp).
    const full = changedSince(id, since) === undefined;
    if (full || Date.now() - (reconciled.get(id) ?? 0) >= RECONCILE_MS) {
      reconciled.set(id, Date.now());
      const state = await read(id);
      orders = (await reconcile(id, state.tasks)) ?? [];
      // Read again only if something was started: the records changed.
      if (full) {
        const { tasks, events } = orders.length > 0 ? await read(id) : state;
        return { tasks: tasks.map(taskView), events, orders, stamp };
      }
    }
    const changed = changedSince(id, since)!;
    // Read in the transaction of the worker's writes of the moment (completions, acknowledges)
    // rather than in one of its own, which waited for them and held them up: with 1,000 small
    // files, a page's drains took a third of the time the writes had. The tasks and events are
    // read by requests that go out together, so that they see the same state (a completion in
    // the same transaction writes between two round trips).
    const [tasks, events] = await inBatch(async (tx) => {
      const store = tx.objectStore('events');
      const first = await store.index('bySession').openKeyCursor(id);
      return Promise.all([
        Promise.all(changed.map((taskIdentifier) => tx.objectStore('tasks').get([id, taskIdentifier]))),
        first ? store.getAll(IDBKeyRange.lowerBound(first.primaryKey)) : [],
      ]);
    });
    return {
      tasks: tasks.flatMap((task) => (task ? [taskView(task)] : [])),
      gone: changed.filter((_, index) => !tasks[index]),
      events: events.filter((event) => event.sessionId === id),
      orders,
      stamp,
    };
  }

  /** A session's tasks and undelivered events, as they are. */
  async function read(sessionId: string): Promise<{ tasks: TaskRecord[]; events: EventRecord[] }> {
    const tx = (await getDatabase()).transaction(['tasks', 'events']);
    // The events' first request goes first: the read of the events is then asked for while the
    // tasks are read, rather than after.
    const [events, tasks] = await Promise.all([sessionEvents(tx, sessionId), tx.objectStore('tasks').getAll(sessionRange(sessionId))]);
    return { tasks, events };
  }

  const api: WorkerApi = {
    async attach(configuration) {
      const config = valid.configuration(configuration);
      // Written while the session is read: a transaction made later on its store (startMany's
      // read of the configuration) waits for this one.
      const [, snapshot] = await Promise.all([(await getDatabase()).put('sessions', config), api.snapshot(config.identifier)]);
      // Not awaited: listing every stored file held up the answer (and the waiting events).
      sweeping = sweeping.then(() => sweep(config.identifier)).catch(() => undefined);
      return snapshot;
    },

    async snapshot(sessionId, since) {
      const id = valid.sessionId(sessionId);
      // A visible page: the user has the app in the foreground, and the delay is reset (while
      // the session is read: what is read does not depend on it).
      const reset = (async () => {
        if ((await getRateLimiter()).delay > 0 && (await isAppVisible())) await updateRateLimiter(() => NO_DELAY);
      })();
      const [snapshot] = await Promise.all([sessionSnapshot(id, since), reset]);
      return snapshot;
    },

    async suspend(sessionId, taskIdentifier) {
      const task = await mustGetTask(sessionId, taskIdentifier);
      await stop(task, 'suspended');
      return api.snapshot(task.sessionId);
    },

    async cancelByProducingResumeData(sessionId, taskIdentifier) {
      const task = await mustGetTask(sessionId, taskIdentifier);
      const stopped = await stop(task, 'canceling');
      if (!stopped) return null;
      const data = stopped.validator ? await keepForResume(stopped) : null;
      await completeTask(stopped.sessionId, stopped.taskIdentifier, null, { error: new URLError('cancelled', 'The download was cancelled') });
      return data;
    },

    async resume(sessionId, items) {
      const id = valid.sessionId(sessionId);
      if (!Array.isArray(items)) throw new TypeError(`resume() takes a list of tasks, not ${valid.quote(items)}`);
      const rejected: Rejected = [];
      // In the order resumed: a task the worker has, or a new one to store first.
      const order: (number | TaskInit)[] = [];
      for (const item of items as unknown[]) {
        try {
          if (typeof item !== 'number') order.push(valid.taskInit(item));
          else if ((await mustGetTask(id, item)).state === 'suspended') order.push(item);
        } catch (error) {
          rejected.push([typeof item === 'number' ? item : (item as Partial<TaskInit> | null)?.taskIdentifier, serializeError(error)]);
        }
      }
      const created = await createTasks(id, order.filter((item): item is TaskInit => typeof item !== 'number'), rejected);
      const ids = order.flatMap((item) => (typeof item === 'number' ? [item] : created.tasks.has(item.taskIdentifier) ? [item.taskIdentifier] : []));
      // The page gets the tasks as started (any later change reaches it with its next drain).
      const { orders, written } = await startMany(id, ids.map((taskIdentifier) => [taskIdentifier, null]), preferred, created);
      return { tasks: written.map(taskView), events: [], orders, rejected };
    },

    async fail(sessionId, transferId, error) {
      const id = valid.sessionId(sessionId);
      if (typeof transferId !== 'string') throw new TypeError(`An engine id must be a string, not ${valid.quote(transferId)}`);
      const tasks = await (await getDatabase()).getAllFromIndex('tasks', 'byTransfer', transferId);
      for (const task of tasks) {
        if (task.sessionId === id) await failToStart(id, task.taskIdentifier, transferId, error, task.originalRequest.url);
      }
    },

    async cancel(sessionId, taskIdentifier) {
      const task = await mustGetTask(sessionId, taskIdentifier);
      if (task.state === 'completed') return;
      const engine = task.engine && task.transferId ? engines[task.engine] : undefined;
      if (!engine) {
        const error = new URLError('cancelled', 'The download was cancelled');
        await completeTask(task.sessionId, task.taskIdentifier, task.transferId, { error });
        return;
      }
      const tx = (await getDatabase()).transaction('tasks', 'readwrite');
      const current = await tx.store.get([task.sessionId, task.taskIdentifier]);
      if (current?.state !== 'running' || current.transferId !== task.transferId) return tx.done;
      current.state = 'canceling';
      await tx.store.put(current);
      await tx.done;
      touch(task.sessionId, [task.taskIdentifier]);
      notify({ type: 'changed', sessionId: task.sessionId });
      await engine.cancel(current);
    },

    async debugState(sessionId) {
      const { tasks, events } = await read(valid.sessionId(sessionId));
      const connection = (navigator as WorkerNavigator & { connection?: DebugState['connection'] }).connection;
      return {
        engine: preferred.name,
        online: navigator.onLine,
        connection: connection ? { effectiveType: connection.effectiveType, saveData: connection.saveData, type: connection.type } : null,
        appVisible: await isAppVisible(),
        rateLimiter: await getRateLimiter(),
        waitingEvents: events.length,
        tasks: tasks.map(({ taskIdentifier, state, engine, transferId, waitingFor, earliestBeginDate, discretionary, countOfBytesReceived, parts, attempts }) => ({
          taskIdentifier, state, engine, transferId, waitingFor, earliestBeginDate, discretionary, countOfBytesReceived, parts, attempts,
        })),
      };
    },

    async pendingSessions() {
      const index = (await getDatabase()).transaction('events').store.index('bySession');
      const sessions: string[] = [];
      for (let cursor = await index.openKeyCursor(null, 'nextunique'); cursor; cursor = await cursor.continue()) sessions.push(cursor.key);
      return sessions;
    },

    async eventsHandled(sessionId) {
      await dismiss(valid.sessionId(sessionId));
    },

    async file(sessionId, taskIdentifier, count) {
      const id = valid.sessionId(sessionId);
      const task = valid.taskIdentifier(taskIdentifier);
      if (!Number.isSafeInteger(count) || count < 0) throw new TypeError(`A count of parts must be an integer >= 0, not ${valid.quote(count)}`);
      const body = count === 0 ? await (await getDatabase()).get('bodies', [id, task]) : undefined;
      if (body) return new Blob([body]);
      const cache = await filesCache();
      const parts = await Promise.all(Array.from({ length: count }, async (_, part) => (await cache.match(temporaryKey(id, task, part)))?.blob()));
      return parts.includes(undefined) ? undefined : new Blob(parts as Blob[]);
    },

    async acknowledge(sessionId, seq) {
      const id = valid.sessionId(sessionId);
      if (!Number.isSafeInteger(seq)) throw new TypeError(`An event number must be an integer, not ${valid.quote(seq)}`);
      // In the transaction of the worker's other writes of the moment (the completions): with many
      // tasks ending, a transaction of its own waited for them and held them up.
      const delivered = await inBatch(async (tx) => {
        // Events are numbered in order: those up to `seq` (of this session) are the delivered ones.
        const events = tx.objectStore('events');
        const upTo = await events.getAll(IDBKeyRange.upperBound(seq));
        const delivered = upTo.filter((event) => event.sessionId === id);
        const deletes: Promise<unknown>[] = [];
        // Where no other session's event is among them (the usual case), one request deletes all.
        const alone = delivered.length === upTo.length;
        if (alone && delivered.length > 0) deletes.push(events.delete(IDBKeyRange.bound(upTo[0]!.seq, upTo.at(-1)!.seq)));
        for (const event of delivered) {
          if (!alone) deletes.push(events.delete(event.seq));
          // A task whose last event was seen is done with: it leaves the session, as in URLSession.
          if (event.type === 'didCompleteWithError') deletes.push(tx.objectStore('tasks').delete([id, event.taskIdentifier]));
          else if (event.parts === 0) deletes.push(tx.objectStore('bodies').delete([id, event.taskIdentifier]));
        }
        await Promise.all(deletes);
        return delivered;
      });
      touch(id, delivered.flatMap((event) => (event.type === 'didCompleteWithError' ? [event.taskIdentifier] : [])));
      // Other pages of the session learn that the tasks have left it.
      if (delivered.some((event) => event.type === 'didCompleteWithError')) notify({ type: 'changed', sessionId: id });
      // A delivered file's temporary location goes (a file the delegate kept was copied), without
      // holding up the page's next call: what a stopped worker leaves, `attach` sweeps.
      const cache = await filesCache();
      const files = delivered.flatMap((event) =>
        event.type === 'didFinishDownloadingTo' ? Array.from({ length: event.parts }, (_, part) => temporaryKey(id, event.taskIdentifier, part)) : [],
      );
      void Promise.all(files.map((key) => cache.delete(key)));
    },
  };
  const handOver: HandOver = (task, engine) => startMany(task.sessionId, [[task.taskIdentifier, task.transferId]], engine).then(() => undefined);

  /**
   * The worker was woken with no page to ask (Background Sync): starts again the streaming
   * transfers that died with the last worker, and, where the streaming engine is the only one,
   * the tasks whose time or conditions have come. Background Fetch orders wait for a page.
   */
  async function wake(): Promise<void> {
    const stream = engines.stream;
    if (!stream) return;
    const bySession = new Map<string, TaskRecord[]>();
    for (const task of await (await getDatabase()).getAll('tasks')) {
      if (preferred !== stream && task.engine !== 'stream') continue;
      if (!bySession.has(task.sessionId)) bySession.set(task.sessionId, []);
      bySession.get(task.sessionId)!.push(task);
    }
    for (const [sessionId, tasks] of bySession) await reconcile(sessionId, tasks, stream);
  }
  return { api, handOver, wake };
}

/** The keys of a session's tasks: `[sessionId, taskIdentifier]`, so one range of the store. */
function sessionRange(sessionId: string): IDBKeyRange {
  return IDBKeyRange.bound([sessionId, -Infinity], [sessionId, Infinity]);
}

/**
 * A session's waiting events, in order. Read from the store, from the session's first event
 * on, rather than through the index (a lookup per event); the tasks likewise, by key range.
 * Measured with 1,000 tasks and 2,000 events waiting (shared 2-core machine): `attach` took
 * 50-120 ms through the indexes, 41-47 ms so. Other sessions' events after it are dropped.
 */
async function sessionEvents(tx: IDBPTransaction<Schema, ('tasks' | 'events')[], 'readonly'>, sessionId: string): Promise<EventRecord[]> {
  const events = tx.objectStore('events');
  const first = await events.index('bySession').openKeyCursor(sessionId);
  if (!first) return [];
  return (await events.getAll(IDBKeyRange.lowerBound(first.primaryKey))).filter((event) => event.sessionId === sessionId);
}

/** The tasks `resume` refused, with their errors. */
type Rejected = NonNullable<SessionSnapshot['rejected']>;

/** The refusal of a new task whose identifier the session has already. */
function alreadyTaken(sessionId: string, taskIdentifier: number): Rejected[number] {
  return [taskIdentifier, serializeError(new TypeError(`Session ${valid.quote(sessionId)} has a task ${taskIdentifier} already`))];
}

/**
 * New tasks made by `createTasks`, by identifier; `unstored`: those `startMany` stores. With the
 * session's configuration and whether a page was visible, as `createTasks` found them.
 */
interface Created {
  tasks: Map<number, TaskRecord>;
  unstored: Set<number>;
  rejected: Rejected;
  configuration: ConfigurationRecord | undefined;
  visible: boolean;
}

/** Whether an upload's file is larger than the bound its task set (it then never starts). */
function overSendLimit(task: TaskRecord): boolean {
  const limit = task.countOfBytesClientExpectsToSend ?? 0;
  return task.body !== null && limit > 0 && task.body.size > limit;
}

/** Gives a task's transfer to another engine, to finish what its engine could not. */
export type HandOver = (task: TaskRecord, engine: Engine) => Promise<void>;
