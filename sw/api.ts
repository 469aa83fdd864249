import { URLError } from '../common/errors.js';
import type { DebugState, FetchOrder, SessionSnapshot, WorkerApi } from '../common/protocol.js';
import { PART_SIZE, resumeKey, temporaryKey, type EngineName, type ResumeDataRecord, type TaskRecord } from '../common/schema.js';
import { completeTask } from './completion.js';
import { getDatabase, getRateLimiter, getTask, updateRateLimiter } from './database.js';
import { NO_DELAY, notBefore } from './rateLimiter.js';
import type { Engine } from './engine.js';

declare const self: ServiceWorkerGlobalScope;
import { isAppVisible, waitingReason } from './conditions.js';
import { dismiss } from './launch.js';
import { notify } from './notify.js';
import { deleteParts, filesCache } from './parts.js';
import * as valid from './validate.js';

/**
 * How many times in a row a transfer that vanished (its worker or browser gone) is started
 * again without a byte more: a safety net against a loop, not a retry policy (that is the
 * engine's `retryLimit`). A stopped worker is an interruption, not a failure.
 */
const MAX_ATTEMPTS = 50;

/** How long a transfer just started is taken to be alive, whatever its engine says. */
const START_GRACE_MS = 3000;

/**
 * The worker's answers to pages. Every argument is checked, since anything may be posted;
 * the worker, not the page, is the one that writes the database.
 */
