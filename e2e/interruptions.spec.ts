/**
 * What the browser or the OS does to a download under way: the worker stopped, every page
 * closed, the browser restarted or killed. Each in every browser that lets a test do it.
 */
import { completions, expectDownloaded, MiB, PART, recordSession, startDownload, testFile as file, waitForFinishEvents } from './recorder.js';
import { expect, test, unique, type AppPage, type FileStats, type TestServer } from './fixtures.js';
import { ORIGINS, sentAtLeast, wholeFileSent } from './origins.js';

/**
 * A download that `interrupt` cuts after 12 MiB (the browser restarted or killed), completed in
 * a page of the browser started again: the bytes the server had sent before, and its stats.
 */
async function acrossBrowser(
  page: AppPage,
  openApp: () => Promise<AppPage>,
  server: TestServer,
  f: { id: string; size: number; url: string },
  interrupt: () => Promise<unknown>,
) {
  const sessionId = unique('browser');
  // Chromium may resume a registration after a restart and then never finish it: the library
  // gives it up once nothing has come for timeoutIntervalForRequest (short here).
  const configuration = { timeoutIntervalForRequest: 10 };
  await recordSession(page, sessionId, configuration);
  const task = await startDownload(page, f.url);
  await sentAtLeast(server, f.id, 12 * MiB);
  // What the library had been handed (its last progress): the browser may have taken in more
  // from the network, in buffers it loses with its process (Firefox, slow to close, lost 4.6 MiB
  // more than a PART that way).
  const received = await page.evaluate(() => Math.max(0, ...globalThis.recorded.filter((e) => e[0] === 'didWriteData').map((e) => e[3] as number)));
  await interrupt();
  const before = (await server.stats(f.id)).bytesSent;
  const next = await openApp();
  await recordSession(next, sessionId, configuration);
  await expectDownloaded(next, server, f, task);
  return { before, received, ...(await server.stats(f.id)) };
}

/**
 * The streaming engine resumed, with the file's last request, after the parts it had stored:
 * of what it had received, it fetches again at most a PART (the parts not yet recorded).
 */
function expectResumedAfter(log: FileStats['log'], received: number, size: number) {
  // Chromium, closing, may let the transfer end first: then nothing is fetched again.
  if (log.length === 1) return expect(log[0]!.bytesSent).toBe(size);
  const resume = log.at(-1)!;
  const from = Number(/^bytes=(\d+)-$/.exec(resume.range ?? '')?.[1]);
  expect(from).toBeGreaterThanOrEqual(received - PART);
  expect(resume.bytesSent).toBe(size - from);
}

