import { expect, test, unique, type TestServer, type AppPage } from './fixtures.js';
import { completions, MiB, recordSession, testFile, waitForFinishEvents } from './recorder.js';

/** Starts downloads of `urls` in one tick, with their priorities; returns their task identifiers. */
function startAll(page: AppPage, downloads: { url: string; priority?: number }[]): Promise<number[]> {
  return page.evaluate((downloads) => {
    const session = globalThis.session;
    return downloads.map(({ url, priority }) => {
      const task = session.downloadTask(url);
      if (priority !== undefined) task.priority = priority;
      task.resume();
      return task.taskIdentifier as number;
    });
  }, downloads);
}

/** The most `GET`s of the given ids that the server had open at once, from its log. */
async function mostOpenAtOnce(server: TestServer, ids: string[]): Promise<number> {
  const spans = (await Promise.all(ids.map(async (id) => (await server.stats(id)).log))).flat().filter((entry) => entry.method === 'GET');
  const edges = spans.flatMap((span) => [[span.t, 1] as const, [span.end ?? Infinity, -1] as const]);
  // An end and a start at the same ms: the end first (the connection was free again).
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, change] of edges) most = Math.max(most, (open += change));
  return most;
}

test('httpMaximumConnectionsPerHost = 2: 12 downloads to one host never have more than 2 requests open at once', async ({ page, server, engine }) => {
  test.skip(engine === 'background-fetch', "The cap is the streaming engine's: Chromium runs a Background Fetch registration's requests itself");
  await recordSession(page, unique('perhost'), { httpMaximumConnectionsPerHost: 2 });
  // 1 MiB each at 4 MB/s: a quarter of a second on the wire, so that they overlap if allowed to.
  const files = Array.from({ length: 12 }, () => testFile(server, 1, '&rate=4000000'));
  await startAll(
    page,
    files.map(({ url }) => ({ url })),
  );
  await waitForFinishEvents(page, 1, 90_000);
  const events = await completions(page);
  expect(events.filter(([type]) => type === 'didCompleteWithError')).toHaveLength(12);
  expect(events.filter(([type, , error]) => type === 'didCompleteWithError' && error !== null)).toEqual([]);
  expect(
    await mostOpenAtOnce(
      server,
      files.map(({ id }) => id),
    ),
  ).toBe(2);
});

test('priority: a task of priority 1 resumed after ten of priority 0.5 starts before those still waiting', async ({ page, server, engine }) => {
  test.skip(
    engine === 'background-fetch',
    "A Background Fetch registration runs its requests in its own order: priority orders the streaming engine's run queue",
  );
  await recordSession(page, unique('priority'), { httpMaximumConnectionsPerHost: 1 });
  const low = Array.from({ length: 10 }, () => testFile(server, 1, '&rate=4000000'));
  const high = testFile(server, 1, '&rate=4000000');
  await startAll(
    page,
    low.map(({ url }) => ({ url, priority: 0.5 })),
  );
  // The first low task holds the one connection: the others wait in the run queue.
  await expect.poll(async () => (await server.stats(low[0]!.id)).requests).toBe(1);
  await startAll(page, [{ url: high.url, priority: 1 }]);
  await waitForFinishEvents(page, 1, 90_000);
  const firstGet = async (id: string) => (await server.stats(id)).log.find((entry) => entry.method === 'GET')!.t;
  const starts = await Promise.all(low.map(({ id }) => firstGet(id)));
  const highStart = await firstGet(high.id);
  // Only the low task that had the connection started before it; each of the other nine after.
  expect(starts.filter((t) => t < highStart)).toHaveLength(1);
  expect(starts.filter((t) => t >= highStart)).toHaveLength(9);
});

test('timeoutIntervalForResource: a task that has not finished in time ends as timedOut, once, also across a worker stop', async ({
  page,
  server,
  stopWorkers,
}) => {
  await recordSession(page, unique('resource'), { timeoutIntervalForResource: 4 });
  // 32 MiB at 1 MB/s: far longer than the 4 s the session allows.
  const slow = testFile(server, 32, '&rate=1000000');
  const [task] = await startAll(page, [{ url: slow.url }]);
  await expect.poll(async () => (await server.stats(slow.id)).bytesSent).toBeGreaterThan(0);
  await stopWorkers();
  await waitForFinishEvents(page, 1, 60_000);
  const events = await completions(page);
  expect(events).toEqual([
    [
      'didCompleteWithError',
      task,
      expect.objectContaining({ name: 'URLError', code: 'timedOut', message: expect.stringContaining('timeoutIntervalForResource') }),
    ],
    ['didFinishEvents'],
  ]);
  // The transfer is stopped: the server is not asked for the rest.
  const sent = (await server.stats(slow.id)).bytesSent;
  await page.waitForTimeout(2000);
  expect((await server.stats(slow.id)).bytesSent).toBeLessThanOrEqual(sent + MiB);
  expect(sent).toBeLessThan(slow.size);
});