export function createApi(engines: Partial<Record<EngineName, Engine>>, preferred: Engine): { api: WorkerApi; handOver: HandOver } {
  async function mustGetTask(sessionId: unknown, taskIdentifier: unknown): Promise<TaskRecord> {
    const id = valid.taskIdentifier(taskIdentifier);
    const task = await getTask(valid.sessionId(sessionId), id);
    if (!task) throw new TypeError(`There is no task ${id} in session ${valid.quote(sessionId)}`);
    return task;
  }

  /**
   * Starts a new transfer for a task, if it still waits for `previousEngineId` (or none).
   * Returns the order for the page when the engine needs a page to start it.
   */
  async function start(
    sessionId: string,
    taskIdentifier: number,
    previousEngineId: string | null,
    engine: Engine = preferred,
  ): Promise<FetchOrder | void> {
    const db = await getDatabase();
    const configuration = await db.get('sessions', sessionId);
    const before = await db.get('tasks', [sessionId, taskIdentifier]);
    const waitingFor = before ? waitingReason(configuration, before) : null;
    const tx = db.transaction('tasks', 'readwrite');
    const task = await tx.store.get([sessionId, taskIdentifier]);
    if (!task || task.state === 'completed' || task.engineId !== previousEngineId) return tx.done;
    if (waitingFor) {
      // Conditions are poor: the task waits, running with no engine, and is tried at each wake.
      const told = task.waitingFor !== null;
      Object.assign(task, { state: 'running', engine: null, engineId: null, waitingFor });
      await tx.store.put(task);
      await tx.done;
      if (!told) notify({ type: 'changed', sessionId });
      return;
    }
    task.waitingFor = null;
    // Only starts that brought no byte more count toward the limit.
    if (task.countOfBytesReceived > task.receivedAtStart) task.attempts = 0;
    if (task.attempts >= MAX_ATTEMPTS) {
      await tx.done;
      const error = new URLError('networkConnectionLost', `The download of ${task.originalRequest.url} was interrupted ${task.attempts} times`);
      await completeTask(sessionId, taskIdentifier, previousEngineId, { error });
      return;
    }
    if (task.earliestBeginDate !== null && task.earliestBeginDate > Date.now()) {
      // Not yet: the task waits, running but with no engine, until a wake after that time.
      Object.assign(task, { state: 'running', engine: null, engineId: null });
      await tx.store.put(task);
      await tx.done;
      notify({ type: 'changed', sessionId });
      return;
    }
    // Bytes kept (after a suspend, resume data, a failed Background Fetch): the streaming
    // engine continues from them.
    if (task.parts > 0 && task.validator && engines.stream) engine = engines.stream;
    Object.assign(task, {
      state: 'running',
      engine: engine.name,
      engineId: `bgdl:${crypto.randomUUID()}`,
      startedAt: Date.now(),
      receivedAtStart: task.countOfBytesReceived,
    });
    task.attempts++;
    await tx.store.put(task);
    await tx.done;
    notify({ type: 'changed', sessionId });
    try {
      return await engine.start(task, configuration);
    } catch (cause) {
      await failToStart(task.sessionId, task.taskIdentifier, task.engineId!, cause, task.originalRequest.url);
    }
  }

  /** Ends a task whose transfer could not start. */
  async function failToStart(sessionId: string, taskIdentifier: number, engineId: string, cause: unknown, url: string): Promise<void> {
    const { name, message } = cause as { name?: unknown; message?: unknown };
    const code = name === 'QuotaExceededError' ? 'cannotWriteToFile' : 'unknown';
    const error = new URLError(code, `The download of ${url} could not start: ${String(name)}: ${String(message)}`);
    await completeTask(sessionId, taskIdentifier, engineId, { error });
  }

  /** Starts again every running task of the session whose transfer is gone. */
  async function reconcile(sessionId: string): Promise<FetchOrder[]> {
    const tasks = await (await getDatabase()).getAllFromIndex('tasks', 'bySession', sessionId);
    const orders: FetchOrder[] = [];
    for (const task of tasks) {
      if (task.state !== 'running') continue;
      if (!task.engineId) {
        if ((task.earliestBeginDate ?? 0) <= Date.now()) {
          const order = await start(sessionId, task.taskIdentifier, null);
          if (order) orders.push(order);
        }
        continue;
      }
      // A transfer just handed to its engine may not be registered there yet.
      if (Date.now() - task.startedAt < START_GRACE_MS) continue;
      const engine = task.engine ? engines[task.engine] : undefined;
      if (engine && (await engine.isAlive(task))) continue;
      const order = await start(sessionId, task.taskIdentifier, task.engineId);
      if (order) orders.push(order);
    }
    return orders;
  }

  /** Deletes temporary files of tasks that no longer need them (a page closed mid-cleanup). */
  async function sweep(sessionId: string, snapshot: SessionSnapshot): Promise<void> {
    const keep = new Set<number>();
    for (const task of snapshot.tasks) if (task.state !== 'completed') keep.add(task.taskIdentifier);
    for (const event of snapshot.events) keep.add(event.taskIdentifier);
    await deleteParts(sessionId, undefined, keep);
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
    if (running?.state === 'running' && running.engine && running.engineId) await engines[running.engine]?.suspend?.(running);
    const tx = (await getDatabase()).transaction('tasks', 'readwrite');
    const current = await tx.store.get([task.sessionId, task.taskIdentifier]);
    if (!current || (current.state !== 'running' && current.state !== 'suspended')) return void (await tx.done);
    const { engine: engineName, engineId } = current;
    Object.assign(current, { state, engine: null, engineId: null });
    await tx.store.put(current);
    await tx.done;
    notify({ type: 'changed', sessionId: task.sessionId });
    // The transfer's own end is ignored now that the task no longer waits for it.
    const engine = engineName && engineId ? engines[engineName] : undefined;
    await engine?.cancel({ ...current, engine: engineName, engineId });
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
    for (let part = 0; part < data.parts; part++) {
      const stored = await cache.match(resumeKey(data.token, part));
      if (!stored) throw invalid('the bytes it kept are gone (it was used already, or storage was cleared)');
      await cache.put(temporaryKey(task.sessionId, task.taskIdentifier, part), stored);
    }
    for (let part = 0; part < data.parts; part++) await cache.delete(resumeKey(data.token, part));
    Object.assign(task, {
      originalRequest: valid.request(data.request),
      response: data.response,
      validator: data.validator,
      parts: data.parts,
      countOfBytesReceived: received,
      receivedAtStart: received,
      countOfBytesExpectedToReceive: data.countOfBytesExpectedToReceive,
    });
  }

  /** A session's tasks and undelivered events, as they are. */
  async function read(sessionId: string): Promise<Omit<SessionSnapshot, 'orders'>> {
    const tx = (await getDatabase()).transaction(['tasks', 'events']);
    const [tasks, events] = await Promise.all([
      tx.objectStore('tasks').index('bySession').getAll(sessionId),
      tx.objectStore('events').index('bySession').getAll(sessionId),
    ]);
    return { tasks, events };
  }

  const api: WorkerApi = {
    async attach(configuration) {
      const config = valid.configuration(configuration);
      await (await getDatabase()).put('sessions', config);
      const snapshot = await api.snapshot(config.identifier);
      await sweep(config.identifier, snapshot);
      return snapshot;
    },

    async snapshot(sessionId) {
      const id = valid.sessionId(sessionId);
      // A visible page: the user has the app in the foreground, and the delay is reset.
      if ((await getRateLimiter()).delay > 0 && (await isAppVisible())) await updateRateLimiter(() => NO_DELAY);
      const orders = await reconcile(id);
      return { ...(await read(id)), orders };
    },

    async createTask(sessionId, init) {
      const { taskIdentifier, request, taskDescription, countOfBytesClientExpectsToReceive, earliestBeginDate, priority, resumeData, body } =
        valid.taskInit(init);
      const id = valid.sessionId(sessionId);
      const configuration = await (await getDatabase()).get('sessions', id);
      // As the seed says: a task resumed while the app is in the background is discretionary,
      // and does not begin before the rate limiter's delay expires.
      const background = !(await isAppVisible());
      const discretionary = (configuration?.isDiscretionary ?? false) || background;
      const limit = background ? notBefore(await getRateLimiter(), Date.now()) : 0;
      const task: TaskRecord = {
        sessionId: id,
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
        earliestBeginDate: limit > Date.now() ? Math.max(limit, earliestBeginDate ?? 0) : earliestBeginDate,
        priority,
        discretionary,
        waitingFor: null,
        engine: null,
        engineId: null,
        attempts: 0,
        receivedAtStart: 0,
        parts: 0,
        validator: null,
        startedAt: 0,
        createdAt: Date.now(),
      };
      if (resumeData !== null) await adoptResumeData(task, resumeData);
      await (await getDatabase()).add('tasks', task);
      notify({ type: 'changed', sessionId: task.sessionId });
      return task;
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

    async resume(sessionId, taskIdentifier) {
      const task = await mustGetTask(sessionId, taskIdentifier);
      let order: FetchOrder | void = undefined;
      if (task.state === 'suspended' && task.engineId === null) order = await start(task.sessionId, task.taskIdentifier, null);
      return { tasks: [(await getTask(task.sessionId, task.taskIdentifier))!], events: [], orders: order ? [order] : [] };
    },

    async fail(sessionId, taskIdentifier, engineId, error) {
      const task = await mustGetTask(sessionId, taskIdentifier);
      if (typeof engineId !== 'string') throw new TypeError(`An engine id must be a string, not ${valid.quote(engineId)}`);
      await failToStart(task.sessionId, task.taskIdentifier, engineId, error, task.originalRequest.url);
    },

    async cancel(sessionId, taskIdentifier) {
      const task = await mustGetTask(sessionId, taskIdentifier);
      if (task.state === 'completed') return;
      const engine = task.engine && task.engineId ? engines[task.engine] : undefined;
      if (!engine) {
        const error = new URLError('cancelled', 'The download was cancelled');
        await completeTask(task.sessionId, task.taskIdentifier, task.engineId, { error });
        return;
      }
      const tx = (await getDatabase()).transaction('tasks', 'readwrite');
      const current = await tx.store.get([task.sessionId, task.taskIdentifier]);
      if (current?.state !== 'running' || current.engineId !== task.engineId) return tx.done;
      current.state = 'canceling';
      await tx.store.put(current);
      await tx.done;
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
        tasks: tasks.map(({ taskIdentifier, state, engine, waitingFor, earliestBeginDate, discretionary, countOfBytesReceived, parts, attempts }) => ({
          taskIdentifier, state, engine, waitingFor, earliestBeginDate, discretionary, countOfBytesReceived, parts, attempts,
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

    async acknowledge(sessionId, seq) {
      const id = valid.sessionId(sessionId);
      if (!Number.isSafeInteger(seq)) throw new TypeError(`An event number must be an integer, not ${valid.quote(seq)}`);
      const tx = (await getDatabase()).transaction(['events', 'tasks'], 'readwrite');
      const event = await tx.objectStore('events').get(seq);
      if (event?.sessionId === id) {
        await tx.objectStore('events').delete(seq);
        // A task whose last event was seen is done with: it leaves the session, as in URLSession.
        if (event.type === 'didCompleteWithError') await tx.objectStore('tasks').delete([id, event.taskIdentifier]);
      }
      await tx.done;
      // Other pages of the session learn that the task has left it.
      if (event?.type === 'didCompleteWithError' && event.sessionId === id) notify({ type: 'changed', sessionId: id });
    },
  };
  const handOver: HandOver = (task, engine) => start(task.sessionId, task.taskIdentifier, task.engineId, engine).then(() => undefined);
  return { api, handOver };
}

/** Gives a task's transfer to another engine, to finish what its engine could not. */
export type HandOver = (task: TaskRecord, engine: Engine) => Promise<void>;