for (const { suffix, cross, files } of ORIGINS) {
  // From a simple-CORS origin, Background Fetch first asks the file's last byte (ranges.ts).
  const probe = cross ? 1 : 0;
  test(`the worker stopped mid-download, twice: the download completes and each event comes once${suffix}`, async ({ page, server, stopWorkers, engine }) => {
    const f = file(files(server), 32, '&rate=6000000');
    await recordSession(page, unique('stop'));
    const task = await startDownload(page, f.url);
    for (const at of [10 * MiB, 20 * MiB]) {
      await sentAtLeast(server, f.id, at);
      await stopWorkers();
    }
    await expectDownloaded(page, server, f, task);
    const { bytesSent, log } = await server.stats(f.id);
    if (engine === 'background-fetch') {
      expect(bytesSent).toBe(f.size + probe); // the browser carries the transfer; the worker is not needed
    } else {
      // Each stop loses at most the bytes not yet recorded (PART_SIZE); parts vary in size.
      expect(bytesSent).toBeLessThanOrEqual(f.size + 2 * PART);
      expect(log.length).toBeGreaterThan(1);
      let from = 0;
      for (const request of log.slice(1)) {
        expect(request.range).toMatch(/^bytes=\d+-$/);
        expect(Number(request.range!.slice(6, -1))).toBeGreaterThan(from);
        from = Number(request.range!.slice(6, -1));
        // If-Range to another origin needs a preflight, which a simple-CORS server refuses.
        expect(request.ifRange).toBe(cross ? null : `"${f.id}-${f.size}-v1"`);
      }
    }
  });

  test(`every page closed mid-download, then one opened again: the download completes there${suffix}`, async ({
    page,
    openApp,
    server,
    stopWorkers,
    engine,
  }) => {
    // Seen with Background Fetch: once the app's last page closes and its worker is stopped,
    // Chromium stops reading the response for about 30 s before it goes on.
    test.setTimeout(240_000);
    const sessionId = unique('closed');
    const f = file(files(server), 32, '&rate=6000000');
    await recordSession(page, sessionId);
    const task = await startDownload(page, f.url);
    await sentAtLeast(server, f.id, 12 * MiB);
    await page.close();
    // With no page, a browser ends an idle worker (Playwright's attachment keeps it: end it here).
    await stopWorkers();
    const next = await openApp();
    await recordSession(next, sessionId);
    await expectDownloaded(next, server, f, task, { timeout: 180_000 });
    const { bytesSent } = await server.stats(f.id);
    expect(bytesSent).toBeLessThanOrEqual(engine === 'stream' ? f.size + PART : f.size + probe);
  });

  test(`the browser closed mid-download and started again on the same profile: the task completes${suffix}`, async ({
    page,
    openApp,
    server,
    restartBrowser,
    engine,
  }) => {
    const f = file(files(server), 40, '&rate=8000000');
    const { before, received, bytesSent, log } = await acrossBrowser(page, openApp, server, f, restartBrowser);
    expect(before).toBeGreaterThan(PART);
    if (engine === 'stream') return expectResumedAfter(log, received, f.size);
    // The file went as ranges of half a part, two at a time (from a simple-CORS origin, after
    // its last byte, asked to learn that ranges are served). After the restart Chromium fails
    // the registration (fetch-error), or resumes it and finishes it, or resumes it and never
    // finishes it (the library gives it up after timeoutIntervalForRequest).
    const probes = cross ? 2 : 1;
    expect(log[0]!.method).toBe('HEAD');
    if (cross) expect(log[1]!.range).toBe(`bytes=${f.size - 1}-`);
    const resume = log.slice(probes).find((request) => /^bytes=\d+-$/.test(request.range ?? ''));
    const ranges = log
      .slice(probes)
      .filter((request) => request !== resume)
      .map((request) => request.range);
    expect(ranges).toContain(`bytes=0-${PART / 2 - 1}`);
    expect(ranges.every((range) => /^bytes=\d+-\d+$/.test(range ?? ''))).toBe(true);
    // Finished by Chromium: the two ranges in flight at the restart came again, nothing more.
    if (!resume) return expect(bytesSent).toBeLessThanOrEqual(f.size + PART + probe);
    // Else the library stores the leading ranges that came whole, each asked once, all but the
    // two in flight at the restart, and the streaming engine resumes after them, last (with
    // If-Range on the page's origin).
    expect(resume).toBe(log.at(-1));
    expect(new Set(ranges).size).toBe(ranges.length);
    expect(resume.ifRange).toBe(cross ? null : `"${f.id}-${f.size}-v1"`);
    // Of what Chromium had handed over (the page's last progress; the server's count runs ahead
    // of it), at most the two ranges in flight are fetched again (from a simple-CORS origin
    // each range is a byte shorter than the one before: hence the byte).
    const from = Number(/^bytes=(\d+)-$/.exec(resume.range ?? '')?.[1]);
    expect(from).toBeGreaterThanOrEqual(received - PART - 1);
    expect(resume.bytesSent).toBe(f.size - from);
  });

  test(`the browser killed mid-download (SIGKILL) and started again: the task completes${suffix}`, async ({ page, openApp, server, killBrowser, engine }) => {
    const f = file(files(server), 40, '&rate=8000000');
    const { before, received, bytesSent, log } = await acrossBrowser(page, openApp, server, f, killBrowser);
    expect(before).toBeGreaterThan(PART);
    if (engine === 'stream') return expectResumedAfter(log, received, f.size);
    // What was in flight at the kill is fetched again, nothing more: Background Fetch's two
    // ranges of half a part (Chromium resumes the registration and asks them again). If Chromium
    // then never finishes it, the streaming engine resumes after the parts stored, as after a restart.
    const resume = log.find((request) => /^bytes=\d+-$/.test(request.range ?? ''));
    const again = resume ? resume.bytesSent : 0;
    expect(bytesSent - again).toBeLessThanOrEqual(f.size + PART + probe);
  });

  test(`a transfer longer than a worker may live completes while the worker is ended again and again${suffix}`, async ({
    page,
    server,
    stopWorkers,
    engine,
  }) => {
    // About 6 s on the wire (Background Fetch asks for two ranges at a time, each at the rate).
    const f = file(files(server), 48, engine === 'stream' ? '&rate=8000000' : '&rate=4000000');
    await recordSession(page, unique('long'));
    const task = await startDownload(page, f.url);
    const sending = async () => {
      const { completed, bytesSent } = await server.stats(f.id);
      return engine === 'stream' ? completed === 0 : bytesSent < f.size;
    };
    // Each stop waits for the transfer to get on: a part and more sent since the last one, so the
    // streaming engine has stored a part past where it resumed. Stops on a clock starve it when
    // the machine is slow to start a worker again; a bounded number of them cannot.
    const progress = PART + 2 * MiB;
    let stops = 0;
    let mark = (await server.stats(f.id)).bytesSent;
    while (stops < 12) {
      while ((await sending()) && (await server.stats(f.id)).bytesSent < mark + progress) await page.waitForTimeout(200);
      if (!(await sending())) break;
      await stopWorkers();
      stops++;
      mark = (await server.stats(f.id)).bytesSent;
    }
    await expectDownloaded(page, server, f, task);
    expect(stops).toBeGreaterThan(2);
    const { bytesSent } = await server.stats(f.id);
    expect(bytesSent).toBeLessThanOrEqual(engine === 'stream' ? f.size + stops * PART : f.size + probe);
  });

  test(`with no page open, a long transfer survives the worker being ended${suffix}`, async ({ page, server, stopWorkers, fireSync, openApp, engine }) => {
    const sessionId = unique('nopage');
    const f = file(files(server), 40, engine === 'stream' ? '&rate=8000000' : '&rate=4000000');
    await recordSession(page, sessionId);
    const task = await startDownload(page, f.url);
    await sentAtLeast(server, f.id, MiB);
    await page.close();
    let stops = 0;
    while (!(await wholeFileSent(server, f.id, f.size)) && stops < 30) {
      await stopWorkers();
      stops++;
      // Without Background Fetch nothing runs the transfer now but a woken worker: the browser
      // retries the Background Sync the worker asked for (Chromium: minutes later; here at once).
      if (engine === 'stream') await fireSync('bgdl:transfers');
      await new Promise((resolve) => setTimeout(resolve, 2500));
    }
    // The transfer ended with no page open: the page that comes back fetches nothing more.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const sentWithNoPage = (await server.stats(f.id)).bytesSent;
    const next = await openApp();
    await recordSession(next, sessionId);
    await expectDownloaded(next, server, f, task);
    const { bytesSent } = await server.stats(f.id);
    expect(bytesSent).toBe(sentWithNoPage);
    if (engine === 'background-fetch') expect(bytesSent).toBe(f.size + probe);
    else {
      // Each stop loses at most the part in flight.
      expect(stops).toBeGreaterThan(2);
      expect(bytesSent).toBeLessThanOrEqual(f.size + stops * PART);
    }
  });
}

test('the worker stopped while a call is under way: the call is made again, and the calls after it go on', async ({ page, server, stopWorkers, engine }) => {
  test.skip(engine === 'stream', 'The streaming engine answers resume() before any request: no call stays under way long enough to be cut');
  // With Background Fetch, resume() answers once the file's HEAD has (here after 6 s).
  const slow = file(server, 2, '&delay=6000');
  const next = file(server, 1);
  await recordSession(page, unique('cut-call'));
  const first = await startDownload(page, slow.url);
  await expect.poll(async () => (await server.stats(slow.id)).log.length).toBe(1);
  await stopWorkers();
  // Queued behind the cut call: it waits only for the call made again.
  const second = await startDownload(page, next.url);
  await waitForFinishEvents(page, 1, 60_000);
  const done = (await completions(page)).filter(([type]) => type === 'didCompleteWithError');
  expect(done).toEqual(
    expect.arrayContaining([
      ['didCompleteWithError', first, null],
      ['didCompleteWithError', second, null],
    ]),
  );
  expect(done).toHaveLength(2);
  // The HEAD cut with the worker, then the call's again and the file's one GET.
  expect((await server.stats(slow.id)).log.map((request) => request.method)).toEqual(['HEAD', 'HEAD', 'GET']);
});
