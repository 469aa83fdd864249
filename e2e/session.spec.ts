import {
  collectMetrics,
  completions,
  hungTask,
  type CollectedMetrics,
  recordSession,
  recorded,
  setHangOnFinish,
  setMoveTo,
  startDownload,
  waitForFinishEvents,
} from './recorder.js';
import { expect, test, unique } from './fixtures.js';

const MiB = 1024 * 1024;

test('a download outlives the page that started it; a new page gets its events once, in order', async ({ page, openApp, server }) => {
  const sessionId = unique('survive');
  const id = unique('file');
  // 20 MiB at 4 MB/s a response (Background Fetch asks for two ranges at a time): at least
  // 2.6 s on the wire, so the page closes mid-download.
  const url = server.url(`/files/20m?seed=${id}&id=${id}&rate=4000000`);
  await recordSession(page, sessionId);
  const taskIdentifier = await startDownload(page, url);
  await expect.poll(async () => (await server.stats(id)).bytesSent, { timeout: 30_000 }).toBeGreaterThan(0);
  await page.close();
  expect((await server.stats(id)).bytesSent).toBeLessThan(20 * MiB);

  // The transfer goes on with no page of the app open (the fixture's about:blank tab stays).
  await expect.poll(async () => (await server.stats(id)).bytesSent, { timeout: 60_000 }).toBe(20 * MiB);

  const next = await openApp();
  await recordSession(next, sessionId);
  await waitForFinishEvents(next);
  expect(await completions(next)).toEqual([
    ['didFinishDownloadingTo', taskIdentifier, { sha256: await server.sha256(id, '20m'), size: 20 * MiB, movedTo: null }],
    ['didCompleteWithError', taskIdentifier, null],
    ['didFinishEvents'],
  ]);
  // Each byte was fetched once (Background Fetch asks for the file in byte ranges).
  expect((await server.stats(id)).bytesSent).toBe(20 * MiB);

  // A further reload delivers nothing again, and the finished task has left the session.
  await next.reload();
  await recordSession(next, sessionId);
  await next.evaluate(() => globalThis.session.ready);
  expect(await recorded(next)).toEqual([]);
  expect(await next.evaluate(async () => (await globalThis.session.getAllTasks()).length)).toBe(0);
});

test("a new page's re-attached task shows the server's response: status, media type, headers", async ({ page, openApp, server }) => {
  const sessionId = unique('response');
  const id = unique('file');
  await recordSession(page, sessionId);
  // The first page never settles its handler: the events wait for the next page.
  await setHangOnFinish(page, true);
  const taskIdentifier = await startDownload(page, server.url(`/files/1m?seed=${id}&id=${id}`));
  await expect.poll(() => hungTask(page), { timeout: 60_000 }).toBe(taskIdentifier);
  await page.close();

  const next = await openApp();
  const seen = await next.evaluate(
    ({ sessionId }) =>
      new Promise((resolve) => {
        const { URLSession, URLSessionConfiguration } = globalThis.bgdl;
        new URLSession(URLSessionConfiguration.background(sessionId), {
          didFinishDownloadingTo(_s, task) {
            const { statusCode, mimeType, expectedContentLength, headers } = task.response!;
            resolve({
              taskIdentifier: task.taskIdentifier,
              statusCode,
              mimeType,
              expectedContentLength,
              etag: headers.get('ETag'),
              same: headers === task.response!.headers,
            });
          },
        });
      }),
    { sessionId },
  );
  expect(seen).toEqual({
    taskIdentifier,
    statusCode: 200,
    mimeType: 'application/octet-stream',
    expectedContentLength: MiB,
    etag: `"${id}-${MiB}-v1"`,
    same: true,
  });
});

