import { serializeError, URLError } from '../common/errors.js';
import type { Calls } from './calls.js';
import type { DebugState, SessionSnapshot, TaskInit, WorkerApi } from '../common/protocol.js';
import type { TaskRecord } from '../common/schema.js';
import { isAppVisible } from './conditions.js';
import { dismiss } from './launch.js';
import { newTasks } from './newTasks.js';
import { digestOfFile } from './integrity.js';
import { keep, storedFile } from './keep.js';
import { keepForResume } from './resumeData.js';
import { answer } from './scheduler/delayedRequests.js';
import { handOver } from './scheduler/handOver.js';
import { addWriter } from './engines/stream/writers.js';
import type { Scheduler } from './scheduler/Scheduler.js';
import { Snapshots } from './snapshots.js';
import { readAhead } from './store/readAhead.js';
import { getRateLimiter } from './store/database.js';
import { acknowledge, completeTask, pendingSessions } from './store/outbox.js';
import { deleteParts } from './store/parts.js';
import { getTask, putSession, readSession } from './store/tasks.js';
import { taskView } from './taskView.js';
import * as valid from './validate.js';

/** The tasks `resume` refused, with their errors. */
type Rejected = NonNullable<SessionSnapshot['rejected']>;

/** The API as the worker serves it: `handOver` and `connectWriter` also learn which client called (see `oneCall`). */
export interface WorkerSideApi extends WorkerApi {
  handOver(sessionId: string, transferIds: string[], caller?: string): Promise<void>;
  connectWriter(port: MessagePort, caller?: string): Promise<void>;
}

/**
 * The worker's answers to pages. Every argument is checked, since anything may be posted;
 * the worker, not the page, is the one that writes the database. What starts, and when, is
 * the scheduler's to decide.
 */
export function createApi(scheduler: Scheduler, calls: Calls): WorkerSideApi {
  const snapshots = new Snapshots(scheduler);
  const callState = async (call: unknown) => {
    if (typeof call !== 'string') throw new TypeError(`A call id must be a string, not ${valid.quote(call)}`);
    return calls.state(call);
  };
  const connectWriter = async (port: unknown, caller?: string) => {
    if (!(port instanceof MessagePort)) throw new TypeError(`connectWriter() takes a MessagePort, not ${valid.quote(port)}`);
    if (caller !== undefined) await addWriter(port, caller);
  };
  return { ...sessionCalls(scheduler, snapshots), ...taskCalls(scheduler, snapshots), ...outboxCalls(), callState, connectWriter };
}

/** A task the session has, or a TypeError. */
async function mustGetTask(sessionId: unknown, taskIdentifier: unknown): Promise<TaskRecord> {
  const id = valid.taskIdentifier(taskIdentifier);
  const task = await getTask(valid.sessionId(sessionId), id);
  if (!task) throw new TypeError(`There is no task ${id} in session ${valid.quote(sessionId)}`);
  return task;
}

/** Sorts what `resume` was given: tasks the worker has (suspended ones), and new ones. */
async function sortResumed(id: string, items: unknown[], rejected: Rejected): Promise<(number | TaskInit)[]> {
  const order: (number | TaskInit)[] = [];
  for (const item of items) {
    try {
      if (typeof item !== 'number') order.push(valid.taskInit(item));
      else if ((await mustGetTask(id, item)).state === 'suspended') order.push(item);
    } catch (error) {
      rejected.push([typeof item === 'number' ? item : (item as Partial<TaskInit> | null)?.taskIdentifier, serializeError(error)]);
    }
  }
  return order;
}

