import type { AppPage } from './fixtures.js';
import { completions, hungTask, recordSession, setHangOnFinish, waitForFinishEvents, type Recorded } from './recorder.js';
import { expect, test, unique, type FileStats, type TestServer } from './fixtures.js';
import { storedEvents } from './outbox.mjs';

const KiB = 1024;

/** `count` small files on the test server, each its own content, all under one stats id. */
function smallFiles(server: TestServer, count: number, params = '') {
  const id = unique('batch');
  const seeds = Array.from({ length: count }, (_, index) => `${id}-${index}`);
  return { id, seeds, urls: seeds.map((seed) => server.url(`/files/16k?seed=${seed}&id=${id}${params}`)) };
}

/**
 * Resumes one task per URL in the same tick, counting the Background Fetch registrations the
 * page starts (only a page can start one) and the requests they carry. Returns the tasks' ids.
 */
function resumeTogether(page: AppPage, urls: string[], expects = 0): Promise<number[]> {
  return page.evaluate(
    ({ urls, expects }) => {
      const manager = globalThis.BackgroundFetchManager?.prototype;
      const counts = { registrations: 0, requests: 0 };
      Object.assign(globalThis, { fetchCounts: counts });
      if (manager) {
        const fetch = manager.fetch;
        manager.fetch = function (id, requests, options) {
          counts.registrations++;
          counts.requests += (requests as RequestInfo[]).length;
          return fetch.call(this, id, requests, options);
        };
      }
      const tasks = urls.map((url) => globalThis.session.downloadTask(url));
      for (const task of tasks) {
        if (expects > 0) task.countOfBytesClientExpectsToReceive = expects;
        task.resume();
      }
      return tasks.map((task) => task.taskIdentifier);
    },
    { urls, expects },
  );
}

/** The most requests the server was answering at once (from each request's arrival and end). */
function mostAtOnce(log: FileStats['log']): number {
  const edges = log.flatMap(
    (entry) =>
      [
        [entry.t, 1],
        [entry.end ?? Infinity, -1],
      ] as const,
  );
  // At equal times, an end comes before a start.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, step] of edges) most = Math.max(most, (now += step));
  return most;
}

/** Checks that every task got its own file (SHA-256 of its source) and its completion, each once. */
async function expectEachOnce(events: Recorded[], server: TestServer, ids: number[], seeds: string[]): Promise<void> {
  const finished = events.filter((event) => event[0] === 'didFinishDownloadingTo');
  const completed = events.filter((event) => event[0] === 'didCompleteWithError');
  expect(finished.map((event) => event[1]).sort()).toEqual([...ids].sort());
  expect(completed.map((event) => event[1]).sort()).toEqual([...ids].sort());
  expect(completed.every((event) => event[2] === null)).toBe(true);
  const expected = await Promise.all(seeds.map((seed) => server.sha256(seed, 16 * KiB)));
  const sha256 = new Map(finished.map((event) => [event[1], (event[2] as { sha256: string }).sha256]));
  expect(ids.map((id) => sha256.get(id))).toEqual(expected);
  // Each task's file comes before its completion.
  for (const id of ids) {
    const at = (type: string) => events.findIndex((event) => event[0] === type && event[1] === id);
    expect(at('didFinishDownloadingTo')).toBeLessThan(at('didCompleteWithError'));
  }
}

/**
 * What is left stored of a session's files: small files whose bytes are in the database (in a
 * pack its events point to), temporary parts in Cache Storage; and packs no event points to
 * (of any session: none should be left).
 */
