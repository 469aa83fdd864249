import type { SerializedError } from '../common/errors.js';
import type { FetchOrder } from '../common/protocol.js';
import { callWorker } from './callWorker.js';
import { progress, type SessionState } from './SessionState.js';

/** Starts the Background Fetches the worker ordered (browsers let only pages start them). */
export async function carryOut(s: SessionState, orders: FetchOrder[]): Promise<void> {
  for (const { transferId, tasks, requests, body, options } of orders) {
    const manager = (await backgroundFetch())!;
    try {
      // A file's request (with an upload's body) or its byte ranges, for each task it carries.
      const registration = await manager.fetch(
        transferId,
        requests.map((each) => new Request(each.url, { ...each, body })),
        options,
      );
      // Its progress is a task's only when it carries one.
      if (tasks.length === 1) void watch(s, tasks[0]!.taskIdentifier, transferId, registration, tasks[0]!.received);
    } catch (error) {
      // Another page of the app may have started the same order already.
      if (await manager.get(transferId)) continue;
      // A DOMException or TypeError: posted as it is, with its name and message.
      await callWorker('fail', s.id, transferId, error as SerializedError);
    }
  }
}

/**
 * Reports a Background Fetch's progress as `didWriteData` while this page is open. The
 * registration fetches what is not stored yet: its bytes count from `received` on.
 */
export async function watch(s: SessionState, taskIdentifier: number, transferId: string, started?: BackgroundFetchRegistration, received = 0): Promise<void> {
  if (s.watched.has(transferId)) return;
  const registration = started ?? (await (await backgroundFetch())?.get(transferId));
  if (s.watched.has(transferId)) return;
  if (!registration) {
    // Another page may not have started the order yet: look again while the task runs.
    if (s.tasks.get(taskIdentifier)?.state === 'running') setTimeout(() => void watch(s, taskIdentifier, transferId, undefined, received), 1000);
    return;
  }
  s.watched.add(transferId);
  registration.addEventListener('progress', () => {
    const task = s.tasks.get(taskIdentifier);
    if (registration.uploadTotal > 0) progress(s, task, registration.uploaded, registration.uploadTotal, true);
    const total = registration.downloadTotal ? received + registration.downloadTotal : -1;
    progress(s, task, received + registration.downloaded, total);
  });
}

/** The Background Fetch manager (browsers without it never get orders to carry out). */
async function backgroundFetch(): Promise<BackgroundFetchManager | undefined> {
  return (await navigator.serviceWorker.ready).backgroundFetch;
}
