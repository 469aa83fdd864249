import type { FetchOrder, SessionSnapshot, TaskInit } from '../common/protocol.js';
import type { URLSession } from './URLSession.js';
import type { URLSessionDelegate } from './URLSessionDelegate.js';
import { URLSessionDownloadTask, type TaskOwner, type URLSessionTask } from './URLSessionTask.js';

/**
 * What the parts of a session share (its tasks, and the state of its command queue, event
 * delivery, Background Fetch orders and keep-alive timer), as plain fields of one object.
 */
export interface SessionState {
  /** The session, as its delegate is told. */
  readonly session: URLSession;
  /** The session's identifier, the first argument of the worker's methods about it. */
  readonly id: string;
  /** The session's tasks that have not completed (or whose completion is still to be told). */
  readonly tasks: Map<number, URLSessionTask>;
  /** What the session's tasks ask of the worker (`taskOwner()`). */
  owner: TaskOwner;
  /** The session takes no new task. */
  invalid?: boolean;
  /**
   * A session made later in this page with the same identifier took over (a view that
   * remounted): this one delivers nothing more and calls the worker no more.
   */
  replaced?: boolean;

  // CommandQueue
  /** The worker calls queued so far: the next runs after them. */
  calls: Promise<unknown>;
  /** Tasks resumed in this tick, for one worker call. */
  batch?: [URLSessionTask[], (number | TaskInit)[], Promise<void>];

  // EventDelivery
  /** The drain under way, and whether another is due when it ends. */
  draining?: Promise<void>;
  drainAgain?: boolean;
  /** Events delivered since the last `didFinishEvents`. */
  delivered: number;
  /** The last event delivered, and the last one the worker was told of. */
  seq: number;
  acked: number;
  /** The `acknowledge` call under way. */
  acking?: Promise<void>;
  /** The stamp of the last snapshot delivered: the next holds only the tasks changed since. */
  stamp?: string;
  /** `didBecomeInvalidWithError` was told. */
  invalidTold?: boolean;
  /**
   * A `didFinishDownloadingTo` handler found no room to keep its file: that event and the
   * ones after it wait, kept, for the session to be created again.
   */
  held?: boolean;

  // DelayedRequests
  /** The asks (`willBeginDelayedRequest`) this page's delegate was asked. */
  readonly asked: Set<string>;

  // BackgroundFetchOrders
  /** The Background Fetches whose progress this page reports. */
  readonly watched: Set<string>;

  // HandOver
  /** What carries each streamed download on when the page goes away, by task. */
  readonly standby: Map<number, FetchOrder>;

  // KeepAlive
  /** Calls the worker every few seconds while a task runs. */
  keepAlive?: ReturnType<typeof setInterval>;
}

/** Calls a delegate method; what it throws is reported, never lost in the library, and returned. */
export async function tell(s: SessionState, method: keyof URLSessionDelegate, ...args: unknown[]): Promise<unknown> {
  const handler = s.session.delegate[method] as ((...a: unknown[]) => unknown) | undefined;
  try {
    await handler?.call(s.session.delegate, s.session, ...args);
  } catch (error) {
    reportError(error);
    return error;
  }
}

/**
 * Tells the delegate of a running task's bytes received (`didWriteData`, for a download) or
 * `sent` (`didSendBodyData`), when they are more than it was told before.
 */
export function progress(s: SessionState, task: URLSessionTask | undefined, bytes: number, expected: number, sent = false): void {
  const count = sent ? 'countOfBytesSent' : 'countOfBytesReceived';
  if (!task || task.state !== 'running' || bytes <= task[count] || !(sent || task instanceof URLSessionDownloadTask)) return;
  const delta = bytes - task[count];
  task[count] = bytes;
  if (sent) return void (task.progress.sample(), tell(s, 'didSendBodyData', task, delta, bytes, expected));
  // Past the size known, it is not known (an encoding CORS hid): -1, as URLSession says.
  if (expected >= 0 || bytes > task.countOfBytesExpectedToReceive) task.countOfBytesExpectedToReceive = expected;
  task.progress.sample();
  void tell(s, 'didWriteData', task, delta, bytes, task.countOfBytesExpectedToReceive);
}

/** Ends a task the worker refused (or never knew): it is gone before its delegate is told. */
export async function fail(s: SessionState, task: URLSessionTask | undefined, error: unknown): Promise<void> {
  if (!task) return;
  s.tasks.delete(task.taskIdentifier);
  await complete(s, task, error);
}

/** Completes a task and tells its delegate; `error` is a SerializedError, an Error, or null. */
export async function complete(s: SessionState, task: URLSessionTask, error: unknown): Promise<void> {
  task.complete(error);
  await tell(s, 'didCompleteWithError', task, task.error);
  s.tasks.delete(task.taskIdentifier);
}

/** Keeps a snapshot's standby orders, one per streamed download (see `SessionSnapshot.standby`). */
export function keepStandby(s: SessionState, { tasks, gone, standby }: SessionSnapshot): void {
  for (const { taskIdentifier } of tasks) s.standby.delete(taskIdentifier);
  for (const taskIdentifier of gone ?? []) s.standby.delete(taskIdentifier);
  for (const order of standby ?? []) s.standby.set(order.tasks[0]!.taskIdentifier, order);
}
