import { serializeError } from '../common/errors.js';
import type { EventRecord, ResponseRecord, TaskEvent } from '../common/schema.js';
import { inBatch } from './batch.js';
import { touch } from './changes.js';
import { announce, notificationsGranted } from './launch.js';
import { notify } from './notify.js';

/**
 * How a transfer ended: its file is stored in `parts` at the task's temporary keys, or is a
 * small file's `body`, stored here with the completion; or it failed.
 */
export type Outcome = { response: ResponseRecord; size: number; parts: number; body?: ArrayBuffer } | { error: unknown };

/**
 * Ends a task: in one transaction (shared with other writes of the moment), marks it completed
 * and queues its delegate events in the outbox, so that a stop at any point leaves either both
 * or neither. Only the transfer the task is waiting for (`transferId`) may end it; a late or
 * repeated report is ignored. Returns whether the task was ended by this call.
 */
export async function completeTask(
  sessionId: string,
  taskIdentifier: number,
  transferId: string | null,
  outcome: Outcome,
): Promise<boolean> {
  const ended = await inBatch(async (tx) => {
    const tasks = tx.objectStore('tasks');
    // Requests in a transaction run in order: each `await` is a round trip to the database, so
    // those that need no answer go together (with many tasks ending, the round trips added up).
    // The configuration is needed only for a launch notification, which needs permission.
    const granted = notificationsGranted();
    const [task, configuration] = await Promise.all([tasks.get([sessionId, taskIdentifier]), granted ? tx.objectStore('sessions').get(sessionId) : undefined]);
    const engine = task?.engine;
    if (!task || task.state === 'completed' || task.transferId !== transferId) return undefined;
    const events: TaskEvent[] = [];
    if ('error' in outcome) {
      task.error = serializeError(outcome.error);
    } else {
      task.response = outcome.response;
      task.countOfBytesReceived = outcome.size;
      task.countOfBytesExpectedToReceive = outcome.size;
      if (task.kind === 'upload') {
        task.countOfBytesSent = task.countOfBytesExpectedToSend;
      } else {
        task.parts = outcome.parts;
        events.push({ type: 'didFinishDownloadingTo', taskIdentifier, size: outcome.size, parts: outcome.parts });
      }
    }
    events.push({ type: 'didCompleteWithError', taskIdentifier, error: task.error });
    task.state = 'completed';
    task.transferId = null;
    task.body = null;
    const writes = [tasks.put(task), ...events.map((event) => tx.objectStore('events').add({ ...event, sessionId } as EventRecord))];
    if ('body' in outcome && outcome.body) writes.push(tx.objectStore('bodies').put(outcome.body, [sessionId, taskIdentifier]));
    // Counted only when a launch notification may be shown (the streaming engine's tasks, with
    // permission): with many tasks ending, reading every waiting event each time adds up.
    const announcing = granted && engine === 'stream' && configuration?.sessionSendsLaunchEvents === true;
    const waiting = announcing ? tx.objectStore('events').index('bySession').getAll(sessionId) : [];
    await Promise.all(writes);
    return { configuration, announcing, finished: (await waiting).filter((event) => event.type === 'didCompleteWithError').length };
  });
  if (!ended) return false;
  touch(sessionId, [taskIdentifier]);
  notify({ type: 'changed', sessionId });
  // Background Fetch shows its own UI; for the streaming engine's tasks, a notification.
  if (ended.announcing) await announce(ended.configuration, ended.finished).catch(() => undefined);
  return true;
}
