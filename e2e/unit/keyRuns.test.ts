import 'fake-indexeddb/auto';
import { expect, test } from '@playwright/test';
import type { EventRecord, TaskRecord } from '../../common/schema.js';
import { inBatch } from '../../sw/store/batch.js';
import { handOut } from '../../sw/store/handedOut.js';
import { runsOf } from '../../sw/store/keyRuns.js';
import { readSession, readTasks } from '../../sw/store/tasks.js';

/**
 * The outbox, imported by a path tsc does not follow: it reaches worker-only code (`launch.ts`)
 * that type-checks with the worker's `lib`, not with this project's DOM one.
 */
const OUTBOX = '../../sw/store/outbox.js';
const { acknowledge } = (await import(OUTBOX)) as { acknowledge(sessionId: string, seq: number): Promise<void> };

let sessions = 0;

/**
 * A session with tasks 1 to 6, each with a small file's body; tasks 1, 2, 4 and 5 ended (their
 * events wait), 3 and 6 run. Returns the session and its events. Each ended task has one event,
 * its completion carrying its file, as the worker writes them; or, as an earlier release wrote
 * them (`separate`), a `didFinishDownloadingTo` and a `didCompleteWithError`.
 */
async function session(separate = true): Promise<{ sessionId: string; events: EventRecord[] }> {
  const sessionId = `runs-${++sessions}-${Math.random()}`;
  const ended = [1, 2, 4, 5];
  const events = await inBatch(async (tx) => {
    for (let id = 1; id <= 6; id++) {
      const state = ended.includes(id) ? 'completed' : 'running';
      void tx
        .objectStore('tasks')
        .put({ sessionId, taskIdentifier: id, state, originalRequest: { url: `https://cdn.example/${id}` } } as unknown as TaskRecord);
      void tx.objectStore('bodies').put(new ArrayBuffer(8), [sessionId, id]);
    }
    const download = { size: 8, parts: 0, partsBy: [] };
    const added = ended.flatMap((taskIdentifier) =>
      separate
        ? [
            { type: 'didFinishDownloadingTo', taskIdentifier, ...download, sessionId },
            { type: 'didCompleteWithError', taskIdentifier, error: null, sessionId },
          ]
        : [{ type: 'didCompleteWithError', taskIdentifier, error: null, download, sessionId }],
    );
    const seqs = await Promise.all(added.map((event) => tx.objectStore('events').add(event as EventRecord)));
    return added.map((event, index) => ({ ...event, seq: seqs[index] }) as EventRecord);
  });
  return { sessionId, events };
}

async function bodies(sessionId: string): Promise<number[]> {
  const keys = await inBatch((tx) => tx.objectStore('bodies').getAllKeys(IDBKeyRange.bound([sessionId, -Infinity], [sessionId, Infinity])));
  return keys.map((key) => key[1]);
}

test('identifiers make runs of consecutive ones, ascending, each once', () => {
  expect(runsOf([5, 1, 2, 3, 7, 8, 3])).toEqual([
    [1, 3],
    [5, 5],
    [7, 8],
  ]);
  expect(runsOf([])).toEqual([]);
  expect(runsOf([4])).toEqual([[4, 4]]);
});

test('an acknowledge deletes the delivered tasks and their bodies, by runs, and nothing between them', async () => {
  const { sessionId, events } = await session();
  const other = await session();
  await handOut(sessionId, events);
  await acknowledge(sessionId, events.at(-1)!.seq);
  const { tasks, events: left } = await readSession(sessionId);
  expect(tasks.map((task) => task.taskIdentifier)).toEqual([3, 6]);
  expect(left).toEqual([]);
  expect(await bodies(sessionId)).toEqual([3, 6]);
  // Another session's tasks of the same identifiers stay, with their events.
  expect((await readSession(other.sessionId)).tasks).toHaveLength(6);
  expect((await readSession(other.sessionId)).events).toHaveLength(8);
  expect(await bodies(other.sessionId)).toEqual([1, 2, 3, 4, 5, 6]);
});

test('an acknowledge of the first events deletes only their tasks', async () => {
  const { sessionId, events } = await session();
  await handOut(sessionId, events);
  // Up to task 2's completion: tasks 1 and 2 go, 4's and 5's events wait.
  await acknowledge(sessionId, events[3]!.seq);
  const { tasks, events: left } = await readSession(sessionId);
  expect(tasks.map((task) => task.taskIdentifier)).toEqual([3, 4, 5, 6]);
  expect(left.map((event) => event.taskIdentifier)).toEqual([4, 4, 5, 5]);
  expect(await bodies(sessionId)).toEqual([3, 4, 5, 6]);
});

test('an acknowledge of completions that carry their files deletes the files with the tasks', async () => {
  const { sessionId, events } = await session(false);
  expect(events).toHaveLength(4);
  await handOut(sessionId, events);
  // Up to task 4's completion: tasks 1, 2 and 4 go with their bodies, 5's event waits.
  await acknowledge(sessionId, events[2]!.seq);
  const { tasks, events: left } = await readSession(sessionId);
  expect(tasks.map((task) => task.taskIdentifier)).toEqual([3, 5, 6]);
  expect(left.map((event) => event.taskIdentifier)).toEqual([5]);
  expect(await bodies(sessionId)).toEqual([3, 5, 6]);
});

test('a read of some tasks by runs finds each asked, and tells which are gone', async () => {
  const { sessionId } = await session();
  const read = await readTasks(sessionId, [6, 1, 2, 3, 9, 5], false);
  expect(read.tasks.map((task) => task.taskIdentifier).sort()).toEqual([1, 2, 3, 5, 6]);
  expect(read.gone).toEqual([9]);
  expect(read.events).toHaveLength(8);
});

test('events read with their hand-out may be acknowledged; events read without it may not', async () => {
  const given = await session();
  const { events } = await readTasks(given.sessionId, [1], true);
  await acknowledge(given.sessionId, events.at(-1)!.seq);
  expect((await readSession(given.sessionId)).events).toEqual([]);

  const kept = await session();
  const read = await readTasks(kept.sessionId, [1], false);
  await acknowledge(kept.sessionId, read.events.at(-1)!.seq);
  expect((await readSession(kept.sessionId)).events).toHaveLength(8);
});
