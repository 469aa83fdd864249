import { completions, hungTask, recordSession, setHangOnFinish, startDownload } from './recorder.js';
import { expect, test, unique, type AppPage } from './fixtures.js';
import { storedEvents } from './outbox.mjs';

const MiB = 1024 * 1024;

/** The types of the events of `sessionId` the worker's outbox holds, read from the page (the database is the origin's). */
async function eventsStored(page: AppPage, sessionId: string): Promise<string[]> {
  return (await page.evaluate(storedEvents, sessionId)).map((e) => e.type);
}

test('a session read ahead as its page loads, then changed before the page re-creates it: the page gets the change at once', async ({
  page,
  openApp,
  server,
}) => {
  const sessionId = unique('ahead');
  const [small, slow] = [unique('file'), unique('file')];
  await recordSession(page, sessionId);
  // The first page never settles its handler: the small file's events wait for the next page.
  await setHangOnFinish(page, true);
  const first = await startDownload(page, server.url(`/files/64k?seed=${small}&id=${small}`));
  await expect.poll(() => hungTask(page), { timeout: 60_000 }).toBe(first);
  // 2 MiB at 500 KB/s: still under way when the next page loads.
  const second = await startDownload(page, server.url(`/files/2m?seed=${slow}&id=${slow}&rate=500000`));
  await expect.poll(async () => (await server.stats(slow)).bytesSent, { timeout: 30_000 }).toBeGreaterThan(0);
  await page.close();

  // Its navigation has the worker read the session ahead, the slow file still running.
  const next = await openApp();
  expect((await server.stats(slow)).bytesSent).toBeLessThan(2 * MiB);
  // The slow file ends before the page re-creates the session: what was read ahead is stale.
  // (A finished download is one record in the outbox: its completion, which carries its file.)
  await expect.poll(() => eventsStored(next, sessionId), { timeout: 60_000 }).toEqual(['didCompleteWithError', 'didCompleteWithError']);
  await recordSession(next, sessionId);
  await next.evaluate(() => globalThis.session.ready);
  // `ready` settles once the waiting events are delivered: all four, from a read made then.
  expect(await completions(next)).toEqual([
    ['didFinishDownloadingTo', first, { sha256: await server.sha256(small, '64k'), size: 64 * 1024, movedTo: null }],
    ['didCompleteWithError', first, null],
    ['didFinishDownloadingTo', second, { sha256: await server.sha256(slow, '2m'), size: 2 * MiB, movedTo: null }],
    ['didCompleteWithError', second, null],
    ['didFinishEvents'],
  ]);
});
