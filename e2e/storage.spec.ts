import { completions, recordSession, setMoveTo, startDownload, waitForFinishEvents } from './recorder.js';
import { expect, test, unique } from './fixtures.js';

const MiB = 1024 * 1024;

test('storage quota exhausted: the task ends with cannotWriteToFile, other files and tasks are left whole', async ({ page, server, context, baseURL }) => {
  const sessionId = unique('quota');
  await recordSession(page, sessionId);

  // A file kept in the permanent store before the quota runs out.
  const keptId = unique('kept');
  await setMoveTo(page, 'kept');
  const kept = await startDownload(page, server.url(`/files/2m?seed=${keptId}&id=${keptId}`));
  await waitForFinishEvents(page);
  await setMoveTo(page, null);

  // Chromium lets DevTools give an origin a small quota (here: less than the next file). With
  // Background Fetch a file takes twice its size for a moment: the browser's records, then the
  // library's parts, until the registration is let go.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(baseURL!).origin, quotaSize: 32 * MiB });

  const bigId = unique('big');
  const big = await startDownload(page, server.url(`/files/64m?seed=${bigId}&id=${bigId}`));
  await waitForFinishEvents(page, 2);
  expect((await completions(page)).slice(3)).toEqual([
    ['didCompleteWithError', big, expect.objectContaining({ name: 'URLError', code: 'cannotWriteToFile' })],
    ['didFinishEvents'],
  ]);

  // The kept file is whole, and the failed task left its bytes behind it: a file that fits
  // downloads.
  const sha256 = await page.evaluate(async (name) => {
    const blob = (await globalThis.bgdl.documents.get(name))!;
    const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, `kept-${kept}`);
  expect(sha256).toBe(await server.sha256(keptId, '2m'));
  const smallId = unique('small');
  const small = await startDownload(page, server.url(`/files/12m?seed=${smallId}&id=${smallId}`));
  await waitForFinishEvents(page, 3);
  expect((await completions(page)).slice(5)).toEqual([
    ['didFinishDownloadingTo', small, { sha256: await server.sha256(smallId, '12m'), size: 12 * MiB, movedTo: null }],
    ['didCompleteWithError', small, null],
    ['didFinishEvents'],
  ]);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(baseURL!).origin });
});
