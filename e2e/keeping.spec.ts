/**
 * Keeping a downloaded file: `moveTo` moves it into the permanent store part by part, and
 * `digestFor` hashes any file from storage when asked.
 */
import { MiB } from './recorder.js';
import { createHash } from 'node:crypto';
import { expect, test, unique } from './fixtures.js';

test('digestFor: a file downloaded without integrity is hashed from storage when asked, in each algorithm, and moveTo keeps the last', async ({
  page,
  server,
}) => {
  const id = unique('digest');
  // Larger than a part (at most 4 MiB as streamed): stored in several.
  const url = server.url(`/files/12m?seed=${id}&id=${id}`);
  const bytes = Buffer.from(await (await fetch(server.url(`/files/12m?seed=${id}&id=${unique('ref')}`))).arrayBuffer());
  const seen = await page.evaluate(
    ({ identifier, url }) => {
      const { URLSession, URLSessionConfiguration } = globalThis.bgdl;
      return new Promise<unknown>((resolve, reject) => {
        const seen: Record<string, string> = {};
        new URLSession(URLSessionConfiguration.background(identifier), {
          async didFinishDownloadingTo(_s, _task, location) {
            seen.digest = location.digest;
            seen.sha256 = await location.digestFor();
            seen.sha512 = await location.digestFor('sha512');
            seen.refused = await location.digestFor('md5' as 'sha256').then(String, (error: Error) => `${error.name}: ${error.message}`);
            await location.moveTo('hashed');
          },
          async didCompleteWithError(_s, _task, error) {
            if (error) return reject(error);
            const [kept] = await globalThis.bgdl.documents.list();
            resolve({ ...seen, kept: kept?.digest });
          },
        })
          .downloadTask(url)
          .resume();
      });
    },
    { identifier: unique('digests'), url },
  );
  const of = (algorithm: string) => `${algorithm}-${createHash(algorithm).update(bytes).digest('base64')}`;
  expect(seen).toEqual({
    digest: '',
    sha256: of('sha256'),
    sha512: of('sha512'),
    refused: expect.stringMatching(/^TypeError: .*"md5"/),
    kept: of('sha512'),
  });
});

test('moveTo is a move: the parts leave the temporary location as they enter the store, the location still reads whole; a second name gets a copy, and a replaced or deleted file leaves no part behind', async ({
  page,
  server,
}) => {
  const id = unique('moved');
  const other = unique('other');
  const urls = [id, other].map((seed) => server.url(`/files/12m?seed=${seed}&id=${seed}`));
  const seen = await page.evaluate(
    ({ identifier, urls }) => {
      const { URLSession, URLSessionConfiguration, documents } = globalThis.bgdl;
      const hex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
      const sha256 = async (blob: Blob | undefined) => blob && hex(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
      // What the store holds, by kind of key: a download's parts, kept parts, kept files.
      const stored = async () => {
        const paths = (await (await caches.open('bgdl-files')).keys()).map((request) => new URL(request.url).pathname);
        const count = (kind: string) => paths.filter((path) => path.startsWith(`/__bgdl__/${kind}/`)).length;
        return { tmp: count('tmp'), kept: count('kept'), files: count('files') };
      };
      const seen: Record<string, unknown>[] = [];
      let done = 0;
      return new Promise<Record<string, unknown>[]>((resolve, reject) => {
        const session = new URLSession(URLSessionConfiguration.background(identifier), {
          async didFinishDownloadingTo(_s, _task, location) {
            const before = await stored();
            await location.moveTo('model.bin');
            const moved = await stored();
            const readable = await sha256(await location.blob());
            // The first file is kept under a second name too: a copy, the parts being the first's.
            if (seen.length === 0) await location.moveTo('copy.bin');
            seen.push({ before, moved, readable, after: await stored() });
          },
          async didCompleteWithError(_s, _task, error) {
            if (error) return reject(error);
            if (++done < 2) return session.downloadTask(urls[1]!).resume();
            const kept = await sha256(await documents.get('model.bin'));
            const copy = await sha256(await documents.get('copy.bin'));
            const listed = (await documents.list()).map(({ name, size }) => ({ name, size })).sort((a, b) => a.name.localeCompare(b.name));
            // Served by the worker from its parts: whole, and a range across parts.
            const url = await documents.url('model.bin');
            const served = await sha256(await (await fetch(url)).blob());
            const range = await sha256(await (await fetch(url, { headers: { Range: 'bytes=2000000-10000000' } })).blob());
            const expected = await sha256((await documents.get('model.bin'))!.slice(2_000_000, 10_000_001));
            await documents.delete('model.bin');
            resolve([...seen, { kept, copy, listed, served, range: range === expected, deleted: await stored() }]);
          },
        });
        session.downloadTask(urls[0]!).resume();
      });
    },
    { identifier: unique('move'), urls },
  );
  const [first, second, end] = seen;
  const [sha, otherSha] = [await server.sha256(id, '12m'), await server.sha256(other, '12m')];
  // Each file's parts were moved; the location read them where they went.
  const parts = (first!.before as { tmp: number }).tmp;
  const otherParts = (second!.before as { tmp: number }).tmp;
  expect(parts).toBeGreaterThan(1);
  expect(first).toEqual({
    before: { tmp: parts, kept: 0, files: 0 },
    moved: { tmp: 0, kept: parts, files: 1 },
    readable: sha,
    after: { tmp: 0, kept: parts, files: 2 },
  });
  // The second file replaced the first under its name: the first's parts went with it.
  expect(second).toEqual({
    before: { tmp: otherParts, kept: parts, files: 2 },
    moved: { tmp: 0, kept: otherParts, files: 2 },
    readable: otherSha,
    after: { tmp: 0, kept: otherParts, files: 2 },
  });
  expect(end).toEqual({
    kept: otherSha,
    copy: sha,
    served: otherSha,
    range: true,
    listed: [
      { name: 'copy.bin', size: 12 * MiB },
      { name: 'model.bin', size: 12 * MiB },
    ],
    deleted: { tmp: 0, kept: 0, files: 1 },
  });
});