/** The calls about a session as a whole. */
function sessionCalls(scheduler: Scheduler, snapshots: Snapshots): Pick<WorkerApi, 'attach' | 'snapshot' | 'debugState' | 'pendingSessions' | 'eventsHandled'> {
  const calls: ReturnType<typeof sessionCalls> = {
    async attach(configuration) {
      const config = valid.configuration(configuration);
      // Written while the session is read: a transaction made later on its store waits for this one.
      const [, snapshot] = await Promise.all([putSession(config), calls.snapshot(config.identifier)]);
      snapshots.sweep(config.identifier);
      return snapshot;
    },

    snapshot: (sessionId, since) => snapshots.take(valid.sessionId(sessionId), since),

    async debugState(sessionId) {
      const { tasks, events } = await readSession(valid.sessionId(sessionId));
      const connection = (navigator as WorkerNavigator & { connection?: DebugState['connection'] }).connection;
      return {
        engine: scheduler.preferred,
        online: navigator.onLine,
        connection: connection ? { effectiveType: connection.effectiveType, saveData: connection.saveData, type: connection.type } : null,
        appVisible: await isAppVisible(),
        persisted: (await navigator.storage?.persisted?.().catch(() => false)) ?? false,
        rateLimiter: await getRateLimiter(),
        // Delegate calls: a download's completion brings two (`didFinishDownloadingTo` first).
        waitingEvents: events.reduce((count, event) => count + (event.type === 'didCompleteWithError' && event.download ? 2 : 1), 0),
        tasks: tasks.map(debugTask),
      } satisfies DebugState;
    },

    async pendingSessions() {
      const sessions = await pendingSessions();
      // The page that asked re-creates them next.
      readAhead(sessions);
      return sessions;
    },

    async eventsHandled(sessionId) {
      await dismiss(valid.sessionId(sessionId));
    },
  };
  return calls;
}

/** The calls about tasks: start, stop, cancel. */
function taskCalls(
  scheduler: Scheduler,
  snapshots: Snapshots,
): Pick<WorkerSideApi, 'resume' | 'suspend' | 'cancel' | 'cancelByProducingResumeData' | 'handOver' | 'fail' | 'answer'> {
  return {
    answer: (...args) => checkedAnswer(scheduler, ...args),

    async suspend(sessionId, taskIdentifier) {
      const task = await mustGetTask(sessionId, taskIdentifier);
      await scheduler.stop(task, 'suspended');
      return snapshots.take(task.sessionId, undefined);
    },

    async cancelByProducingResumeData(sessionId, taskIdentifier) {
      const task = await mustGetTask(sessionId, taskIdentifier);
      const stopped = await scheduler.stop(task, 'canceling');
      if (!stopped) return null;
      let data: string | null = null;
      try {
        data = stopped.validator ? await keepForResume(stopped) : null;
      } finally {
        // Kept or not (no room for the copy), the task ends cancelled and lets its parts go.
        await completeTask(stopped.sessionId, stopped.taskIdentifier, null, { error: new URLError('cancelled', 'The download was cancelled') });
        await deleteParts(stopped.sessionId, stopped.taskIdentifier).catch(() => undefined);
      }
      return data;
    },

    async resume(sessionId, items) {
      const id = valid.sessionId(sessionId);
      if (!Array.isArray(items)) throw new TypeError(`resume() takes a list of tasks, not ${valid.quote(items)}`);
      const rejected: Rejected = [];
      // In the order resumed: a task the worker has, or a new one to store first.
      const order = await sortResumed(id, items as unknown[], rejected);
      const created = await newTasks(
        id,
        order.filter((item): item is TaskInit => typeof item !== 'number'),
        rejected,
        snapshots.sweeping,
      );
      const ids = order.flatMap((item) => (typeof item === 'number' ? [item] : created.tasks.has(item.taskIdentifier) ? [item.taskIdentifier] : []));
      // The page gets the tasks as started (any later change reaches it with its next drain).
      const { orders, written } = await scheduler.start(
        id,
        ids.map((taskIdentifier) => [taskIdentifier, null]),
        scheduler.preferred,
        created,
      );
      const inits = new Map(order.flatMap((item) => (typeof item === 'number' ? [] : [[item.taskIdentifier, item] as const])));
      const made = await madeBefore(id, created.taken, inits, rejected);
      return { tasks: [...written, ...made].map(taskView), events: [], orders, rejected };
    },

    async handOver(sessionId, transferIds, caller) {
      const id = valid.sessionId(sessionId);
      if (!Array.isArray(transferIds) || !transferIds.every((each) => typeof each === 'string')) {
        throw new TypeError(`handOver() takes a list of transfer ids, not ${valid.quote(transferIds)}`);
      }
      await handOver(scheduler, id, transferIds, caller);
    },

    async fail(sessionId, transferId, error) {
      const id = valid.sessionId(sessionId);
      if (typeof transferId !== 'string') throw new TypeError(`A transfer id must be a string, not ${valid.quote(transferId)}`);
      await scheduler.failTransfer(id, transferId, error);
    },

    async cancel(sessionId, taskIdentifier) {
      const task = await mustGetTask(sessionId, taskIdentifier);
      if (task.state !== 'completed') await scheduler.cancel(task);
    },
  };
}

