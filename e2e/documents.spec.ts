/**
 * The last mile of a kept file: the worker serves it (`documents.url`) with byte ranges, a
 * media element plays and seeks it from there, and `documents.list()` tells what it is.
 */
import { completions, MiB, recordSession, setMoveTo, startDownload, waitForFinishEvents } from './recorder.js';
import { createHash } from 'node:crypto';
import { expect, test, unique, type AppPage } from './fixtures.js';

test('a kept file is served by the worker: a range (206, its bytes), the whole (200), HEAD, 416 past the end, 404 for none; list() tells its size, type, source, time', async ({
  page,
  server,
}) => {
  const id = unique('served');
  const source = server.url(`/files/3m?seed=${id}&id=${id}&rate=500000`);
  await recordSession(page, unique('documents'));
  await setMoveTo(page, 'clip');
  const task = await startDownload(page, source);
  // URLResponse's name for the file: the URL's last segment (the server sends no Content-Disposition).
  await page.waitForFunction(async () => (await globalThis.session.getAllTasks())[0]?.response?.suggestedFilename === '3m');
  await waitForFinishEvents(page);
  const name = `clip-${task}`;
  const before = (await server.stats(id)).requests;
  // What is kept outlives the page.
  await page.reload();
  const served = await page.evaluate(
    async ({ name, other }) => {
      const { documents } = globalThis.bgdl;
      const url = await documents.url(name);
      const range = await fetch(url, { headers: { Range: 'bytes=1000-1999' } });
      const expected = new Uint8Array(await (await fetch(other, { headers: { Range: 'bytes=1000-1999' } })).arrayBuffer());
      const got = new Uint8Array(await range.arrayBuffer());
      const whole = await fetch(url);
      const digest = await crypto.subtle.digest('SHA-256', await whole.arrayBuffer());
      const head = await fetch(url, { method: 'HEAD' });
      const past = await fetch(url, { headers: { Range: 'bytes=4000000-' } });
      const missing = await fetch(await documents.url('no such file'));
      return {
        range: { status: range.status, contentRange: range.headers.get('Content-Range'), same: got.length === 1000 && got.every((b, i) => b === expected[i]) },
        whole: { status: whole.status, type: whole.headers.get('Content-Type'), ranges: whole.headers.get('Accept-Ranges') },
        sha256: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''),
        head: { status: head.status, length: head.headers.get('Content-Length') },
        past: { status: past.status, contentRange: past.headers.get('Content-Range') },
        missing: missing.status,
        listed: (await documents.list()).map(({ keptAt, ...rest }) => ({ ...rest, age: Date.now() - keptAt.getTime() })),
      };
    },
    { name, other: server.url(`/files/3m?seed=${id}&id=${unique('other')}`) },
  );
  expect(served).toMatchObject({
    range: { status: 206, contentRange: `bytes 1000-1999/${3 * MiB}`, same: true },
    whole: { status: 200, type: 'application/octet-stream', ranges: 'bytes' },
    sha256: await server.sha256(id, '3m'),
    head: { status: 200, length: String(3 * MiB) },
    past: { status: 416, contentRange: `bytes */${3 * MiB}` },
    missing: 404,
  });
  // (No integrity asked: the file is not hashed.)
  expect(served.listed).toEqual([{ name, size: 3 * MiB, type: 'application/octet-stream', url: source, digest: '', age: expect.any(Number) }]);
  expect(served.listed[0]!.age).toBeGreaterThanOrEqual(0);
  expect(served.listed[0]!.age).toBeLessThan(60_000);
  // Every byte came from storage: the server saw no request for the file since the download.
  expect((await server.stats(id)).requests).toBe(before);
});

const MEDIA = [
  { kind: 'audio', path: '/media/30.wav', type: 'audio/wav', width: 0 },
  { kind: 'video', path: '/media/bars.webm', type: 'video/webm', width: 160 },
] as const;

