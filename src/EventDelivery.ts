import type { SessionSnapshot, TaskView } from '../common/protocol.js';
import type { EventRecord } from '../common/schema.js';
import { carryOut, watch } from './fetchOrders.js';
import { callWorker } from './callWorker.js';
import { DownloadLocation } from './DownloadLocation.js';
import { keepAlive } from './KeepAlive.js';
import { complete, progress, tell, keepStandby, type SessionState } from './SessionState.js';
import { URLSessionDownloadTask, URLSessionUploadTask } from './URLSessionTask.js';

/**
 * Delivers the session's events from now on: once `attach` answers, and each time the worker
 * says they changed. A page going away tells the worker what it delivered.
 */
export function begin(s: SessionState, attach: Promise<SessionSnapshot>): Promise<void> {
  addEventListener('pagehide', () => s.acked < s.seq && void callWorker('acknowledge', s.id, (s.acked = s.seq)));
  return locked(s, async (lock) => attached(s, await attach, lock), true);
}

/**
 * Takes `attach`'s answer: with the session's lock (`lock`), its waiting events are delivered
 * from it; else its tasks are taken, and the events wait for the lock.
 */
async function attached(s: SessionState, snapshot: SessionSnapshot, lock: unknown): Promise<void> {
  if (lock) return deliverAll(s, snapshot);
  s.stamp = snapshot.stamp;
  apply(s, snapshot.tasks);
  keepStandby(s, snapshot);
  await carryOut(s, snapshot.orders);
  return drain(s);
}

/** Takes the worker's records of tasks into the page's task objects. */
export function apply(s: SessionState, records: TaskView[]): void {
  // A Background Fetch that carries several tasks tells no task's own progress.
  const carried = new Map<string | null, number>();
  for (const { transferId } of records) carried.set(transferId, (carried.get(transferId) ?? 0) + 1);
  for (const record of records) {
    const { taskIdentifier, transferId } = record;
    let task = s.tasks.get(taskIdentifier);
    if (!task) {
      const Task = record.kind === 'upload' ? URLSessionUploadTask : URLSessionDownloadTask;
      s.tasks.set(taskIdentifier, (task = new Task(s.owner, taskIdentifier, record.originalRequest)));
    }
    const waiting = task.record?.waitingFor;
    task.update(record);
    if (record.waitingFor && !waiting) void tell(s, 'taskIsWaitingForConnectivity', task);
    if (record.state === 'running' && record.engine === 'background-fetch' && transferId && carried.get(transferId) === 1) {
      watch(s, taskIdentifier, transferId, record.receivedAtStart);
    }
  }
  keepAlive(s, refresh);
}

/** A drain no one waits for: a failure (the worker gone, storage full) waits for the next. */
export function refresh(s: SessionState): void {
  drain(s).catch(() => undefined);
}

/**
 * Delivers the waiting events, in order, each once: one page at a time holds the session's
 * lock, and an event leaves the outbox only after its handler has settled.
 */
function drain(s: SessionState): Promise<void> {
  if (s.replaced || s.held) return Promise.resolve();
  if (s.draining) {
    s.drainAgain = true;
    return s.draining;
  }
  s.draining = locked(s, async () => {
    do {
      s.drainAgain = false;
      await deliverAll(s, await callWorker('snapshot', s.id, s.stamp));
    } while (s.drainAgain);
  }).finally(() => (s.draining = undefined));
  return s.draining;
}

/** Runs `run` holding the session's lock (if it is free, with `ifAvailable`; else `lock` is null). */
function locked<T>(s: SessionState, run: (lock: unknown) => Promise<T>, ifAvailable = false): Promise<T> {
  const locks = navigator.locks;
  return locks ? locks.request(`bgdl:${s.id}`, { ifAvailable }, run) : run(true);
}

