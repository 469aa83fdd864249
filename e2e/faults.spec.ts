import { completions, expectDownloaded, MiB, PART, recordSession, startDownload, testFile as file, waitForFinishEvents } from './recorder.js';
import type { Page } from '@playwright/test';
import { expect, test, unique, type TestServer } from './fixtures.js';

/** Whether the server has sent every byte of the file at least once, whatever the requests' ranges. */
async function wholeFileSent(server: TestServer, id: string, size: number): Promise<boolean> {
  const spans: [number, number][] = [];
  for (const { method, range, status, bytesSent } of (await server.stats(id)).log) {
    if (method !== 'GET' || (status !== 200 && status !== 206)) continue;
    const from = status === 206 && range ? Number(/^bytes=(\d+)-/.exec(range)?.[1] ?? NaN) : 0;
    spans.push([from, from + bytesSent]);
  }
  let covered = 0;
  for (const [start, end] of spans.sort((a, b) => a[0] - b[0])) if (start <= covered) covered = Math.max(covered, end);
  return covered >= size;
}

/**
 * Where the files come from: the page's origin, and another one (the page is on 127.0.0.1, the
 * files then on localhost) that allows only simple CORS, as most CDNs do:
 * `Access-Control-Allow-Origin: *`, no header exposed beyond the safelisted ones, no preflight
 * answered. A test that says nothing of another origin runs on the page's only.
 */
const ORIGINS = [
  { suffix: '', cross: false, files: (server: TestServer) => server },
  {
    suffix: ' [another origin, simple CORS]',
    cross: true,
    files: (server: TestServer) => ({ url: (path: string) => server.crossOriginUrl(path, 'simple'), sha256: server.sha256 }),
  },
];

async function sentAtLeast(server: TestServer, id: string, bytes: number) {
  await expect.poll(async () => (await server.stats(id)).bytesSent, { timeout: 60_000 }).toBeGreaterThan(bytes);
}
/**
 * A download that `interrupt` cuts after 12 MiB (the browser restarted or killed), completed in
 * a page of the browser started again: the bytes the server had sent before, and its stats.
 */