/** A page's answer to a task's ask (`willBeginDelayedRequest`), its arguments checked. */
async function checkedAnswer(scheduler: Scheduler, ...[sessionId, taskIdentifier, ask, disposition, request]: Parameters<WorkerApi['answer']>) {
  const task = await mustGetTask(sessionId, taskIdentifier);
  if (typeof ask !== 'string') throw new TypeError(`An ask id must be a string, not ${valid.quote(ask)}`);
  if (!['continueLoading', 'useNewRequest', 'cancel'].includes(disposition)) {
    throw new TypeError(`A disposition must be continueLoading, useNewRequest or cancel, not ${valid.quote(disposition)}`);
  }
  const newRequest = disposition === 'useNewRequest' ? valid.request(request) : undefined;
  const { method } = task.newRequest ?? task.originalRequest;
  if (newRequest && newRequest.method !== method)
    throw new TypeError(`A new request must be a ${method} as the task's is, not ${valid.quote(newRequest.method)}`);
  return answer(scheduler, task.sessionId, task.taskIdentifier, ask, disposition, newRequest);
}

/** The calls about what the delegate gets: files, and events delivered. */
function outboxCalls(): Pick<WorkerApi, 'file' | 'digest' | 'keep' | 'acknowledge'> {
  return {
    async file(sessionId, taskIdentifier) {
      const record = await completedDownload(sessionId, taskIdentifier);
      return record && storedFile(record);
    },

    async digest(sessionId, taskIdentifier, algorithm) {
      const hash = valid.digestAlgorithm(algorithm);
      const record = await completedDownload(sessionId, taskIdentifier);
      const file = record && (await storedFile(record));
      return file && digestOfFile(file, hash);
    },

    async keep(sessionId, taskIdentifier, name, metadata) {
      const checked = valid.keptFile(name, metadata);
      const record = await completedDownload(sessionId, taskIdentifier);
      return record !== undefined && keep(record, checked.name, checked.metadata);
    },

    async acknowledge(sessionId, seq) {
      const id = valid.sessionId(sessionId);
      if (!Number.isSafeInteger(seq)) throw new TypeError(`An event number must be an integer, not ${valid.quote(seq)}`);
      await acknowledge(id, seq);
    },
  };
}

/**
 * A completed download's record, or undefined. What its file is made of comes from the
 * worker's own record, not from the page.
 */
async function completedDownload(sessionId: unknown, taskIdentifier: unknown): Promise<TaskRecord | undefined> {
  const record = await getTask(valid.sessionId(sessionId), valid.taskIdentifier(taskIdentifier));
  return record?.state === 'completed' && record.kind === 'download' ? record : undefined;
}

/** What `debugState()` shows of a task. */
function debugTask(task: TaskRecord): DebugState['tasks'][number] {
  const { taskIdentifier, state, engine, transferId, waitingFor, earliestBeginDate, discretionary, countOfBytesReceived, parts, attempts } = task;
  const shown = { taskIdentifier, state, engine, transferId, waitingFor, earliestBeginDate, discretionary, countOfBytesReceived, parts, attempts };
  return { ...shown, priority: task.priority, deadline: task.deadline ?? null };
}

/**
 * Of the new tasks whose identifier the session has already, those that are the very task (the
 * same request, not completed): a call cut short by a stopped worker, made again by the page.
 * The others are refused in `rejected`.
 */
async function madeBefore(id: string, taken: number[], inits: ReadonlyMap<number, TaskInit>, rejected: Rejected): Promise<TaskRecord[]> {
  const made: TaskRecord[] = [];
  for (const taskIdentifier of taken) {
    const task = await getTask(id, taskIdentifier);
    const init = inits.get(taskIdentifier);
    if (task && init && task.state !== 'completed' && JSON.stringify(task.originalRequest) === JSON.stringify(init.request)) made.push(task);
    else rejected.push([taskIdentifier, serializeError(new TypeError(`Session ${valid.quote(id)} has a task ${taskIdentifier} already`))]);
  }
  return made;
}