for (const media of MEDIA) {
  test(`a kept ${media.kind} file plays and seeks from the worker, the server never asked again`, async ({ page, server }) => {
    const id = unique(media.kind);
    await recordSession(page, unique('media'));
    await setMoveTo(page, media.kind);
    const task = await startDownload(page, server.url(`${media.path}?id=${id}`));
    await waitForFinishEvents(page);
    // Offline where the test can say so (Chromium): the worker answers from storage.
    await page.playwright?.context().setOffline(true);
    const played = await page.evaluate(
      async ({ name, kind }) => {
        const element = document.createElement(kind);
        element.muted = true;
        const event = (type: string) =>
          new Promise<void>((resolve, reject) => {
            element.addEventListener(type, () => resolve(), { once: true });
            element.addEventListener('error', () => reject(new Error(`media error ${element.error?.code}: ${element.error?.message}`)), { once: true });
            setTimeout(() => reject(new Error(`no ${type} within 20 s`)), 20_000);
          });
        const ready = event('canplay');
        element.src = await globalThis.bgdl.documents.url(name);
        await ready;
        const seeked = event('seeked');
        element.currentTime = 20;
        await seeked;
        const width = element instanceof HTMLVideoElement ? element.videoWidth : 0;
        return { duration: element.duration, currentTime: element.currentTime, width, list: await globalThis.bgdl.documents.list() };
      },
      { name: `${media.kind}-${task}`, kind: media.kind },
    );
    expect(played.duration).toBeCloseTo(30, 0);
    expect(played.currentTime).toBeCloseTo(20, 0);
    expect(played.width).toBe(media.width);
    expect(played.list.map(({ type }) => type)).toEqual([media.type]);
    // (Background Fetch sends a HEAD first.)
    expect((await server.stats(id)).log.filter(({ method }) => method === 'GET')).toHaveLength(1);
  });
}

test('expectedContentTypes: an HTML page answered 200 for a model file ends in a named error, and nothing is kept', async ({ page, server }) => {
  const id = unique('html');
  await recordSession(page, unique('types'), { expectedContentTypes: ['application/octet-stream', 'model/*'] });
  const refused = await startDownload(page, server.url(`/files/12m?seed=${id}&id=${id}&rate=2000000&type=text/html;charset=utf-8`));
  await waitForFinishEvents(page);
  const good = unique('model');
  const kept = await startDownload(page, server.url(`/files/1m?seed=${good}&id=${good}&type=model/gltf-binary`));
  await waitForFinishEvents(page, 2);
  const events = await completions(page);
  expect(events[0]).toEqual([
    'didCompleteWithError',
    refused,
    expect.objectContaining({ name: 'URLError', code: 'badServerResponse', message: expect.stringContaining('text/html') }),
  ]);
  expect(events.slice(1)).toEqual([
    ['didFinishEvents'],
    ['didFinishDownloadingTo', kept, { sha256: await server.sha256(good, '1m'), size: MiB, movedTo: null }],
    ['didCompleteWithError', kept, null],
    ['didFinishEvents'],
  ]);
  // Refused before its body: far less than the file went out, and no part of it stayed.
  expect((await server.stats(id)).bytesSent).toBeLessThan(4 * MiB);
  const parts = await page.evaluate(async () => (await (await caches.open('bgdl-files')).keys()).filter((request) => request.url.includes('/tmp/')).length);
  expect(parts).toBe(0);
});

/** Starts a download of a `Request` with `integrity`; resolves to its task's identifier. */
function startChecked(page: AppPage, url: string, integrity: string): Promise<number> {
  return page.evaluate(
    ({ url, integrity }) => {
      const task = globalThis.session.downloadTask(new Request(url, { integrity }));
      task.resume();
      return task.taskIdentifier;
    },
    { url, integrity },
  );
}

test('integrity: the right digest completes (the digest kept with the file), a wrong one ends in integrityMismatch and nothing is handed over', async ({
  page,
  server,
}) => {
  await recordSession(page, unique('integrity'));
  await setMoveTo(page, 'checked');
  const good = unique('good');
  // Larger than a part, slow enough to be stored in several: hashed part by part.
  const sha512 = createHash('sha512');
  const bytes = await (await fetch(server.url(`/files/20m?seed=${good}&id=${unique('ref')}`))).arrayBuffer();
  const integrity = `sha384-AAAA sha512-${sha512.update(Buffer.from(bytes)).digest('base64')}`;
  const kept = await startChecked(page, server.url(`/files/20m?seed=${good}&id=${good}&rate=8000000`), integrity);
  await waitForFinishEvents(page);
  const bad = unique('bad');
  const wrong = `sha256-${Buffer.alloc(32).toString('base64')}`;
  const refused = await startChecked(page, server.url(`/files/3m?seed=${bad}&id=${bad}`), wrong);
  await waitForFinishEvents(page, 2);
  expect(await completions(page)).toEqual([
    ['didFinishDownloadingTo', kept, { sha256: await server.sha256(good, '20m'), size: 20 * MiB, movedTo: `checked-${kept}` }],
    ['didCompleteWithError', kept, null],
    ['didFinishEvents'],
    ['didCompleteWithError', refused, expect.objectContaining({ name: 'URLError', code: 'integrityMismatch', message: expect.stringContaining(wrong) })],
    ['didFinishEvents'],
  ]);
  const listed = await page.evaluate(async () => (await globalThis.bgdl.documents.list()).map(({ name, digest }) => ({ name, digest })));
  expect(listed).toEqual([{ name: `checked-${kept}`, digest: `sha512-${createHash('sha512').update(Buffer.from(bytes)).digest('base64')}` }]);
  // A malformed integrity is refused at once, quoting it.
  const error = await page.evaluate(() => {
    try {
      globalThis.session.downloadTask(new Request('https://example.com/x', { integrity: 'md5-abc' }));
      return null;
    } catch (thrown) {
      return { name: (thrown as Error).name, message: (thrown as Error).message };
    }
  });
  expect(error).toEqual({ name: 'TypeError', message: expect.stringContaining('"md5-abc"') });
});

