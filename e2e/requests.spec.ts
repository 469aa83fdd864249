/**
 * Requests that stay valid: the session's `httpAdditionalHeaders` on every request, and the
 * delegate's `willBeginDelayedRequest`, asked before a delayed start and given a new request
 * when the server refuses the one a transfer has (a token or a signed URL that expired), while
 * the bytes kept wait for it.
 */
import { expect, printLog, test, unique, type AppPage, type TestServer } from './fixtures.js';
import type { URLSessionDownloadTask } from '../src/index.js';
import {
  answerDelayedRequests,
  completions,
  MiB,
  PART,
  recordSession,
  startDownload,
  testFile as file,
  waitForFinishEvents,
  type Recorded,
} from './recorder.js';

/** Starts, in the page's recorded session, a download of `url` with `headers`; returns its identifier. */
function startWithHeaders(page: AppPage, url: string, headers: Record<string, string>): Promise<number> {
  return page.evaluate(
    ({ url, headers }) => {
      const task = globalThis.session.downloadTask(new Request(url, { headers }));
      task.resume();
      return task.taskIdentifier;
    },
    { url, headers },
  );
}

/** The file's requests (not its preflights) as the server logged them. */
async function requests(server: TestServer, id: string) {
  return (await server.stats(id)).log.filter((request) => request.method !== 'OPTIONS');
}

/** What the delegate was told, but progress and the asks. */
async function ends(page: AppPage): Promise<Recorded[]> {
  return (await completions(page)).filter(([type]) => type !== 'willBeginDelayedRequest');
}

/** The events of a download that completed with the file's bytes. */
async function downloaded(server: TestServer, f: { id: string; size: number }, task: number): Promise<Recorded[]> {
  const sha256 = await server.sha256(f.id, f.size);
  return [
    ['didFinishDownloadingTo', task, { sha256, size: f.size, movedTo: null }],
    ['didCompleteWithError', task, null],
  ];
}

test("httpAdditionalHeaders reach the server on every request, a resume's included; a task's own header wins; new values apply to the next transfers", async ({
  page,
  server,
  engine,
}) => {
  const sessionId = unique('headers');
  const token = unique('token');
  await server.setToken(token, 's1');
  // The streaming engine's response is cut at 12 MiB once (2 s after, so that WebKit has handed
  // over every byte sent before it discards its buffer): it resumes with a range.
  const cut = engine === 'stream' ? '&drop=12582912&dropDelay=2000&times=1' : '';
  const big = file(server, 20, `&token=${token}${cut}`);
  const own = file(server, 1, `&token=${token}`);
  await recordSession(page, sessionId, { httpAdditionalHeaders: { Authorization: 'Bearer s1', 'X-App': 'session' } });
  const first = await startDownload(page, big.url);
  const second = await startWithHeaders(page, own.url, { 'X-App': 'task' });
  await waitForFinishEvents(page);
  expect((await ends(page)).slice(0, -1).sort()).toEqual([...(await downloaded(server, big, first)), ...(await downloaded(server, own, second))].sort());

  const bigLog = await requests(server, big.id);
  expect(bigLog.map(({ authorization, app }) => [authorization, app])).toEqual(bigLog.map(() => ['Bearer s1', 'session']));
  if (engine === 'stream') expect(bigLog.at(-1)!.range).toMatch(/^bytes=[1-9]\d*-$/);
  else expect(bigLog.filter(({ range }) => range !== null).length).toBeGreaterThan(1); // the registration's ranges
  const ownLog = await requests(server, own.id);
  expect(ownLog.map(({ authorization, app }) => [authorization, app])).toEqual(ownLog.map(() => ['Bearer s1', 'task']));

  // The session made again with another token: the transfers that start now send it.
  await server.setToken(token, 's2');
  await recordSession(page, sessionId, { httpAdditionalHeaders: { Authorization: 'Bearer s2' } });
  const next = file(server, 1, `&token=${token}`);
  const third = await startDownload(page, next.url);
  await waitForFinishEvents(page);
  expect(await ends(page)).toEqual([...(await downloaded(server, next, third)), ['didFinishEvents']]);
  expect((await requests(server, next.id)).map(({ authorization, app }) => [authorization, app])).toContainEqual(['Bearer s2', null]);
  expect((await requests(server, next.id)).every(({ authorization }) => authorization === 'Bearer s2')).toBe(true);
});

