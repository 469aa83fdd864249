import 'fake-indexeddb/auto';
import { expect, test } from '@playwright/test';
import { DB_NAME } from '../../common/schema.js';
import type { EventRecord, TaskRecord } from '../../common/schema.js';
import { inBatch } from '../../sw/store/batch.js';
import { readAhead, takeReadAhead } from '../../sw/store/readAhead.js';
import { changeTasks, moveTask, readSession } from '../../sw/store/tasks.js';

let sessions = 0;

/** A new session with `count` completed tasks and an event for each, waiting. */
async function sessionWithEvents(count: number): Promise<string> {
  const sessionId = `read-ahead-${++sessions}-${Math.random()}`;
  const tasks = Array.from(
    { length: count },
    (_, i) =>
      ({
        sessionId,
        taskIdentifier: i + 1,
        state: 'completed',
        originalRequest: { url: `https://cdn.example/${i}`, method: 'GET', headers: [] },
      }) as unknown as TaskRecord,
  );
  await inBatch(async (tx) => {
    await Promise.all(tasks.map((task) => tx.objectStore('tasks').put(task)));
    const events = tasks.map(
      (task) => ({ type: 'didCompleteWithError', taskIdentifier: task.taskIdentifier, error: null, sessionId }) as Omit<EventRecord, 'seq'>,
    );
    await Promise.all(events.map((event) => tx.objectStore('events').add(event as EventRecord)));
  });
  return sessionId;
}

/** Lets the read ahead begin (it starts from a promise). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

test('a session read ahead is taken once, as the store has it', async () => {
  const id = await sessionWithEvents(3);
  readAhead([id]);
  await settle();
  const read = await takeReadAhead(id);
  const { views, ...records } = read!;
  expect(records).toEqual(await readSession(id));
  expect(views.map((view) => view.taskIdentifier)).toEqual([1, 2, 3]);
  expect(read!.events.map((event) => event.taskIdentifier)).toEqual([1, 2, 3]);
  expect(await takeReadAhead(id)).toBeUndefined();
});

test('several sessions are read ahead at once, each once', async () => {
  const [a, b] = [await sessionWithEvents(1), await sessionWithEvents(2)];
  readAhead([a, b, a]);
  await settle();
  expect((await takeReadAhead(a))?.tasks).toHaveLength(1);
  expect((await takeReadAhead(b))?.tasks).toHaveLength(2);
});

test('a batched write after the read makes it stale', async () => {
  const id = await sessionWithEvents(2);
  readAhead([id]);
  await settle();
  // A write of another session's records: the mark does not know which session it changed.
  await sessionWithEvents(1);
  expect(await takeReadAhead(id)).toBeUndefined();
});

test('a write begun before the read finished makes it stale', async () => {
  const id = await sessionWithEvents(2);
  readAhead([id]);
  await moveTask(id, 1, { state: 'running' }, () => true).catch(() => undefined);
  await changeTasks(id, [2], ([task]) => ({ write: [{ ...task!, taskDescription: 'changed' }], tell: false }));
  expect(await takeReadAhead(id)).toBeUndefined();
  expect((await readSession(id)).tasks[1]!.taskDescription).toBe('changed');
});

test("another worker's write (another connection) makes it stale", async () => {
  const id = await sessionWithEvents(1);
  readAhead([id]);
  await settle();
  const other = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(DB_NAME);
    Object.assign(request, { onsuccess: () => resolve(request.result), onerror: reject });
  });
  await new Promise((resolve, reject) => {
    const tx = other.transaction(['tasks', 'app'], 'readwrite');
    tx.objectStore('tasks').put({ sessionId: id, taskIdentifier: 9, state: 'completed' });
    tx.objectStore('app').put(Math.random(), 'written');
    Object.assign(tx, { oncomplete: resolve, onerror: reject });
  });
  other.close();
  expect(await takeReadAhead(id)).toBeUndefined();
});

test('a session read with no write since, another connection reading too, is taken', async () => {
  const id = await sessionWithEvents(1);
  readAhead([id]);
  await settle();
  // A read-only look (a page's debugState, another worker's read) changes nothing.
  await readSession(id);
  expect((await takeReadAhead(id))?.tasks.map((task) => task.taskIdentifier)).toEqual([1]);
});

test('a session read ahead again after a write is taken: the newer read replaces the stale one', async () => {
  const id = await sessionWithEvents(1);
  readAhead([id]);
  await settle();
  await changeTasks(id, [1], ([task]) => ({ write: [{ ...task!, taskDescription: 'changed' }], tell: false }));
  readAhead([id]);
  await settle();
  expect((await takeReadAhead(id))?.tasks[0]!.taskDescription).toBe('changed');
});
