import { ROOT, expect, test, type AppServer } from './apps.js';
import { unique } from './fixtures.js';
import { expectDownloaded, MiB, PART, recordSession, startDownload } from './recorder.js';
import path from 'node:path';

test('the file server restarted mid-download (another origin, simple CORS): the file is whole and at most a part is fetched again', async ({
  page,
  serveApp,
  engine,
}) => {
  test.setTimeout(180_000);
  // The files come from a server of their own, on another origin than the page's, that sends
  // only `Access-Control-Allow-Origin: *`, as a CDN does: it goes down (every connection cut)
  // and comes back on the same port, as a server restarted by its host.
  const demo = path.join(ROOT, 'dist/demo');
  const servers: AppServer[] = [await serveApp(demo)];
  const id = unique('restarted');
  const size = 40 * MiB;
  // The server holds every response at 16 MiB, so its count is final when it goes down.
  const gate = unique('restart-gate');
  const url = servers[0]!.crossOriginUrl(`/files/40m?seed=${id}&id=${id}&rate=8000000&gate=${gate}&gateAt=${16 * MiB}`, 'simple');
  const sent = async () => {
    let bytes = 0;
    for (const server of servers) bytes += (await server.stats(id)).bytesSent;
    return bytes;
  };

  // A short request timeout: Chromium may resume a registration whose server went away and then never finish it.
  const configuration = { timeoutIntervalForRequest: 10 };
  await recordSession(page, unique('restart'), configuration);
  const task = await startDownload(page, url);
  await expect.poll(async () => (await servers[0]!.gate(gate)).held > 0 && (await sent()) >= 16 * MiB, { timeout: 60_000 }).toBe(true);
  const before = await sent();
  await servers[0]!.close();
  servers.shift();
  await page.waitForTimeout(3000);
  servers.push(await serveApp(demo));
  // The restarted server knows no gate: it sends every byte asked.
  await servers[0]!.release(gate);

  await expectDownloaded(page, servers[0]!, { id, size }, task, { timeout: 150_000 });
  // The bytes in flight at the cut are fetched again, at most a part's worth (Background Fetch:
  // its two ranges of half a part; the streaming engine: the part it had not stored yet), and
  // the probes of the file (a HEAD and its last byte) once more after the restart.
  const again = before + (await sent()) - size;
  expect(again).toBeLessThanOrEqual(PART + (engine === 'background-fetch' ? 2 : 0));
  const resumed = (await servers[0]!.stats(id)).log.filter((request) => request.method === 'GET' && request.status === 206);
  expect(resumed.length).toBeGreaterThan(0);
});