test('a token that expires mid-download with no page open: the task waits with its bytes; a page that gives a new token resumes it', async ({
  page,
  server,
  openApp,
  engine,
}) => {
  test.setTimeout(150_000);
  const sessionId = unique('expired');
  const token = unique('token');
  await server.setToken(token, 't1');
  // 40 MiB at 4 MB/s (Background Fetch: two ranges at a time, each at half that). The
  // streaming engine's response is cut once at 20 MiB, and its retry meets the new token.
  const cut = engine === 'stream' ? '&drop=20971520&dropDelay=2000&times=1' : '';
  const f = file(server, 40, `&token=${token}&rate=${engine === 'stream' ? 4_000_000 : 2_000_000}${cut}`);
  await answerDelayedRequests(page, { disposition: 'useNewRequest', headers: { Authorization: 'Bearer t2' } });
  await recordSession(page, sessionId);
  const task = await startWithHeaders(page, f.url, { Authorization: 'Bearer t1' });
  await expect.poll(async () => (await server.stats(f.id)).bytesSent, { timeout: 60_000 }).toBeGreaterThan(PART + 2 * MiB);
  await page.close();
  await server.setToken(token, 't2');

  // With no page open, the transfer refused waits: no request after the refusal.
  const refused = expect.poll(async () => (await requests(server, f.id)).some(({ status }) => status === 401), { timeout: 60_000 });
  await refused.toBe(true).catch(async (error: unknown) => {
    await printLog(server, f.id);
    throw error;
  });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const before = await requests(server, f.id);
  const lastRefusal = before.findLastIndex(({ status }) => status === 401);
  expect(before.slice(lastRefusal + 1).filter(({ t }) => t > before[lastRefusal]!.t + 500)).toEqual([]);

  // A page whose delegate has no new request to give yet: the task says why it waits.
  const next = await openApp();
  await answerDelayedRequests(next, { disposition: 'never' });
  await recordSession(next, sessionId);
  const waiting = async () => (await next.evaluate(() => globalThis.session.debugState())).tasks.find((each) => each.taskIdentifier === task);
  await expect.poll(async () => (await waiting())?.waitingFor).toBe('a new request (HTTP 401)');
  expect((await waiting())?.countOfBytesReceived).toBeGreaterThanOrEqual(PART);

  // The delegate is asked once the page's code for asks has loaded: after the state shows.
  await expect
    .poll(async () => (await completions(next)).filter(([type]) => type === 'willBeginDelayedRequest'))
    .toEqual([['willBeginDelayedRequest', task, f.url, 'Bearer t1']]);

  // Made again with one that has: the download resumes from the bytes kept, with the new token.
  await answerDelayedRequests(next, { disposition: 'useNewRequest', headers: { Authorization: 'Bearer t2' } });
  await recordSession(next, sessionId);
  await waitForFinishEvents(next, 1, 90_000);
  const recorded = await completions(next);
  expect(recorded.filter(([type]) => type === 'willBeginDelayedRequest')).toEqual([['willBeginDelayedRequest', task, f.url, 'Bearer t1']]);
  expect(await ends(next)).toEqual([...(await downloaded(server, f, task)), ['didFinishEvents']]);
  const log = await requests(server, f.id);
  const resumed = log.slice(log.findLastIndex(({ status }) => status === 401) + 1);
  expect(resumed.length).toBeGreaterThan(0);
  expect(resumed.every(({ authorization }) => authorization === 'Bearer t2')).toBe(true);
  expect(Number(/^bytes=(\d+)-/.exec(resumed[0]!.range ?? '')?.[1])).toBeGreaterThanOrEqual(PART);
  expect((await server.stats(f.id)).bytesSent).toBeLessThanOrEqual(f.size + PART);
});

test('a signed URL that expires while a page is open: the delegate is asked at once, and its new URL finishes the file', async ({ page, server, engine }) => {
  const id = unique('signed');
  const url = (expires: number) => server.url(`/files/24m?seed=${id}&id=${id}&rate=${engine === 'stream' ? 4_000_000 : 2_000_000}&expires=${expires}`);
  // It expires 3 s in: the rest of the file needs a new URL.
  const expiring = url(Date.now() + 3000);
  const fresh = url(Date.now() + 3_600_000);
  const cut = engine === 'stream' ? '&drop=16777216&dropDelay=2000&times=1' : '';
  await answerDelayedRequests(page, { disposition: 'useNewRequest', url: fresh + cut });
  await recordSession(page, unique('signed'));
  const task = await startDownload(page, expiring + cut);
  await waitForFinishEvents(page, 1, 90_000);
  const recorded = await completions(page);
  expect(recorded.filter(([type]) => type === 'willBeginDelayedRequest')).toEqual([['willBeginDelayedRequest', task, expiring + cut, null]]);
  expect(await ends(page)).toEqual([...(await downloaded(server, { id, size: 24 * MiB }, task)), ['didFinishEvents']]);
  const log = await requests(server, id);
  expect(log.filter(({ status }) => status === 403).length).toBeGreaterThan(0);
  expect(log.at(-1)!.url).toContain(`expires=${/expires=(\d+)/.exec(fresh)![1]}`);
  expect((await server.stats(id)).bytesSent).toBeLessThanOrEqual(24 * MiB + PART);
});

