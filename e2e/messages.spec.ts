import { expect, test, unique, type AppPage } from './fixtures.js';
import { expectDownloaded, hungTask, MiB, recordSession, setHangOnFinish, startDownload, testFile } from './recorder.js';

/** Sends raw Comlink messages over one call's port, as any code of the origin could; returns the answers. */
function rawCall(page: AppPage, messages: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
  return page.evaluate(async (messages) => {
    const worker = (await navigator.serviceWorker.ready).active!;
    const { port1, port2 } = new MessageChannel();
    worker.postMessage({ type: 'bgdl:connect' }, [port2]);
    const answers: Record<string, unknown>[] = [];
    const all = new Promise<void>((resolve) => {
      port1.onmessage = ({ data }) => {
        answers.push(data as Record<string, unknown>);
        if (answers.length === messages.length) resolve();
      };
    });
    for (const message of messages) port1.postMessage(message);
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 5000))]);
    return answers;
  }, messages);
}

/** A raw Comlink call of the worker's API, `id` its call id. */
function apply(id: string, method: string, ...args: unknown[]): Record<string, unknown> {
  return { id, type: 'APPLY', path: [method], argumentList: args.map((value) => ({ type: 'RAW', value })) };
}

/** How many events of a session wait in the worker's outbox (asked through the raw protocol: it hands none out). */
async function waitingEvents(page: AppPage, sessionId: string): Promise<number> {
  const [answer] = await rawCall(page, [apply('debug', 'debugState', sessionId)]);
  return (answer?.value as { waitingEvents: number }).waitingEvents;
}

test("a call port reaches only the API's methods: SET, GET, CONSTRUCT and proxies are refused, each under its call id", async ({ page }) => {
  const answers = await rawCall(page, [
    { id: 'set', type: 'SET', path: ['__proto__', 'polluted'], value: { type: 'RAW', value: 1 } },
    { id: 'get', type: 'GET', path: ['__proto__', 'polluted'] },
    { id: 'ctor', type: 'CONSTRUCT', path: ['pendingSessions'], argumentList: [] },
    { id: 'deep', type: 'APPLY', path: ['__proto__', 'hasOwnProperty'], argumentList: [] },
    { id: 'proxy', type: 'APPLY', path: ['pendingSessions'], argumentList: [{ type: 'HANDLER', name: 'proxy', value: null }] },
  ]);
  expect(answers.map((answer) => answer.id).sort()).toEqual(['ctor', 'deep', 'get', 'proxy', 'set']);
  for (const answer of answers) {
    expect(answer).toMatchObject({ type: 'HANDLER', name: 'throw', value: { name: 'TypeError', message: expect.stringContaining('Refused') } });
  }
  // A well-formed call on a new port still works.
  const [good] = await rawCall(page, [{ id: 'ok', type: 'APPLY', path: ['pendingSessions'], argumentList: [] }]);
  expect(good).toMatchObject({ id: 'ok', type: 'RAW', value: [] });
});

test('a frame whose client URL the worker cannot read (srcdoc) is refused with an answer, not left waiting', async ({ page }) => {
  const answer = await page.evaluate(async () => {
    const frame = document.createElement('iframe');
    frame.srcdoc = '<!doctype html><p>frame</p>';
    const loaded = new Promise((resolve) => frame.addEventListener('load', resolve, { once: true }));
    document.body.append(frame);
    await loaded;
    const inner = frame.contentWindow as Window & typeof globalThis;
    // The frame is controlled by the app's worker, as its parent is; it posts from its own realm.
    const worker = inner.navigator.serviceWorker.controller!;
    const { port1, port2 } = new inner.MessageChannel();
    worker.postMessage({ type: 'bgdl:connect' }, [port2]);
    const reply = new Promise((resolve) => (port1.onmessage = ({ data }) => resolve(data)));
    port1.postMessage({ id: 'frame', type: 'APPLY', path: ['pendingSessions'], argumentList: [] });
    return Promise.race([reply, new Promise((resolve) => setTimeout(() => resolve('no answer in 5 s'), 5000))]);
  });
  expect(answer).toMatchObject({
    id: 'frame',
    type: 'HANDLER',
    name: 'throw',
    value: { name: 'TypeError', message: expect.stringContaining('not a client of this origin') },
  });
});

