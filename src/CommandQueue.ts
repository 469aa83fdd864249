import { URLError } from '../common/errors.js';
import type { SessionSnapshot, TaskInit } from '../common/protocol.js';
import { carryOut } from './fetchOrders.js';
import { callWorker } from './callWorker.js';
import { offerWriter } from './offerWriter.js';
import { delivery, refresh } from './delivery.js';
import { fail, keepStandby, type SessionState } from './SessionState.js';
import type { TaskOwner, URLSessionTask } from './URLSessionTask.js';

/** What the session's tasks ask of the worker, in the order they ask it. */
export function taskOwner(s: SessionState): TaskOwner {
  return {
    resume(task) {
      const { taskIdentifier, originalRequest: request, init } = task;
      const item: number | TaskInit = init
        ? {
            taskIdentifier,
            request: { url: request.url, method: request.method, headers: [...request.headers], integrity: request.integrity },
            taskDescription: task.taskDescription,
            countOfBytesClientExpectsToReceive: Math.max(0, task.countOfBytesClientExpectsToReceive),
            countOfBytesClientExpectsToSend: Math.max(0, task.countOfBytesClientExpectsToSend),
            earliestBeginDate: task.earliestBeginDate?.getTime() ?? null,
            priority: task.priority,
            resumeData: null,
            body: null,
            ...init,
          }
        : taskIdentifier;
      // From now on the worker knows the task.
      task.init = undefined;
      // Tasks resumed in the same tick (until another call is queued) go in one worker call,
      // so that the worker can put them into as few transfers as possible.
      if (!s.batch) {
        const batch: NonNullable<SessionState['batch']> = [[], [], Promise.resolve()];
        batch[2] = command(s, batch[0], () => {
          if (s.batch === batch) s.batch = undefined;
          // The worker's writer for large bodies, given before the transfers start.
          return offerWriter().then(() => callWorker('resume', s.id, batch[1]));
        });
        s.batch = batch;
      }
      s.batch[0].push(task);
      s.batch[1].push(item);
      return s.batch[2];
    },
    suspend(task) {
      // A task the worker never knew has no transfer to stop.
      return task.init ? Promise.resolve() : command(s, [task], () => callWorker('suspend', s.id, task.taskIdentifier));
    },
    cancel(task) {
      if (task.init) cancelUnknown(s, task);
      else command(s, [task], () => callWorker('cancel', s.id, task.taskIdentifier));
    },
    async cancelByProducingResumeData(task) {
      if (task.init) return (cancelUnknown(s, task), null);
      const data = serial(s, () => callWorker('cancelByProducingResumeData', s.id, task.taskIdentifier));
      void data.then(
        () => refresh(s),
        () => undefined,
      );
      return (await data) ?? null;
    },
  };
}

/** A task the worker never knew ends here when cancelled. */
function cancelUnknown(s: SessionState, task: URLSessionTask): void {
  void fail(s, task, new URLError('cancelled', 'The download was cancelled'));
}

/** Runs a worker call after the earlier ones (and ends the batch of this tick). */
export function serial<T>(s: SessionState, call: () => Promise<T>): Promise<T> {
  s.batch = undefined;
  const result = s.calls.then(call);
  s.calls = result.catch(() => undefined);
  return result;
}

/** Runs a worker call for tasks after the earlier ones; a failure completes the tasks. */
function command(s: SessionState, tasks: URLSessionTask[], call: () => Promise<SessionSnapshot | void>): Promise<void> {
  // Queued after `attach`, so the worker knows the session first.
  return serial(s, async () => {
    try {
      const snapshot = await call();
      if (snapshot) {
        for (const [taskIdentifier, error] of snapshot.rejected ?? []) await fail(s, s.tasks.get(taskIdentifier as number), error);
        (await delivery()).apply(s, snapshot.tasks);
        keepStandby(s, snapshot);
        await carryOut(s, snapshot.orders);
      }
    } catch (error) {
      for (const task of tasks) await fail(s, task, error);
    }
  });
}