test('didWriteData reports non-decreasing totals that end at the file size', async ({ page, server }) => {
  const id = unique('progress');
  await recordSession(page, unique('progress-session'));
  const taskIdentifier = await startDownload(page, server.url(`/files/20m?seed=${id}&id=${id}&rate=10000000`));
  await waitForFinishEvents(page);

  const events = await recorded(page);
  const writes = events.filter((e) => e[0] === 'didWriteData');
  expect(writes.length).toBeGreaterThan(1);
  let total = 0;
  for (const [, task, written, totalWritten] of writes as [string, number, number, number, number][]) {
    expect(task).toBe(taskIdentifier);
    expect(written).toBeGreaterThan(0);
    expect(totalWritten).toBe(total + written);
    total = totalWritten;
  }
  expect(total).toBe(20 * MiB);
  // The streaming engine knows the size from Content-Length; Background Fetch tells no headers
  // before the end, but the worker asked for the size (HEAD) to fetch the file in byte ranges.
  expect(writes.at(-1)?.[4]).toBe(20 * MiB);
  // Every write comes before the file is handed over.
  const finished = events.findIndex((e) => e[0] === 'didFinishDownloadingTo');
  expect(events.findLastIndex((e) => e[0] === 'didWriteData')).toBeLessThan(finished);
  expect(await completions(page)).toEqual([
    ['didFinishDownloadingTo', taskIdentifier, { sha256: await server.sha256(id, '20m'), size: 20 * MiB, movedTo: null }],
    ['didCompleteWithError', taskIdentifier, null],
    ['didFinishEvents'],
  ]);
});

test("task.progress: its throughput is the server's pace, and the time it estimates is left shrinks as the download goes", async ({ page, server, engine }) => {
  const id = unique('pace');
  // 2 MB/s a response; Background Fetch fetches two ranges at a time.
  const rate = 2_000_000;
  const pace = engine === 'background-fetch' ? 2 * rate : rate;
  await recordSession(page, unique('pace-session'));
  const taskIdentifier = await startDownload(page, server.url(`/files/${engine === 'background-fetch' ? 48 : 24}m?seed=${id}&id=${id}&rate=${rate}`));
  const look = () =>
    page.evaluate(async (taskIdentifier) => {
      const task = (await globalThis.session.getAllTasks()).find((each) => each.taskIdentifier === taskIdentifier)!;
      const { throughput, estimatedTimeRemaining, fractionCompleted, completedUnitCount } = task.progress;
      return { throughput, estimatedTimeRemaining, fractionCompleted, completedUnitCount };
    }, taskIdentifier);
  // Once a second for 6 s, from 8 MiB on (past the time a registration takes to get going).
  await expect.poll(async () => (await look()).completedUnitCount, { timeout: 30_000 }).toBeGreaterThanOrEqual(8 * MiB);
  const seen = [];
  for (let second = 0; second < 6; second++, await page.waitForTimeout(1000)) seen.push(await look());
  const throughputs = seen.map(({ throughput }) => throughput!).sort((a, b) => a - b);
  const median = throughputs[3]!;
  expect(Math.abs(median - pace) / pace, `median ${median} B/s, against ${pace}: ${JSON.stringify(seen)}`).toBeLessThanOrEqual(0.25);
  const times = seen.map(({ estimatedTimeRemaining }) => estimatedTimeRemaining!);
  expect(
    times.every((time) => time > 0),
    JSON.stringify(seen),
  ).toBe(true);
  expect(times.at(-1)!).toBeLessThan(times[0]! - 3);
  expect(seen.at(-1)!.fractionCompleted).toBeGreaterThan(seen[0]!.fractionCompleted);
  await waitForFinishEvents(page, 1, 60_000);
});