test('a page that no worker of the app covers: the session says so within seconds, in a named error', async ({ context, baseURL }) => {
  const page = await context.newPage();
  // The app's worker is registered with a scope that leaves the page out, as a worker served
  // from /assets/ (a bundler's `?url` import) would be.
  await page.addInitScript(() => {
    const register = navigator.serviceWorker.register.bind(navigator.serviceWorker);
    navigator.serviceWorker.register = (url, options) => register(url, { ...options, scope: '/assets/' });
  });
  await page.goto(baseURL!);
  // The demo's own sessions never get ready here; the library is at hand before they are made.
  await page.waitForFunction(() => globalThis.bgdl !== undefined);
  const outcome = await page.evaluate(async () => {
    const { URLSession, URLSessionConfiguration } = globalThis.bgdl;
    const session = new URLSession(URLSessionConfiguration.background('uncovered'), {});
    const error = await Promise.race([
      session.ready.then(
        () => null,
        (error: Error) => error,
      ),
      new Promise((resolve) => setTimeout(() => resolve('pending'), 10_000)),
    ]);
    return { error: error && typeof error === 'object' ? { name: (error as Error).name, message: (error as Error).message } : error };
  });
  expect(outcome.error).toMatchObject({ name: 'InvalidStateError', message: expect.stringContaining('No service worker covers') });
});

test('an acknowledge beyond the events handed out deletes none of the others: they come to the session once, in order, whole', async ({
  page,
  openApp,
  server,
}) => {
  const sessionId = unique('overack');
  // 20 MiB at 4 MB/s a response: the page closes mid-download, so no page is handed the events.
  const file = testFile(server, 20, '&rate=4000000');
  await recordSession(page, sessionId);
  const task = await startDownload(page, file.url);
  await expect.poll(async () => (await server.stats(file.id)).bytesSent, { timeout: 30_000 }).toBeGreaterThan(0);
  await page.close();
  expect((await server.stats(file.id)).bytesSent).toBeLessThan(20 * MiB);

  const next = await openApp();
  await expect.poll(() => waitingEvents(next, sessionId), { timeout: 60_000 }).toBe(2);
  // Any code of the origin may post this: the worker clamps it (no error), and deletes nothing.
  const [answer] = await rawCall(next, [apply('ack', 'acknowledge', sessionId, Number.MAX_SAFE_INTEGER)]);
  expect(answer).toMatchObject({ id: 'ack', type: 'RAW' });
  expect(await waitingEvents(next, sessionId)).toBe(2);

  await recordSession(next, sessionId);
  await expectDownloaded(next, server, file, task, { timeout: 30_000 });
  // The page's own acknowledges, within what it was handed, still delete.
  await expect.poll(() => waitingEvents(next, sessionId)).toBe(0);
});

test('an acknowledge made after the worker was stopped and started again deletes the events handed out before', async ({ page, server, stopWorkers }) => {
  const sessionId = unique('ackrestart');
  const file = testFile(server, 1);
  // The handler hangs: the events were handed out to the page, and wait unacknowledged.
  await recordSession(page, sessionId);
  await setHangOnFinish(page, true);
  const task = await startDownload(page, file.url);
  await expect.poll(() => hungTask(page), { timeout: 60_000 }).toBe(task);
  const [snapshot] = await rawCall(page, [apply('snap', 'snapshot', sessionId)]);
  const seqs = (snapshot?.value as { events: { seq: number }[] }).events.map((event) => event.seq);
  // One record: the completion, which carries the file (the delegate gets two calls from it).
  expect(seqs).toHaveLength(1);
  expect(await waitingEvents(page, sessionId)).toBe(2);

  await stopWorkers();
  await rawCall(page, [apply('ack', 'acknowledge', sessionId, seqs.at(-1))]);
  expect(await waitingEvents(page, sessionId)).toBe(0);
});