async function acrossBrowser(
  page: Page,
  openApp: () => Promise<Page>,
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
  await interrupt();
  const before = (await server.stats(f.id)).bytesSent;
  const next = await openApp();
  await recordSession(next, sessionId, configuration);
  await expectDownloaded(next, server, f, task);
  return { before, ...(await server.stats(f.id)) };
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
    const { before, bytesSent, log } = await acrossBrowser(page, openApp, server, f, restartBrowser);
    expect(before).toBeGreaterThan(PART);
    if (engine === 'stream') {
      expect(bytesSent).toBeLessThanOrEqual(f.size + PART);
      return;
    }
    // The file went as ranges of half a part, two at a time, each asked once (from a
    // simple-CORS origin, after its last byte, asked to learn that ranges are served). After the
    // restart Chromium either fails the registration (fetch-error) or resumes it, and may then
    // never finish it (the library gives it up after timeoutIntervalForRequest). Either way the
    // library stores the leading ranges that came whole, all but the two in flight at the
    // restart, and the streaming engine resumes after them (with If-Range on the page's origin).
    const probes = cross ? 2 : 1;
    expect(log[0]!.method).toBe('HEAD');
    if (cross) expect(log[1]!.range).toBe(`bytes=${f.size - 1}-`);
    const ranges = log.slice(probes, -1).map((request) => request.range);
    expect(ranges).toContain(`bytes=0-${PART / 2 - 1}`);
    expect(ranges.every((range) => /^bytes=\d+-\d+$/.test(range ?? ''))).toBe(true);
    expect(new Set(ranges).size).toBe(ranges.length);
    const resume = log.at(-1)!;
    expect(resume.ifRange).toBe(cross ? null : `"${f.id}-${f.size}-v1"`);
    const from = Number(/^bytes=(\d+)-$/.exec(resume.range ?? '')?.[1]);
    expect(from).toBeGreaterThanOrEqual(before - PART - 1);
    expect(resume.bytesSent).toBe(f.size - from);
  });

  test(`the browser killed mid-download (SIGKILL) and started again: the task completes${suffix}`, async ({ page, openApp, server, killBrowser, engine }) => {
    const f = file(files(server), 40, '&rate=8000000');
    const { before, bytesSent, log } = await acrossBrowser(page, openApp, server, f, killBrowser);
    expect(before).toBeGreaterThan(PART);
    // What was in flight at the kill is fetched again, nothing more: the streaming engine's part
    // not recorded yet, or Background Fetch's two ranges of half a part (Chromium resumes the
    // registration and asks them again). If Chromium then never finishes it, the streaming
    // engine resumes after the parts stored, as after a restart.
    const resume = engine === 'background-fetch' ? log.find((request) => /^bytes=\d+-$/.test(request.range ?? '')) : undefined;
    const again = resume ? resume.bytesSent : 0;
    expect(bytesSent - again).toBeLessThanOrEqual(f.size + PART + probe);
    if (engine === 'stream') expect(log.at(-1)!.range).toMatch(/^bytes=\d+-$/);
  });

  test(`a connection dropped mid-body is resumed from the bytes kept${suffix}`, async ({ page, server, engine }) => {
    // Background Fetch asks for ranges of half a part (after a HEAD, and from another origin the
    // last byte): the drop cuts the first.
    const drop = engine === 'stream' ? `&drop=${12 * MiB}&times=1` : `&drop=${2 * MiB}&times=${2 + probe}`;
    const f = file(files(server), 24, drop);
    await recordSession(page, unique('drop'));
    const task = await startDownload(page, f.url);
    await expectDownloaded(page, server, f, task);
    const { bytesSent, log } = await server.stats(f.id);
    if (engine === 'stream') {
      // It resumes after the last part recorded: the part cut off (at most half of PART) and
      // the bytes of it received are fetched again, nothing more.
      expect(log).toHaveLength(2);
      expect(log[1]!.range).toMatch(/^bytes=\d+-$/);
      expect(log[1]!.ifRange).toBe(cross ? null : `"${f.id}-${f.size}-v1"`);
      const from = Number(log[1]!.range!.slice(6, -1));
      expect(from).toBeGreaterThanOrEqual(12 * MiB - PART / 2);
      expect(from).toBeLessThanOrEqual(12 * MiB);
      expect(bytesSent).toBe(f.size + 12 * MiB - from);
    } else {
      // Chromium's download layer resumes the cut range where it stopped, within the range.
      expect(log.map((request) => request.range)).toContain(`bytes=${2 * MiB}-${PART / 2 - 1}`);
      expect(bytesSent).toBe(f.size + probe);
    }
  });

  test(`a server without ranges or a known size: Background Fetch gets the file as one request${suffix}`, async ({ page, server, engine }) => {
    test.skip(engine === 'stream', 'this checks how the Background Fetch engine orders a file');
    for (const params of ['&noRanges=1', '&noLength=1', '&noValidators=1']) {
      const f = file(files(server), 20, params);
      await recordSession(page, unique('whole'));
      const task = await startDownload(page, f.url);
      await expectDownloaded(page, server, f, task);
      const { log } = await server.stats(f.id);
      // From a simple-CORS origin, where the HEAD cannot tell, a server without ranges answers
      // the request for the last byte with a 200 (cut off at once).
      const asked = cross && params === '&noRanges=1' ? [['GET', `bytes=${f.size - 1}-`]] : [];
      expect(log.map((request) => [request.method, request.range])).toEqual([['HEAD', null], ...asked, ['GET', null]]);
      await page.evaluate(() => (globalThis.recorded.length = 0));
    }
  });

  test(`503 with Retry-After twice, then 200: retried, and the download completes${suffix}`, async ({ page, server, engine }) => {
    const f = file(files(server), 4, '&status=503&times=2&retryAfter=1');
    await recordSession(page, unique('retry'));
    const task = await startDownload(page, f.url);
    await expectDownloaded(page, server, f, task);
    const { log } = await server.stats(f.id);
    expect(log.slice(0, 3).map((request) => request.status)).toEqual([503, 503, 200]);
    if (engine === 'stream') {
      expect(log).toHaveLength(3);
      // Retry-After: 1 (simple CORS hides it: the second retry's backoff, 1 to 2 s, is as long).
      expect(log[2]!.t - log[1]!.t).toBeGreaterThanOrEqual(900);
    } else {
      // Chromium's Background Fetch retries a 5xx by itself about every 20 s, ignoring Retry-After.
      expect(log[1]!.t - log[0]!.t).toBeGreaterThanOrEqual(900);
    }
  });

  test(`a 5xx that never ends fails with a named error after the retry limit${suffix}`, async ({ page, server, engine }) => {
    test.skip(
      engine === 'background-fetch',
      "Chromium's Background Fetch retries a 5xx itself (about every 20 s) and reports no failure while it does; the limit is the library's engine's",
    );
    const f = file(files(server), 1, '&status=500');
    await recordSession(page, unique('retry-limit'), { retryLimit: 2 });
    const task = await startDownload(page, f.url);
    await waitForFinishEvents(page);
    expect(await completions(page)).toEqual([
      ['didCompleteWithError', task, expect.objectContaining({ name: 'URLError', code: 'badServerResponse', status: 500 })],
      ['didFinishEvents'],
    ]);
  });

  test(`a server that goes silent mid-body: the attempt times out (timeoutIntervalForRequest) and resumes from the bytes kept${suffix}`, async ({
    page,
    server,
    engine,
  }) => {
    test.skip(
      engine === 'background-fetch',
      'Background Fetch keeps nothing of a request cut off (a file of one part is one request): its stall, given up, starts again from zero, as "a server that never sends again" checks',
    );
    // The first response stops after 3 MiB and keeps its connection open.
    const f = file(files(server), 8, `&stall=${3 * MiB}&times=1`);
    await recordSession(page, unique('stall'), { timeoutIntervalForRequest: 1 });
    const task = await startDownload(page, f.url);
    await expectDownloaded(page, server, f, task, { timeout: 30_000 });
    const { bytesSent, log } = await server.stats(f.id);
    expect(log).toHaveLength(2);
    // Given up no sooner than a second without data.
    expect(log[1]!.t - log[0]!.t).toBeGreaterThanOrEqual(1_000);
    const from = Number(/^bytes=(\d+)-$/.exec(log[1]!.range ?? '')?.[1] ?? NaN);
    expect(from).toBeGreaterThanOrEqual(3 * MiB - PART / 2);
    expect(from).toBeLessThanOrEqual(3 * MiB);
    expect(bytesSent).toBe(f.size + 3 * MiB - from);
  });

  test(`a server that never sends again: the task ends as URLError timedOut after the retry limit${suffix}`, async ({ page, server, engine }) => {
    // A Background Fetch that stops receiving is given up after timeoutIntervalForRequest too,
    // and the streaming engine tries again: the retry limit counts its attempts.
    const f = file(files(server), 2, `&stall=${MiB}`);
    await recordSession(page, unique('stall-always'), { timeoutIntervalForRequest: 0.5, retryLimit: 1 });
    const task = await startDownload(page, f.url);
    await waitForFinishEvents(page, 1, 30_000);
    expect(await completions(page)).toEqual([
      [
        'didCompleteWithError',
        task,
        expect.objectContaining({ name: 'URLError', code: 'timedOut', message: expect.stringContaining('timeoutIntervalForRequest') }),
      ],
      ['didFinishEvents'],
    ]);
    // The streaming engine's attempt and its one retry (from the bytes it kept); with Background
    // Fetch, first the HEAD and the registration's request that stalled.
    const asked = (await server.stats(f.id)).log.map((request) => [request.method, request.range]);
    const streamed = [
      ['GET', null],
      ['GET', expect.stringMatching(/^bytes=\d+-$/)],
    ];
    expect(asked).toEqual(engine === 'stream' ? streamed : [['HEAD', null], ['GET', null], ...streamed]);
    // A bad value is refused, quoted.
    const refused = await page.evaluate(async () => {
      const { URLSession, URLSessionConfiguration } = globalThis.bgdl;
      const configuration = Object.assign(URLSessionConfiguration.background('bad-timeout'), { timeoutIntervalForRequest: -1 });
      return new URLSession(configuration, {}).ready.then(
        () => 'accepted',
        (error: Error) => `${error.name}: ${error.message}`,
      );
    });
    expect(refused).toBe('TypeError: timeoutIntervalForRequest must be a number of seconds > 0, not -1');
  });

  test(`a server that ignores Range: the file is fetched whole again, never spliced${suffix}`, async ({ page, server, engine }) => {
    test.skip(engine === 'background-fetch', "Chromium's own download layer resumes Background Fetch; this checks the library's engine");
    const f = file(files(server), 20, `&ignoreRange=1&drop=${10 * MiB}&times=1`);
    await recordSession(page, unique('norange'));
    const task = await startDownload(page, f.url);
    await expectDownloaded(page, server, f, task);
    const { log } = await server.stats(f.id);
    expect(log.map((request) => [request.range, request.status])).toEqual([
      [null, 200],
      [expect.stringMatching(/^bytes=[1-9]\d*-$/), 200],
    ]);
  });

  test(`content that changes between attempts: the result is the new file whole${suffix}`, async ({ page, server }) => {
    const f = file(files(server), 20, `&changeEvery=1&drop=${10 * MiB}&times=1`);
    await recordSession(page, unique('changed'));
    const task = await startDownload(page, f.url);
    await waitForFinishEvents(page);
    const { version, log } = await server.stats(f.id);
    expect(log.at(-1)!.status).toBe(200);
    expect(await completions(page)).toEqual([
      ['didFinishDownloadingTo', task, { sha256: await server.sha256(f.id, f.size, log.length), size: f.size, movedTo: null }],
      ['didCompleteWithError', task, null],
      ['didFinishEvents'],
    ]);
    expect(version).toBe(log.length + 1);
  });

  test(`a 3-hop redirect chain is followed${suffix}`, async ({ page, server }) => {
    const id = unique('redirect');
    const f = { id, size: 2 * MiB, url: files(server).url(`/redirect/3/files/2m?seed=${id}&id=${id}`) };
    await recordSession(page, unique('redirects'));
    const task = await startDownload(page, f.url);
    await expectDownloaded(page, server, f, task);
  });

  test(`a compressed response from another origin, its encoding hidden by CORS: the file is the decoded body, whole${suffix}`, async ({ page, server }) => {
    const id = unique('gzip');
    // Content-Length is the encoded length; the page's origin is 127.0.0.1, the file's localhost
    // (with every header the tests read exposed, or, simple CORS, none beyond the safelisted).
    const url = server.crossOriginUrl(`/files/2m?seed=${id}&id=${id}&gzip=1`, cross ? 'simple' : 'full');
    expect(url).toContain('//localhost:');
    const f = { id, size: 2 * MiB, url };
    await recordSession(page, unique('gzip'));
    const task = await startDownload(page, f.url);
    await expectDownloaded(page, server, f, task);
    // A small one (whole in a first part).
    const smallId = `${id}-small`;
    const small = { id: smallId, size: 64 * 1024, url: url.replace(`/files/2m?seed=${id}&id=${id}`, `/files/64k?seed=${smallId}&id=${smallId}`) };
    await page.evaluate(() => (globalThis.recorded.length = 0));
    const second = await startDownload(page, small.url);
    await expectDownloaded(page, server, small, second);
  });

  test(`a body cut short that ends as if whole: never handed over short, fetched again${suffix}`, async ({ page, server, engine }) => {
    test.skip(engine === 'stream', 'only Background Fetch asks the size first (HEAD): a chunked body that ends cleanly is, to fetch(), the whole file');
    // The first GET (the HEAD is request 1) sends 1 MiB of 4, chunked, and ends cleanly: the
    // registration reports a success.
    const f = file(files(server), 4, `&short=${MiB}&times=2`);
    await recordSession(page, unique('short'));
    const task = await startDownload(page, f.url);
    await expectDownloaded(page, server, f, task);
    const { log } = await server.stats(f.id);
    expect(log.map(({ method, status, bytesSent }) => [method, status, bytesSent])).toEqual([
      ['HEAD', 200, 0],
      ['GET', 200, MiB],
      ['GET', 200, f.size],
    ]);
  });

  test(`a gzip body that inflates far past its Content-Length: stored as it comes, its progress never past its total${suffix}`, async ({ page, server }) => {
    // 48 MiB of zeros, about 48 KiB encoded, sent in 2.5 s: well under the small-file size as
    // announced, a thousand times more once decoded.
    const id = unique('inflate');
    const size = 48 * MiB;
    await recordSession(page, unique('inflate'));
    const task = await startDownload(page, files(server).url(`/files/48m?seed=zeros&id=${id}&gzip=1&rate=20000`));
    await waitForFinishEvents(page);
    const events = await page.evaluate(() => globalThis.recorded);
    expect(events.filter(([type]) => type !== 'didWriteData')).toEqual([
      ['didFinishDownloadingTo', task, { sha256: await server.sha256('zeros', size), size, movedTo: null }],
      ['didCompleteWithError', task, null],
      ['didFinishEvents'],
    ]);
    const progress = events.flatMap((event) => (event[0] === 'didWriteData' ? [event] : []));
    // Progress as the bytes come, not once they are all in memory: the body is decoded and
    // stored while the server still sends it.
    expect(progress.filter(([, , , total]) => total < size / 2).length).toBeGreaterThanOrEqual(2);
    for (const [, , , total, expected] of progress) expect(expected === -1 || total <= expected, `${total} of ${expected}`).toBe(true);
  });

  test(`malformed messages to the worker get an error, and the running download still completes${suffix}`, async ({ page, server }) => {
    test.skip(cross, 'this is about messages to the worker, not where the file comes from');
    const f = file(files(server), 12, '&rate=6000000');
    await recordSession(page, unique('malformed'));
    const task = await startDownload(page, f.url);
    await sentAtLeast(server, f.id, MiB);
    const replies = await page.evaluate(async () => {
      const worker = (await navigator.serviceWorker.ready).active!;
      const errors: unknown[] = [];
      navigator.serviceWorker.addEventListener('message', (event) => {
        if (event.data?.type === 'bgdl:error') errors.push(event.data.error);
      });
      worker.postMessage({ type: 'bgdl:connect' }); // no port
      worker.postMessage({ type: 'bgdl:attach', identifier: 42 });
      worker.postMessage('not ours at all');
      // A call with nonsense arguments, through the real protocol: a TypeError comes back.
      const { port1, port2 } = new MessageChannel();
      worker.postMessage({ type: 'bgdl:connect' }, [port2]);
      const answer = new Promise((resolve) => (port1.onmessage = (event) => resolve(event.data)));
      port1.postMessage({
        id: 'x',
        type: 'APPLY',
        path: ['resume'],
        argumentList: [
          { type: 'RAW', value: 'nope' },
          { type: 'RAW', value: -1 },
        ],
      });
      const reply = await answer;
      await new Promise((resolve) => setTimeout(resolve, 500));
      return { errors, reply };
    });
    expect(replies.errors).toHaveLength(2);
    expect(replies.errors).toEqual([
      expect.objectContaining({ name: 'TypeError', message: expect.stringContaining('Malformed') }),
      expect.objectContaining({ name: 'TypeError', message: expect.stringContaining('Malformed') }),
    ]);
    expect(JSON.stringify(replies.reply)).toContain('TypeError');
    await expectDownloaded(page, server, f, task);
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

test('HEAD probes that hang: each file is ordered once and fetched once', async ({ page, server, engine }) => {
  test.skip(engine === 'stream', 'Only Background Fetch asks a HEAD before it orders a file');
  test.setTimeout(180_000);
  // 24 files resumed together: their HEADs, 6 at a time, each given up after 10 s, take 40 s,
  // longer than the time a page has to start an order.
  const files = Array.from({ length: 24 }, () => file(server, 1, '&headDelay=15000'));
  await recordSession(page, unique('hanging-head'));
  const tasks = await page.evaluate(
    (urls) =>
      urls.map((url) => {
        const task = globalThis.session.downloadTask(url);
        task.resume();
        return task.taskIdentifier;
      }),
    files.map((f) => f.url),
  );
  await waitForFinishEvents(page, 1, 150_000);
  const done = (await completions(page)).filter(([type]) => type === 'didCompleteWithError');
  expect(done.map(([, task]) => task).sort()).toEqual([...tasks].sort());
  expect(done.every(([, , error]) => error === null)).toBe(true);
  for (const f of files) expect((await server.stats(f.id)).log.map((request) => request.method)).toEqual(['HEAD', 'GET']);
});