test("didFinishCollecting: each task's metrics once, just before its end, with each request's range, status and bytes, and its redirects", async ({
  page,
  server,
  engine,
}) => {
  const cut = unique('cut');
  const moved = unique('moved');
  await collectMetrics(page);
  await recordSession(page, unique('metrics'));
  // The streaming engine's response is cut at 12 MiB once: the parts stored are kept, and a range resumes after them.
  const cutTask = await startDownload(page, server.url(`/files/20m?seed=${cut}&id=${cut}&drop=12582912&dropDelay=2000&times=1`));
  const movedTask = await startDownload(page, server.url(`/redirect/3/files/1m?seed=${moved}&id=${moved}`));
  await waitForFinishEvents(page);
  const events = await completions(page);
  for (const task of [cutTask, movedTask]) {
    const own = events.filter((event) => event[1] === task).map(([type]) => type);
    expect(own).toEqual(['didFinishDownloadingTo', 'didFinishCollecting', 'didCompleteWithError']);
  }
  const metricsOf = (task: number) =>
    (events.find((event) => event[0] === 'didFinishCollecting' && event[1] === task) as [string, number, CollectedMetrics])[2];

  const { taskInterval, transactionMetrics, redirectCount } = metricsOf(cutTask);
  expect(redirectCount).toBe(0);
  expect(transactionMetrics.reduce((sum, each) => sum + each.countOfResponseBodyBytesReceived, 0)).toBe(20 * MiB);
  if (engine === 'background-fetch') {
    // One registration, its ranges (the cut one again): the browser tells no times of its requests.
    expect(transactionMetrics.map(({ engine, statusCode }) => [engine, statusCode])).toEqual([['background-fetch', 206]]);
  } else {
    const kept = transactionMetrics[0]!.countOfResponseBodyBytesReceived;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(12 * MiB);
    expect(transactionMetrics.map(({ engine, request, statusCode }) => [engine, request.range, statusCode])).toEqual([
      ['stream', null, 200],
      ['stream', `bytes=${kept}-`, 206],
    ]);
  }
  for (const each of transactionMetrics) {
    expect(each.request.url).toContain(`id=${cut}`);
    expect(taskInterval.start).toBeLessThanOrEqual(each.fetchStartDate);
    expect(each.fetchStartDate).toBeLessThanOrEqual(each.responseEndDate);
    expect(each.responseEndDate).toBeLessThanOrEqual(taskInterval.end);
  }
  if (engine !== 'background-fetch') {
    // The worker's resource timing of the request that ended whole (every browser here gives it).
    const { resourceTiming, fetchStartDate, responseEndDate } = transactionMetrics.at(-1)!;
    expect(resourceTiming).toMatchObject({ nextHopProtocol: 'http/1.1' });
    expect(resourceTiming.responseEnd).toBeGreaterThanOrEqual(fetchStartDate - 50);
    expect(resourceTiming.responseEnd).toBeLessThanOrEqual(responseEndDate + 50);
  }
  expect(taskInterval.duration).toBeCloseTo((taskInterval.end - taskInterval.start) / 1000, 3);

  // Three redirects: fetch tells that the response was redirected, not how many times.
  const redirected = metricsOf(movedTask);
  expect(redirected.redirectCount).toBe(1);
  expect(
    redirected.transactionMetrics.map(({ redirected, statusCode, countOfResponseBodyBytesReceived }) => [
      redirected,
      statusCode,
      countOfResponseBodyBytesReceived,
    ]),
  ).toEqual([[true, 200, MiB]]);
});

test('a 404 ends in a named error that carries the status', async ({ page, server }) => {
  const id = unique('missing');
  await recordSession(page, unique('errors'));
  const taskIdentifier = await startDownload(page, server.url(`/files/1m?seed=${id}&id=${id}&status=404`));
  await waitForFinishEvents(page);
  const events = await completions(page);
  expect(events).toHaveLength(2);
  expect(events[0]).toEqual(['didCompleteWithError', taskIdentifier, expect.objectContaining({ name: 'URLError', code: 'badServerResponse', status: 404 })]);
  expect(events[1]).toEqual(['didFinishEvents']);
  // Not retried: one GET (with Background Fetch, after the HEAD that asks for the size).
  expect((await server.stats(id)).log.filter((request) => request.method === 'GET')).toHaveLength(1);
});

