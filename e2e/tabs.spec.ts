import type { AppPage } from './fixtures.js';
import { completions, hungTask, pageErrors, recordSession, recorded, setHangOnFinish, startDownload, waitForFinishEvents } from './recorder.js';
import { expect, test, unique, type TestServer } from './fixtures.js';

const MiB = 1024 * 1024;

/** A rate-limited file on the test server, with its own stats id. */
function file(server: TestServer, mib: number, rate: number) {
  const id = unique('tab-file');
  return { id, size: mib * MiB, url: server.url(`/files/${mib}m?seed=${id}&id=${id}&rate=${rate}`) };
}

/** The tasks `getAllTasks()` lists in a page's recorded session. */
function listedTasks(page: AppPage): Promise<{ taskIdentifier: number; state: string }[]> {
  return page.evaluate(async () => (await globalThis.session.getAllTasks()).map((task) => ({ taskIdentifier: task.taskIdentifier, state: task.state })));
}

/** How many `didWriteData` a page's delegate got for a task. */
async function writes(page: AppPage, taskIdentifier: number): Promise<number> {
  return (await recorded(page)).filter((event) => event[0] === 'didWriteData' && event[1] === taskIdentifier).length;
}

/** Opens a second tab of the app and records the same session in both. */
async function twoTabs(page: AppPage, openApp: () => Promise<AppPage>, sessionId: string): Promise<[AppPage, AppPage]> {
  const second = await openApp();
  for (const tab of [page, second]) {
    await recordSession(tab, sessionId);
    await tab.evaluate(() => globalThis.session.ready);
  }
  return [page, second];
}

test('two tabs of one session both see the task and its progress; each completion event reaches one tab, once', async ({ page, openApp, server }) => {
  const sessionId = unique('tabs');
  // 2 MB/s a response: 4 s or more on the wire (Background Fetch sends two ranges at a time).
  const f = file(server, 16, 2_000_000);
  const tabs = await twoTabs(page, openApp, sessionId);
  const taskIdentifier = await startDownload(tabs[0], f.url);

  // While the file is on the wire, both tabs list the task as running and get its progress.
  for (const tab of tabs) {
    await expect.poll(() => listedTasks(tab)).toEqual([{ taskIdentifier, state: 'running' }]);
    await expect.poll(() => writes(tab, taskIdentifier)).toBeGreaterThan(0);
  }
  expect((await server.stats(f.id)).bytesSent).toBeLessThan(f.size);

  // The completion is delivered under the session's lock: to one tab, once.
  await expect
    .poll(async () => (await Promise.all(tabs.map(completions))).flat().filter((e) => e[0] === 'didFinishEvents').length, { timeout: 60_000 })
    .toBe(1);
  // A third tab of the session finds nothing left to deliver, so nothing can come again.
  const third = await openApp();
  await recordSession(third, sessionId);
  await third.evaluate(() => globalThis.session.ready);
  expect(await recorded(third)).toEqual([]);

  const byTab = await Promise.all(tabs.map(completions));
  const expected = [
    ['didFinishDownloadingTo', taskIdentifier, { sha256: await server.sha256(f.id, '16m'), size: f.size, movedTo: null }],
    ['didCompleteWithError', taskIdentifier, null],
    ['didFinishEvents'],
  ];
  expect(byTab.filter((events) => events.length > 0)).toEqual([expected]);
  expect((await server.stats(f.id)).bytesSent).toBe(f.size); // every byte sent once (in ranges, with Background Fetch)
});

// A tab that did not deliver a task's completion learns from the worker that the task left.
test('after one tab delivered a completion, the other tab no longer lists the task', async ({ page, openApp, server }) => {
  const sessionId = unique('tabs-after');
  const f = file(server, 4, 4_000_000);
  const tabs = await twoTabs(page, openApp, sessionId);
  const taskIdentifier = await startDownload(tabs[0], f.url);
  await expect
    .poll(async () => (await Promise.all(tabs.map(completions))).flat().filter((e) => e[0] === 'didFinishEvents').length, { timeout: 60_000 })
    .toBe(1);
  for (const tab of tabs) {
    await expect.poll(() => listedTasks(tab), { timeout: 5_000, message: `task ${taskIdentifier} still listed` }).toEqual([]);
  }
});

test('the tab holding the lock closes mid-handler: the other tab gets the events, once', async ({ page, openApp, server }) => {
  const sessionId = unique('tabs-close');
  const f = file(server, 8, 4_000_000);
  const tabs = await twoTabs(page, openApp, sessionId);
  // Whichever tab takes the lock first hangs in didFinishDownloadingTo, never acknowledging.
  for (const tab of tabs) await setHangOnFinish(tab, true);
  const taskIdentifier = await startDownload(tabs[0], f.url);

  let holder: AppPage | undefined;
  await expect
    .poll(
      async () => {
        for (const tab of tabs) if ((await hungTask(tab)) === taskIdentifier) holder = tab;
        return holder !== undefined;
      },
      { timeout: 60_000 },
    )
    .toBe(true);
  const other = tabs.find((tab) => tab !== holder)!;
  await setHangOnFinish(other, false);
  // The other tab waits for the lock: it has been told nothing yet.
  expect(await hungTask(other)).toBeUndefined();
  expect(await completions(other)).toEqual([]);

  await holder!.close();
  await waitForFinishEvents(other);
  expect(await completions(other), await pageErrors(other)).toEqual([
    ['didFinishDownloadingTo', taskIdentifier, { sha256: await server.sha256(f.id, '8m'), size: f.size, movedTo: null }],
    ['didCompleteWithError', taskIdentifier, null],
    ['didFinishEvents'],
  ]);
  expect(await listedTasks(other)).toEqual([]);
  expect((await server.stats(f.id)).bytesSent).toBe(f.size); // every byte sent once (in ranges, with Background Fetch)
});
