import type { URLSessionDownloadTask } from '../src/index.js';
import { completions, hungTask, recordSession, setHangOnFinish, setMoveTo, startDownload, PART, waitForFinishEvents } from './recorder.js';
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
  const cdp = await context.newCDPSession(page.playwright!);
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

test('no room to keep a finished file (moveTo): the file and its events wait, and come again with the session', async ({
  page,
  openApp,
  server,
  context,
  baseURL,
}) => {
  const sessionId = unique('noroom');
  const origin = new URL(baseURL!).origin;
  // The download finishes while its handler hangs: its event stays in the outbox, unacknowledged.
  await recordSession(page, sessionId);
  await setHangOnFinish(page, true);
  const id = unique('file');
  const task = await startDownload(page, server.url(`/files/4m?seed=${id}&id=${id}`));
  await expect.poll(() => hungTask(page), { timeout: 60_000 }).toBe(task);
  await page.close();

  // Then the origin has no room left for a copy: `moveTo` fails with QuotaExceededError.
  const full = await openApp();
  const cdp = await context.newCDPSession(full.playwright!);
  const { usage } = await full.evaluate(() => navigator.storage.estimate());
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage! + 1024 * 1024 });
  const warnings: string[] = [];
  full.playwright!.on('console', (message) => message.type() === 'warning' && warnings.push(message.text()));
  await setMoveTo(full, 'kept');
  await recordSession(full, sessionId);
  await expect.poll(() => warnings.find((text) => text.includes('no room to keep the file')), { timeout: 30_000 }).toBeTruthy();
  // Neither the download's end nor its success is told: the file was not kept.
  expect(await completions(full)).toEqual([]);

  // With room again, the session created again (here, by a new page) gets the file, once.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin });
  await full.close();
  const next = await openApp();
  await setMoveTo(next, 'kept');
  await recordSession(next, sessionId);
  await waitForFinishEvents(next);
  const sha256 = await server.sha256(id, '4m');
  expect(await completions(next)).toEqual([
    ['didFinishDownloadingTo', task, { sha256, size: 4 * MiB, movedTo: `kept-${task}` }],
    ['didCompleteWithError', task, null],
    ['didFinishEvents'],
  ]);
});

test('no room even to record the end of a download: nothing is told until there is room, then each task ends once', async ({
  page,
  server,
  context,
  baseURL,
}) => {
  test.setTimeout(180_000);
  const origin = new URL(baseURL!).origin;
  await recordSession(page, unique('full'));
  const gate = unique('gate');
  const files = [1, 2, 3].map(() => {
    const id = unique('f');
    return { id, url: server.url(`/files/1k?seed=${id}&id=${id}&gate=${gate}`) };
  });
  const tasks: number[] = [];
  for (const f of files) tasks.push(await startDownload(page, f.url));
  // (Background Fetch sends them one at a time.)
  await expect.poll(async () => (await server.gate(gate)).reached, { timeout: 30_000 }).toBeGreaterThan(0);
  // No room at all. Chromium checks IndexedDB writes against the space it last read, for up to
  // 30 s (BucketContext::kBucketSpaceCacheTimeLimit): after that, against this quota.
  const cdp = await context.newCDPSession(page.playwright!);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1 });
  await page.waitForTimeout(31_000);
  await server.release(gate);
  // The files come (Background Fetch's copy may not: the browser has no room for it either), but
  // neither they nor their ends can be stored: nothing is told yet.
  await page.waitForTimeout(5_000);
  expect(await completions(page)).toEqual([]);
  // With room again, each task ends, once: with its file whole, or, if it found no room, without.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin });
  await page.waitForFunction((n) => globalThis.recorded.filter((e) => e[0] === 'didCompleteWithError').length >= n, tasks.length, { timeout: 90_000 });
  const events = await completions(page);
  for (const [index, task] of tasks.entries()) {
    const own = events.filter((event) => event[1] === task);
    const sha256 = await server.sha256(files[index]!.id, 1024);
    expect([
      [['didCompleteWithError', task, expect.objectContaining({ name: 'URLError', code: 'cannotWriteToFile' })]],
      [
        ['didFinishDownloadingTo', task, { sha256, size: 1024, movedTo: null }],
        ['didCompleteWithError', task, null],
      ],
    ]).toContainEqual(own);
  }
});

test('cancelByProducingResumeData() with no room to keep the bytes: the call fails with a named error and the task ends cancelled, once', async ({
  page,
  server,
  context,
  baseURL,
  engine,
}) => {
  const origin = new URL(baseURL!).origin;
  await recordSession(page, unique('resumefull'));
  const id = unique('file');
  const gate = unique('gate');
  const task = await startDownload(page, server.url(`/files/32m?seed=${id}&id=${id}&rate=6000000&gate=${gate}&gateAt=${18 * MiB}`));
  // The body stops at 18 MiB and 16 MiB are stored as parts: nothing arrives while the quota is
  // low (Background Fetch's own copy of a range would otherwise fail the download first).
  await expect.poll(async () => (await server.gate(gate)).held, { timeout: 60_000 }).toBeGreaterThan(0);
  // (The streaming engine stores parts of PART bytes; Background Fetch counts the ranges stored.)
  const stored = async () => {
    const [running] = (await page.evaluate(() => globalThis.session.debugState())).tasks;
    return engine === 'stream' ? running!.parts * PART : running!.countOfBytesReceived;
  };
  await expect.poll(stored, { timeout: 30_000 }).toBeGreaterThanOrEqual(16 * MiB);
  // Room for the bytes received (the part being filled, 2 MiB), not for the resume data's copy
  // of the parts kept (16 MiB or more).
  const cdp = await context.newCDPSession(page.playwright!);
  const { usage } = await page.evaluate(() => navigator.storage.estimate());
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage! + 4 * MiB });
  const outcome = await page.evaluate(async () => {
    const [running] = await globalThis.session.getAllTasks();
    return (running as URLSessionDownloadTask).cancelByProducingResumeData().then(
      (data) => ({ data }),
      (error: Error) => ({ name: error.name, message: error.message }),
    );
  });
  await cdp.send('Storage.overrideQuotaForOrigin', { origin });
  await server.release(gate);
  await waitForFinishEvents(page);
  expect(await completions(page)).toEqual([
    ['didCompleteWithError', task, expect.objectContaining({ name: 'URLError', code: 'cancelled' })],
    ['didFinishEvents'],
  ]);
  expect(outcome).toEqual({ name: 'QuotaExceededError', message: expect.any(String) });
  expect(await page.evaluate(async () => (await globalThis.session.getAllTasks()).length)).toBe(0);
});