test('bad arguments throw a TypeError that says what is wrong', async ({ page }) => {
  const errors = await page.evaluate(() => {
    const { URLSession, URLSessionConfiguration } = globalThis.bgdl;
    const attempt = (f: () => unknown) => {
      try {
        f();
        return null;
      } catch (error) {
        const { name, message } = error as Error;
        return { name, message };
      }
    };
    const config = URLSessionConfiguration.background('bad-input');
    const session = new URLSession(config, {});
    return {
      // @ts-expect-error: no delegate, on purpose
      noDelegate: attempt(() => new URLSession(config)),
      ftp: attempt(() => session.downloadTask('ftp://example/x')),
      noIdentifier: attempt(() => URLSessionConfiguration.background('')),
    };
  });
  expect(errors.noDelegate).toEqual({ name: 'TypeError', message: expect.stringContaining('delegate') });
  expect(errors.ftp).toEqual({ name: 'TypeError', message: expect.stringContaining('"ftp://example/x"') });
  expect(errors.noIdentifier).toEqual({ name: 'TypeError', message: expect.stringContaining('""') });
});

test("a page's task identifiers are unique safe integers, one apart (the worker reads and deletes them by ranges)", async ({ page }) => {
  const ids = await page.evaluate(() => {
    const { URLSession, URLSessionConfiguration } = globalThis.bgdl;
    const session = new URLSession(URLSessionConfiguration.background('identifiers'), {});
    const tasks = [session.downloadTask('/files/a'), session.downloadTask('/files/b'), session.uploadTask('/upload', new Blob(['x']))];
    for (const task of tasks) task.cancel();
    return tasks.map((task) => task.taskIdentifier);
  });
  for (const id of ids) expect(Number.isSafeInteger(id) && id > 0).toBe(true);
  expect(ids.map((id) => id - ids[0]!)).toEqual([0, 1, 2]);
});

test('a moved file stays in the permanent store across reloads; a file not moved is deleted', async ({ page, server }) => {
  const sessionId = unique('store');
  const kept = unique('kept');
  const dropped = unique('dropped');
  await recordSession(page, sessionId);
  await setMoveTo(page, 'report');
  const keptTask = await startDownload(page, server.url(`/files/3m?seed=${kept}&id=${kept}`));
  await waitForFinishEvents(page);
  await setMoveTo(page, null);
  const droppedTask = await startDownload(page, server.url(`/files/2m?seed=${dropped}&id=${dropped}`));
  await waitForFinishEvents(page, 2);
  expect(await completions(page)).toEqual([
    ['didFinishDownloadingTo', keptTask, { sha256: await server.sha256(kept, '3m'), size: 3 * MiB, movedTo: `report-${keptTask}` }],
    ['didCompleteWithError', keptTask, null],
    ['didFinishEvents'],
    ['didFinishDownloadingTo', droppedTask, { sha256: await server.sha256(dropped, '2m'), size: 2 * MiB, movedTo: null }],
    ['didCompleteWithError', droppedTask, null],
    ['didFinishEvents'],
  ]);

  await page.reload();
  const store = await page.evaluate(async (name) => {
    const { documents } = globalThis.bgdl;
    const blob = (await documents.get(name))!;
    const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
    const keys = await (await caches.open('bgdl-files')).keys();
    return {
      names: (await documents.list()).map(({ name }) => name),
      sha256: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''),
      temporary: keys.map((request) => new URL(request.url).pathname).filter((p) => p.includes('/tmp/')),
    };
  }, `report-${keptTask}`);
  expect(store.names).toEqual([`report-${keptTask}`]);
  expect(store.sha256).toBe(await server.sha256(kept, '3m'));
  expect(store.temporary).toEqual([]);

  const removed = await page.evaluate((name) => globalThis.bgdl.documents.delete(name), `report-${keptTask}`);
  expect(removed).toBe(true);
  expect(await page.evaluate(() => globalThis.bgdl.documents.list())).toEqual([]);
});
