/**
 * Where the files come from, and how much a transfer sent: what the fault and interruption tests share.
 */
import { expect, type TestServer } from './fixtures.js';

/** Whether the server has sent every byte of the file at least once, whatever the requests' ranges. */
export async function wholeFileSent(server: TestServer, id: string, size: number): Promise<boolean> {
  const spans: [number, number][] = [];
  for (const { method, range, status, bytesSent } of (await server.stats(id)).log) {
    if (method !== 'GET' || (status !== 200 && status !== 206)) continue;
    const from = status === 206 && range ? Number(/^bytes=(\d+)-/.exec(range)?.[1] ?? NaN) : 0;
    spans.push([from, from + bytesSent]);
  }
  let covered = 0;
  for (const [start, end] of spans.sort((a, b) => a[0] - b[0])) if (start <= covered) covered = Math.max(covered, end);
  return covered >= size;
}

/**
 * Where the files come from: the page's origin, and another one (the page is on 127.0.0.1, the
 * files then on localhost) that allows only simple CORS, as most CDNs do:
 * `Access-Control-Allow-Origin: *`, no header exposed beyond the safelisted ones, no preflight
 * answered. A test that says nothing of another origin runs on the page's only.
 */
export const ORIGINS = [
  { suffix: '', cross: false, files: (server: TestServer) => server },
  {
    suffix: ' [another origin, simple CORS]',
    cross: true,
    files: (server: TestServer) => ({ url: (path: string) => server.crossOriginUrl(path, 'simple'), sha256: server.sha256 }),
  },
];

/** Resolves once the server has sent more than `bytes` of the file `id`. */
export async function sentAtLeast(server: TestServer, id: string, bytes: number) {
  await expect.poll(async () => (await server.stats(id)).bytesSent, { timeout: 60_000 }).toBeGreaterThan(bytes);
}
