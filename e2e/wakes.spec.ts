/** Tasks that end or wait with no page open: launch events, discretionary tasks, the rate limiter of background wakes. */
import { completions, expectDownloaded, recordSession, recorded, startDownload, testFile as file, waitForFinishEvents } from './recorder.js';
import { expect, test, unique } from './fixtures.js';

for (const sends of [true, false]) {
  test(`sessionSendsLaunchEvents = ${sends}: tasks that end with no page open ${sends ? 'bring a notification, closed by the completion handler' : 'bring nobody back'}`, async ({
    page,
    context,
    openApp,
    server,
    engine,
    baseURL,
  }) => {
    test.skip(
      engine === 'background-fetch',
      "Background Fetch shows the browser's own download UI (title and icon from the configuration), which a headless test cannot see or click",
    );
    await context.grantPermissions(['notifications'], { origin: new URL(baseURL!).origin });
    const sessionId = unique('launch');
    const f = file(server, 2, '&rate=2000000');
    await recordSession(page, sessionId, { title: 'Reports', launchURL: '/?from=notification', sessionSendsLaunchEvents: sends });
    const task = await startDownload(page, f.url);
    await expect.poll(async () => (await server.stats(f.id)).bytesSent).toBeGreaterThan(0);
    await page.close();
    await expect.poll(async () => (await server.stats(f.id)).completed).toBe(1);
    const worker = context.serviceWorkers()[0]!;
    const notifications = () =>
      worker.evaluate(async () =>
        // The worker's global scope: a ServiceWorkerGlobalScope (the WebWorker lib is not loaded here).
        (await (self as unknown as { registration: ServiceWorkerRegistration }).registration.getNotifications()).map((n) => [
          n.title,
          n.tag,
          n.body,
          n.data?.url,
        ]),
      );
    if (sends) {
      await expect.poll(notifications).toEqual([['Reports', `bgdl:${sessionId}`, '1 task finished', new URL('/?from=notification', baseURL).href]]);
    } else {
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the page is closed: wait here
      expect(await notifications()).toEqual([]);
    }

    // A page of the app loads: the app-delegate hook says which session has events waiting.
    const next = await openApp();
    const pending = await next.evaluate(() =>
      globalThis.bgdl.handleEventsForBackgroundURLSession((identifier: string, completionHandler: () => void) => {
        globalThis.completionHandlers = { ...globalThis.completionHandlers, [identifier]: completionHandler };
      }),
    );
    expect(pending).toEqual([sessionId]);
    await recordSession(next, sessionId);
    await expectDownloaded(next, server, f, task);
    await expect.poll(notifications).toEqual([]);
    expect(await next.evaluate(() => globalThis.bgdl.handleEventsForBackgroundURLSession(() => undefined))).toEqual([]);
  });
}

test('isDiscretionary: a task waits while the browser is offline, says so, and starts when it is back', async ({ page, context, server }) => {
  const f = file(server, 2);
  await recordSession(page, unique('discretionary'), { isDiscretionary: true });
  await page.evaluate(() => {
    globalThis.session.delegate.taskIsWaitingForConnectivity = (_s, task) => {
      globalThis.recorded.push(['taskIsWaitingForConnectivity', task.taskIdentifier]);
    };
  });
  await context.setOffline(true);
  const task = await startDownload(page, f.url);
  await expect.poll(() => completions(page)).toEqual([['taskIsWaitingForConnectivity', task]]);
  const state = await page.evaluate(() => globalThis.session.debugState());
  expect(state).toMatchObject({ online: false, tasks: [{ taskIdentifier: task, state: 'running', waitingFor: 'offline', discretionary: true }] });
  await page.waitForTimeout(2000);
  expect((await server.stats(f.id)).requests).toBe(0);

  await context.setOffline(false);
  await waitForFinishEvents(page);
  expect(await completions(page)).toEqual([
    ['taskIsWaitingForConnectivity', task],
    ['didFinishDownloadingTo', task, { sha256: await server.sha256(f.id, f.size), size: f.size, movedTo: null }],
    ['didCompleteWithError', task, null],
    ['didFinishEvents'],
  ]);
});

test('the rate limiter: each background wake grows the delay, and a visible page resets it', async ({ page, context, openApp, server, engine }) => {
  test.skip(engine === 'stream', "the wakes counted are Background Fetch's: the browser waking the worker for a download that ended");
  const sessionId = unique('limiter');
  await recordSession(page, sessionId);
  test.setTimeout(240_000); // Chromium holds a fetch ~30 s once the app's last page closes
  // Three slow downloads (about 10 s each), started one by one so that each is a registration
  // of its own. Chromium runs one registration at a time, so each ends, one after the other,
  // after the page is gone: three background wakes.
  const files = [0, 1, 2].map(() => file(server, 1, '&rate=100000'));
  // Only a page starts a Background Fetch: the page stays until it has started all three.
  const started = () => page.evaluate(async () => (await (await navigator.serviceWorker.ready).backgroundFetch!.getIds()).length);
  // Each waits for the one before to be registered: resumed while another resume is still
  // with the worker, it would join that call's batch, and the two would share a registration.
  for (const [index, f] of files.entries()) {
    await startDownload(page, f.url);
    await expect.poll(started, { timeout: 60_000 }).toBe(index + 1);
  }
  // None may have ended while the page was visible, or its end would not be a background wake.
  for (const f of files) expect((await server.stats(f.id)).completed).toBe(0);
  await page.close(); // no page of the app is visible now (the fixture's about:blank is another origin)

  const limiter = () =>
    context.serviceWorkers()[0]!.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('bgdl');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const get = open.result.transaction('app').objectStore('app').get('rateLimiter');
            get.onsuccess = () => (resolve(get.result ?? null), open.result.close());
          };
        }),
    ) as Promise<{ delay: number; lastWakeAt: number } | null>;
  // Three wakes, each within the delay the one before set: one minute, then two, then four.
  const delays: number[] = [];
  await expect
    .poll(
      async () => {
        const delay = (await limiter())?.delay ?? 0;
        if (delay !== delays.at(-1)) delays.push(delay);
        return delay;
      },
      { timeout: 180_000, intervals: [250] },
    )
    .toBe(4 * 60_000);
  expect(delays.filter((delay) => delay > 0)).toEqual([60_000, 2 * 60_000, 4 * 60_000]);

  const next = await openApp();
  await recordSession(next, sessionId);
  await waitForFinishEvents(next, 1, 120_000);
  expect((await completions(next)).filter((e) => e[0] === 'didCompleteWithError')).toHaveLength(3);
  expect(await next.evaluate(() => globalThis.session.debugState())).toMatchObject({ appVisible: true, rateLimiter: { delay: 0 } });
});