test('without willBeginDelayedRequest, a request refused for its credentials ends the task at once, with the status', async ({ page, server }) => {
  const f = file(server, 1, `&token=${unique('unset')}`);
  await recordSession(page, unique('refused'));
  const task = await startDownload(page, f.url);
  await waitForFinishEvents(page);
  expect(await completions(page)).toEqual([
    ['didCompleteWithError', task, expect.objectContaining({ name: 'URLError', code: 'badServerResponse', status: 401 })],
    ['didFinishEvents'],
  ]);
});

test('willBeginDelayedRequest before an earliestBeginDate: cancel ends the task unsent; useNewRequest sends the new request', async ({ page, server }) => {
  const cancelled = file(server, 1);
  const renamed = file(server, 1);
  const begin = (url: string) =>
    page.evaluate((url) => {
      const task = globalThis.session.downloadTask(url);
      task.earliestBeginDate = new Date(Date.now() + 1500);
      task.resume();
      return task.taskIdentifier;
    }, url);
  await answerDelayedRequests(page, { disposition: 'cancel' });
  await recordSession(page, unique('delayed-cancel'));
  const first = await begin(cancelled.url);
  await waitForFinishEvents(page);
  expect(await completions(page)).toEqual([
    ['willBeginDelayedRequest', first, cancelled.url, null],
    ['didCompleteWithError', first, expect.objectContaining({ name: 'URLError', code: 'cancelled' })],
    ['didFinishEvents'],
  ]);
  expect(await requests(server, cancelled.id)).toEqual([]);

  await answerDelayedRequests(page, { disposition: 'useNewRequest', url: `${renamed.url}&asked=1`, headers: { 'X-App': 'new' } });
  await recordSession(page, unique('delayed-new'));
  const second = await begin(renamed.url);
  await waitForFinishEvents(page);
  expect(await completions(page)).toEqual([
    ['willBeginDelayedRequest', second, renamed.url, null],
    ...(await downloaded(server, renamed, second)),
    ['didFinishEvents'],
  ]);
  expect((await requests(server, renamed.id)).map(({ url, app }) => [url!.includes('&asked=1'), app])).toEqual(
    (await requests(server, renamed.id)).map(() => [true, 'new']),
  );
});

test('resume data made with an expired token continues, from its bytes, with the new request the delegate gives', async ({ page, server }) => {
  const token = unique('token');
  await server.setToken(token, 'r1');
  const f = file(server, 24, `&token=${token}&rate=6000000`);
  await recordSession(page, unique('resume-token'));
  await startWithHeaders(page, f.url, { Authorization: 'Bearer r1' });
  await expect.poll(async () => (await server.stats(f.id)).bytesSent, { timeout: 60_000 }).toBeGreaterThan(10 * MiB);
  const resumeData = await page.evaluate(async () => ((await globalThis.session.getAllTasks())[0] as URLSessionDownloadTask).cancelByProducingResumeData());
  expect(typeof resumeData).toBe('string');
  await waitForFinishEvents(page);
  const sentBefore = (await requests(server, f.id)).length;

  // A night later: the token changed. The task made from the resume data asks for a request first.
  await server.setToken(token, 'r2');
  await answerDelayedRequests(page, { disposition: 'useNewRequest', headers: { Authorization: 'Bearer r2' } });
  await recordSession(page, unique('resume-token-next'));
  const second = await page.evaluate((resumeData) => {
    const task = globalThis.session.downloadTask({ resumeData });
    task.resume();
    return task.taskIdentifier;
  }, resumeData!);
  await waitForFinishEvents(page);
  expect(await completions(page)).toEqual([
    ['willBeginDelayedRequest', second, f.url, 'Bearer r1'],
    ...(await downloaded(server, f, second)),
    ['didFinishEvents'],
  ]);
  const after = (await requests(server, f.id)).slice(sentBefore);
  expect(after.map(({ authorization, status }) => [authorization, status])).toEqual([['Bearer r2', 206]]);
  expect(Number(/^bytes=(\d+)-$/.exec(after[0]!.range ?? '')?.[1])).toBeGreaterThanOrEqual(PART);
});