test('a file larger than the room left fails at once, before 1 MiB of its body is sent, saying what it needs and what is free', async ({ page, server }) => {
  // 4 TiB, announced by Content-Length: more than any browser's quota here. (Chromium's
  // Storage.overrideQuotaForOrigin limits writes but leaves navigator.storage.estimate() as it was.)
  await recordSession(page, unique('room'));
  const id = unique('huge');
  const task = await startDownload(page, server.url(`/files/4096g?seed=${id}&id=${id}&rate=2000000`));
  await waitForFinishEvents(page);
  expect(await completions(page)).toEqual([
    [
      'didCompleteWithError',
      task,
      expect.objectContaining({
        name: 'URLError',
        code: 'cannotWriteToFile',
        message: expect.stringMatching(/needs 4398046511104 bytes of storage, and \d+ are free/),
      }),
    ],
    ['didFinishEvents'],
  ]);
  expect((await server.stats(id)).bytesSent).toBeLessThan(MiB);
});

test('documents.save() streams a kept file to the file the user picks (here a file of the origin private file system)', async ({ page, server }) => {
  const id = unique('saved');
  await recordSession(page, unique('save'));
  await setMoveTo(page, 'report');
  const task = await startDownload(page, server.url(`/files/20m?seed=${id}&id=${id}`));
  await waitForFinishEvents(page);
  const saved = await page.evaluate(async (name) => {
    if (!('getDirectory' in navigator.storage)) return 'no file system';
    const folder = await navigator.storage.getDirectory();
    const target = await folder.getFileHandle('picked.bin', { create: true });
    if (!('createWritable' in target)) return 'no file system';
    // The picker, as the user would answer it: the page cannot open one without a click.
    Object.assign(globalThis, { showSaveFilePicker: async () => target });
    await globalThis.bgdl.documents.save(name);
    const digest = await crypto.subtle.digest('SHA-256', await (await target.getFile()).arrayBuffer());
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, `report-${task}`);
  test.skip(saved === 'no file system', 'This browser has no origin private file system to stand for the picked file (WebKitGTK: no getDirectory)');
  expect(saved).toBe(await server.sha256(id, '20m'));
});

test('documents.save() where there is no file picker: a link to the file, which the worker answers as an attachment with the bytes kept', async ({
  page,
  server,
}) => {
  const id = unique('attached');
  await recordSession(page, unique('fallback'));
  await setMoveTo(page, 'notes');
  const task = await startDownload(page, server.url(`/files/3m?seed=${id}&id=${id}`));
  await waitForFinishEvents(page);
  const clicked = await page.evaluate(async (name) => {
    // As in Firefox and Safari: no picker. The click is what the browser would download.
    Object.assign(globalThis, { showSaveFilePicker: undefined });
    const links: { href: string; download: string }[] = [];
    HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
      links.push({ href: this.href, download: this.download });
    };
    await globalThis.bgdl.documents.save(name);
    const answer = await fetch(links[0]!.href);
    const digest = await crypto.subtle.digest('SHA-256', await answer.arrayBuffer());
    return {
      links: links.map(({ href, download }) => ({ path: new URL(href).pathname + new URL(href).search, download })),
      status: answer.status,
      disposition: answer.headers.get('Content-Disposition'),
      sha256: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''),
    };
  }, `notes-${task}`);
  expect(clicked).toEqual({
    links: [{ path: `/__bgdl__/files/~notes-${task}?download`, download: `notes-${task}` }],
    status: 200,
    disposition: `attachment; filename*=UTF-8''notes-${task}`,
    sha256: await server.sha256(id, '3m'),
  });
});
