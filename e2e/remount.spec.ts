import { expect, test, unique } from './fixtures.js';
import { completions, MiB, recordSession, startDownload, testFile, waitForFinishEvents } from './recorder.js';

test('a session made again with the same identifier in the same page takes over: the old one delivers nothing more', async ({ page, server }) => {
  const identifier = unique('remount');
  // The file waits at 1 MiB until the view has remounted: under load, a download let run ended
  // before the remount, and its events went, rightly, to the old session.
  const gate = unique('remount-gate');
  const f = testFile(server, 4, `&rate=4000000&gate=${gate}&gateAt=${MiB}`);
  await recordSession(page, identifier);
  const task = await startDownload(page, f.url);
  await expect.poll(async () => (await server.gate(gate)).held).toBeGreaterThan(0);
  // The view remounts: the old session object stays alive (kept here), a new one is made.
  await page.evaluate(() => Object.assign(globalThis, { oldSession: globalThis.session, oldRecorded: globalThis.recorded }));
  await recordSession(page, identifier);
  await page.evaluate(() => globalThis.session.ready);
  await server.release(gate);
  await waitForFinishEvents(page, 1, 60_000);
  expect(await completions(page)).toEqual([
    ['didFinishDownloadingTo', task, { sha256: await server.sha256(f.id, f.size), size: f.size, movedTo: null }],
    ['didCompleteWithError', task, null],
    ['didFinishEvents'],
  ]);
  const old = await page.evaluate(() => (globalThis as unknown as { oldRecorded: unknown[][] }).oldRecorded.filter((event) => event[0] !== 'didWriteData'));
  expect(old).toEqual([]);
});