function storedFiles(page: AppPage, sessionId: string): Promise<{ bodies: number; parts: number; lostPacks: number }> {
  return page.evaluate(async (sessionId) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('bgdl');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const read = <T>(store: string, all: (store: IDBObjectStore) => IDBRequest<T>) =>
      new Promise<T>((resolve, reject) => {
        const request = all(db.transaction(store).objectStore(store));
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    const [packs, events] = await Promise.all([read('packs', (store) => store.getAllKeys()), read('events', (store) => store.getAll())]);
    db.close();
    const packOf = (event: { download?: { inPack?: { pack: number } } }) => event.download?.inPack?.pack;
    const cached = await (await caches.open('bgdl-files')).keys();
    const folder = `/tmp/~${encodeURIComponent(sessionId)}/`;
    return {
      bodies: events.filter((event) => event.sessionId === sessionId && packs.includes(packOf(event)!)).length,
      parts: cached.filter((request) => new URL(request.url).pathname.includes(folder)).length,
      lostPacks: packs.filter((pack) => !events.some((event) => packOf(event) === pack)).length,
    };
  }, sessionId);
}

test('200 small tasks resumed together with a page in view: streamed, every task its own file and events, once', async ({ page, server }) => {
  test.setTimeout(180_000);
  // The server holds each request 250 ms before it answers, so that the requests in flight at
  // once show in its log.
  const files = smallFiles(server, 200, '&delay=250');
  const sessionId = unique('batching');
  await recordSession(page, sessionId);
  await page.evaluate(() => globalThis.session.ready);
  // Each says it is small (countOfBytesClientExpectsToReceive, Apple's article's hint).
  const ids = await resumeTogether(page, files.urls, 64 * 1024);

  await waitForFinishEvents(page, 1, 150_000);
  const events = await completions(page);
  await expectEachOnce(events, server, ids, files.seeds);
  // Each file's temporary location went once its events were delivered (small files are kept
  // in the database, not in Cache Storage).
  await expect.poll(() => storedFiles(page, sessionId)).toEqual({ bodies: 0, parts: 0, lostPacks: 0 });
  expect(events.filter((event) => event[0] === 'didFinishEvents')).toHaveLength(1);
  expect(events.at(-1)).toEqual(['didFinishEvents']);

  const { log } = await server.stats(files.id);
  const gets = log.filter((entry) => entry.method === 'GET');
  // Each file was fetched once, with no HEAD first: no task fell back to another transfer.
  expect(gets).toHaveLength(200);
  expect(log).toHaveLength(200);
  // Even where Background Fetch exists: many tasks with the app in view go on the streaming
  // engine (Background Fetch would run them two at a time), one fetch per task, at most 6 at
  // a time (HTTP/1.1's per-host limit).
  const counts = await page.evaluate(() => globalThis.fetchCounts);
  expect(counts.registrations).toBe(0);
  const most = mostAtOnce(gets);
  expect(most).toBeLessThanOrEqual(6);
  expect(most).toBeGreaterThan(1);
});

test('10 tasks of unknown size resumed together: one Background Fetch registration carries them all', async ({ page, server, engine }) => {
  test.skip(engine === 'stream', 'a Background Fetch registration: this browser has none');
  test.setTimeout(120_000);
  // No size hint: the files may be large, and only Background Fetch goes on with the page closed.
  const files = smallFiles(server, 10);
  await recordSession(page, unique('batching'));
  await page.evaluate(() => globalThis.session.ready);
  const ids = await resumeTogether(page, files.urls);

  await waitForFinishEvents(page, 1, 90_000);
  const events = await completions(page);
  await expectEachOnce(events, server, ids, files.seeds);
  expect(events.at(-1)).toEqual(['didFinishEvents']);
  // One registration carries all 10 requests (Chromium runs one registration at a time).
  expect(await page.evaluate(() => globalThis.fetchCounts)).toEqual({ registrations: 1, requests: 10 });
  const gets = (await server.stats(files.id)).log.filter((entry) => entry.method === 'GET');
  expect(gets).toHaveLength(10);
  // Background Fetch runs a registration's requests two at a time.
  expect(mostAtOnce(gets)).toBeLessThanOrEqual(2);
});

test('300 waiting events are delivered to a new page once each, in the order they happened', async ({ page, openApp, server, engine }) => {
  test.setTimeout(180_000);
  const sessionId = unique('waiting');
  const files = smallFiles(server, 150);
  // The first page hangs in its first didFinishDownloadingTo: every event waits in the outbox.
  await recordSession(page, sessionId);
  await setHangOnFinish(page, true);
  const ids = await resumeTogether(page, files.urls);
  await expect.poll(() => hungTask(page), { timeout: 60_000 }).toBeDefined();
  await expect.poll(() => page.evaluate(async () => (await globalThis.session.debugState()).waitingEvents), { timeout: 120_000 }).toBe(300);

  const next = await openApp();
  await page.close();
  // The outbox as the worker keeps it, in order: a download's completion carries its file, and
  // gives the delegate `didFinishDownloadingTo` before `didCompleteWithError`.
  const records = (await next.evaluate(storedEvents, sessionId)).map((e) => [e.type, e.taskIdentifier, e.download !== undefined] as const);
  expect(records).toHaveLength(150);
  expect(records.every(([type, , download]) => type === 'didCompleteWithError' && download)).toBe(true);
  const outbox = records.flatMap(([type, id]) => [
    ['didFinishDownloadingTo', id],
    [type, id],
  ]);
  // Until delivered, each file is kept: a streamed small file's bytes in the database, a
  // Background Fetch's file as its part in Cache Storage.
  expect(await storedFiles(next, sessionId)).toEqual(engine === 'stream' ? { bodies: 150, parts: 0, lostPacks: 0 } : { bodies: 0, parts: 150, lostPacks: 0 });

  await recordSession(next, sessionId);
  await waitForFinishEvents(next, 1, 60_000);
  const events = await completions(next);
  expect(events.slice(0, -1).map((event) => [event[0], event[1]])).toEqual(outbox);
  expect(events.at(-1)).toEqual(['didFinishEvents']);
  await expectEachOnce(events, server, ids, files.seeds);
  expect(await next.evaluate(async () => (await globalThis.session.debugState()).waitingEvents)).toBe(0);
  await expect.poll(() => storedFiles(next, sessionId)).toEqual({ bodies: 0, parts: 0, lostPacks: 0 });
});