/** Takes a snapshot's tasks and orders, and delivers its events. */
async function deliverAll(s: SessionState, snapshot: SessionSnapshot): Promise<void> {
  const { tasks, events, orders, stamp, gone } = snapshot;
  s.stamp = stamp;
  apply(s, tasks);
  // Asks are rare: their code loads when one comes.
  if (tasks.some((task) => task.ask)) import('./DelayedRequests.js').then(({ askDelegate }) => askDelegate(s, tasks), reportError);
  keepStandby(s, snapshot);
  // A task the worker had and no longer has was completed and delivered by another page.
  const current = new Set(tasks.map((record) => record.taskIdentifier));
  for (const taskIdentifier of gone ?? [...s.tasks.keys()].filter((id) => !current.has(id))) {
    const task = s.tasks.get(taskIdentifier);
    if (!task?.record) continue;
    task.complete(null);
    s.tasks.delete(taskIdentifier);
  }
  await carryOut(s, orders);
  for (const event of events) {
    // Taken over by a newer session of the page: the events left are its to deliver.
    if (s.replaced) break;
    // Delivered by this page already (its acknowledge had not reached the worker): not again.
    if (event.seq <= s.seq) continue;
    await deliver(s, event);
    if (s.held) break;
    s.delivered++;
    // Acknowledged without waiting: the worker is told the last event delivered so far.
    s.seq = event.seq;
    void acknowledge(s);
  }
  // Every event delivered is acknowledged, the worker's answer had, before another page may take
  // the lock or the next drain reads the outbox (WebKit once read an event again before it).
  while (s.acking || s.acked < s.seq) await acknowledge(s);
  if (s.replaced || s.held) return;
  const busy = [...s.tasks.values()].some((task) => task.state === 'running' || task.state === 'canceling');
  if (s.delivered > 0 && !busy) {
    s.delivered = 0;
    await tell(s, 'didFinishEvents');
  }
  if (s.invalid && !s.invalidTold && s.tasks.size === 0) {
    s.invalidTold = true;
    await tell(s, 'didBecomeInvalidWithError', null);
  }
}

/** Delivers one event to the delegate: a download's completion as `didFinishDownloadingTo`, then `didCompleteWithError`. */
async function deliver(s: SessionState, event: EventRecord): Promise<void> {
  const task = s.tasks.get(event.taskIdentifier);
  if (!task) return;
  // (As `downloadOf` reads it: the schema's code stays out of the page.)
  const file = event.type === 'didFinishDownloadingTo' ? event : event.download;
  // A task this page saw running gets a last progress event before it ends.
  if (file) {
    if (task.live) progress(s, task, file.size, file.size);
    const location = new DownloadLocation(event, file, task.response?.mimeType ?? '', task.response?.url ?? task.originalRequest?.url ?? '');
    const failure = await tell(s, 'didFinishDownloadingTo', task, location);
    location.close();
    // The worker deletes the file when the event is acknowledged: a handler that found no room
    // to keep it (`moveTo` copies) leaves it unacknowledged, for the next session made.
    if (failure instanceof DOMException && failure.name === 'QuotaExceededError') {
      s.held = true;
      console.warn(
        `bgdl: no room to keep the file of task ${task.taskIdentifier}: it and the events after it wait for the session ${s.id} to be created again`,
      );
      return;
    }
  }
  // (A completion: the event that has `error`.)
  if ('error' in event) {
    if (task.live && !event.error) progress(s, task, task.countOfBytesExpectedToSend, task.countOfBytesExpectedToSend, true);
    // Only a delegate that takes metrics gets them: their code loads then.
    if (event.metrics) {
      // A chunk that cannot load (offline, not cached) holds no event up: the metrics go untold.
      const metrics = await import('./URLSessionTaskMetrics.js').then(({ taskMetrics }) => taskMetrics(event.metrics!), reportError);
      if (metrics) await tell(s, 'didFinishCollecting', task, metrics);
    }
    await complete(s, task, event.error);
  }
}

/**
 * Tells the worker the events delivered up to `seq` (one call at a time: while one is under
 * way, events delivered meanwhile wait for the next, which carries them all).
 */
function acknowledge(s: SessionState): Promise<void> {
  s.acking ??= (async () => {
    while (s.acked < s.seq) await callWorker('acknowledge', s.id, (s.acked = s.seq));
  })()
    // Not acknowledged: the events are delivered again (to this page or another).
    .catch(() => undefined)
    .finally(() => (s.acking = undefined));
  return s.acking;
}
