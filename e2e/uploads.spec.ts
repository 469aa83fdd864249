/** Upload tasks: from a file only, as in Apple’s article, and what a background task cannot send. */
import { collectMetrics, completions, recordSession, waitForFinishEvents } from './recorder.js';
import { expect, test, unique } from './fixtures.js';

test('uploadTask from a file: the server receives it whole, didSendBodyData reaches its size, and its metrics show the POST', async ({
  page,
  server,
  engine,
}) => {
  const id = unique('up');
  await collectMetrics(page);
  await recordSession(page, unique('upload'));
  const upload = await page.evaluate(
    async (url) => {
      const bytes = new Uint8Array(5 * 1024 * 1024);
      for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
      const digest = await crypto.subtle.digest('SHA-256', bytes);
      const session = globalThis.session;
      const sent: number[][] = (globalThis.sent = []);
      session.delegate.didSendBodyData = (_s: unknown, _t: unknown, bytesSent: number, total: number, expected: number) =>
        sent.push([bytesSent, total, expected]);
      const task = session.uploadTask(url, new Blob([bytes], { type: 'application/octet-stream' }));
      task.resume();
      return {
        task: task.taskIdentifier,
        size: bytes.length,
        sha256: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''),
      };
    },
    server.url(`/upload?id=${id}`),
  );
  await waitForFinishEvents(page);
  const request = { url: server.url(`/upload?id=${id}`), method: 'POST', range: null };
  const transaction = expect.objectContaining({ request, engine, statusCode: 200, redirected: false });
  expect(await completions(page)).toEqual([
    ['didFinishCollecting', upload.task, expect.objectContaining({ redirectCount: 0, transactionMetrics: [transaction] })],
    ['didCompleteWithError', upload.task, null],
    ['didFinishEvents'],
  ]);
  const { uploads } = (await server.stats(id)) as unknown as { uploads: { size: number; sha256: string }[] };
  expect(uploads).toEqual([expect.objectContaining({ size: upload.size, sha256: upload.sha256 })]);
  const sent = await page.evaluate(() => globalThis.sent);
  expect(sent.at(-1)).toEqual([expect.any(Number), upload.size, upload.size]);
  expect(sent.reduce((sum, [bytes]) => sum + bytes!, 0)).toBe(upload.size);
});

test('countOfBytesClientExpectsToSend: a larger file ends the upload in a named error, and nothing is sent', async ({ page, server }) => {
  const id = unique('up-limit');
  await recordSession(page, unique('upload-limit'));
  const task = await page.evaluate(
    (url) => {
      const task = globalThis.session.uploadTask(url, new Blob([new Uint8Array(2 * 1024 * 1024)]));
      task.countOfBytesClientExpectsToSend = 1024 * 1024;
      task.resume();
      return task.taskIdentifier;
    },
    server.url(`/upload?id=${id}`),
  );
  await waitForFinishEvents(page);
  expect(await completions(page)).toEqual([
    [
      'didCompleteWithError',
      task,
      expect.objectContaining({ name: 'URLError', code: 'dataLengthExceedsMaximum', message: expect.stringContaining('countOfBytesClientExpectsToSend') }),
    ],
    ['didFinishEvents'],
  ]);
  expect((await server.stats(id)).requests).toBe(0);
});

test('uploads from data or a stream are refused, as in Apple’s article', async ({ page }) => {
  await recordSession(page, unique('upload-data'));
  const errors = await page.evaluate(() => {
    const session = globalThis.session;
    const attempt = (body: unknown) => {
      try {
        // @ts-expect-error: not a Blob, on purpose
        session.uploadTask('/upload', body);
        return null;
      } catch (error) {
        const { name, message } = error as Error;
        return { name, message };
      }
    };
    return [attempt(new Uint8Array(4)), attempt(new ReadableStream()), attempt('text')];
  });
  for (const error of errors) {
    expect(error).toEqual({ name: 'TypeError', message: expect.stringContaining('upload only from files') });
  }
});
