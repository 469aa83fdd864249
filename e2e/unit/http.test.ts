import { expect, test } from '@playwright/test';
import { isCrossOrigin } from '../../sw/cors.js';
import {
  bodyPlacement,
  isExpectedType,
  continuesFile,
  isRetryableStatus,
  distinctRanges,
  isWholeBody,
  parseContentRange,
  parseRange,
  rangesFrom,
  rangesOf,
  retryDelay,
  validatorOf,
} from '../../sw/http.js';

test('network-side statuses are retried, client errors are not', () => {
  for (const status of [408, 429, 500, 502, 503, 504]) expect(isRetryableStatus(status)).toBe(true);
  for (const status of [400, 401, 403, 404, 410, 416]) expect(isRetryableStatus(status)).toBe(false);
});

test('Retry-After wins over backoff, in seconds or as a date', () => {
  const now = Date.UTC(2026, 10, 24, 12, 0, 0);
  expect(retryDelay(1, '3', now)).toBe(3000);
  expect(retryDelay(4, '0', now)).toBe(0);
  expect(retryDelay(1, new Date(now + 7000).toUTCString(), now)).toBe(7000);
  expect(retryDelay(1, new Date(now - 7000).toUTCString(), now)).toBe(0);
});

test('backoff doubles with each retry, jittered within its upper half, and is capped', () => {
  expect(retryDelay(1, null, 0, 0)).toBe(500);
  expect(retryDelay(1, null, 0, 1)).toBe(1000);
  expect(retryDelay(3, null, 0, 1)).toBe(4000);
  expect(retryDelay(30, null, 0, 1)).toBe(60_000);
  expect(retryDelay(2, 'nonsense', 0, 0)).toBe(1000);
});

test('If-Range uses a strong ETag, else Last-Modified, never a weak ETag', () => {
  const lastModified = 'Thu, 01 Jan 2026 00:00:00 GMT';
  expect(validatorOf(new Headers({ ETag: '"v1"', 'Last-Modified': lastModified }))).toBe('"v1"');
  expect(validatorOf(new Headers({ ETag: 'W/"v1"', 'Last-Modified': lastModified }))).toBe(lastModified);
  expect(validatorOf(new Headers({ ETag: 'W/"v1"' }))).toBeNull();
  expect(validatorOf(new Headers())).toBeNull();
});

test('a 206 continues the file only where it was asked to; a 200 is the whole file', () => {
  expect(parseContentRange('bytes 8-15/100')).toEqual({ first: 8, last: 15, complete: 100 });
  expect(parseContentRange('bytes 8-15/*')).toEqual({ first: 8, last: 15, complete: -1 });
  expect(parseContentRange('bytes 15-8/100')).toBeNull();
  expect(parseContentRange('items 0-1/2')).toBeNull();
  const partial = (range: string) => ({ status: 206, headers: new Headers({ 'Content-Range': range }) });
  expect(bodyPlacement(partial('bytes 800-999/1000'), 800)).toEqual({ start: 800, size: 1000 });
  expect(bodyPlacement(partial('bytes 0-999/1000'), 800)).toBeNull();
  expect(bodyPlacement({ status: 200, headers: new Headers({ 'Content-Length': '1000' }) }, 800)).toEqual({ start: 0, size: 1000 });
  expect(bodyPlacement({ status: 200, headers: new Headers() }, 0)).toEqual({ start: 0, size: -1 });
});

test('a file is fetched in ranges only with Accept-Ranges, a plain length and a validator', () => {
  const ok = { 'Accept-Ranges': 'bytes', 'Content-Length': '100', ETag: '"v1"' };
  expect(rangesOf({ status: 200, headers: new Headers(ok) })).toEqual({ size: 100, validator: '"v1"' });
  expect(rangesOf({ status: 200, headers: new Headers({ ...ok, 'Accept-Ranges': 'none' }) })).toBeNull();
  expect(rangesOf({ status: 200, headers: new Headers({ ...ok, 'Content-Encoding': 'gzip' }) })).toBeNull();
  expect(rangesOf({ status: 200, headers: new Headers({ ...ok, ETag: 'W/"v1"' }) })).toBeNull();
  expect(rangesOf({ status: 206, headers: new Headers(ok) })).toBeNull();
  const { 'Content-Length': _, ...noLength } = ok;
  expect(rangesOf({ status: 200, headers: new Headers(noLength) })).toBeNull();
});

test('Range headers with both ends, and the ranges that cover a file from an offset', () => {
  expect(parseRange('bytes=0-99')).toEqual({ first: 0, last: 99 });
  for (const value of ['bytes=5-', 'bytes=-5', 'bytes=9-3', 'bytes=0-1,3-4', null]) expect(parseRange(value)).toBeNull();
  expect(rangesFrom(10, 35, 10)).toEqual([
    { first: 10, last: 19 },
    { first: 20, last: 29 },
    { first: 30, last: 34 },
  ]);
  expect(rangesFrom(40, 40, 10)).toEqual([]);
});

test('a body is whole when it has the length announced; cross-origin, an encoding CORS hides may change it, a cut may not', () => {
  const headers = (length: string, encoding?: string) => new Headers({ 'Content-Length': length, ...(encoding ? { 'Content-Encoding': encoding } : {}) });
  expect(isWholeBody(headers('1000'), false, 1000)).toBe(true);
  expect(isWholeBody(headers('1000'), false, 999)).toBe(false);
  expect(isWholeBody(headers('1000'), false, 0)).toBe(false);
  expect(isWholeBody(headers('1000', 'gzip'), false, 5000)).toBe(true);
  expect(isWholeBody(new Headers(), false, 5)).toBe(true);
  // 48 MiB announced, an empty body handed over: cut off, whatever the origin.
  expect(isWholeBody(headers(String(48 * 1024 * 1024)), true, 0)).toBe(false);
  expect(isWholeBody(headers(String(48 * 1024 * 1024)), true, 16 * 1024 * 1024)).toBe(false);
  // Cross-origin: a decoded body larger than its encoded length, or a little smaller (bytes that do not compress).
  expect(isWholeBody(headers('51000'), true, 50 * 1024 * 1024)).toBe(true);
  expect(isWholeBody(headers('1000018'), true, 1000000)).toBe(true);
  // No length (chunked): held to the one its HEAD announced, if any.
  expect(isWholeBody(new Headers(), false, 999, 1000)).toBe(false);
  expect(isWholeBody(new Headers(), false, 1000, 1000)).toBe(true);
  expect(isWholeBody(new Headers(), true, 50 * 1024 * 1024, 51000)).toBe(true);
  expect(isWholeBody(headers('1000'), false, 1000, 2000)).toBe(true);
});

test('a resumed 206 continues the file kept only if what it shows proves it: validator, and the range or its length', () => {
  const lastModified = 'Thu, 01 Jan 2026 00:00:00 GMT';
  const kept = { validator: lastModified, size: 1000 };
  // Another origin, simple CORS: ETag and Content-Range hidden, Last-Modified and Content-Length readable.
  const hidden = (length: string, modified = lastModified) => new Headers({ 'Last-Modified': modified, 'Content-Length': length });
  expect(continuesFile(hidden('200'), 800, kept)).toBe(true);
  expect(continuesFile(hidden('300'), 800, kept)).toBe(false); // another size: another file, or another range
  expect(continuesFile(hidden('200', 'Fri, 02 Jan 2026 00:00:00 GMT'), 800, kept)).toBe(false); // another version
  expect(continuesFile(new Headers({ 'Last-Modified': lastModified }), 800, kept)).toBe(false); // no length: nothing proves the range
  expect(continuesFile(hidden('200'), 800, { ...kept, size: -1 })).toBe(false); // a size not known: nothing to prove it by
  expect(continuesFile(new Headers({ 'Last-Modified': lastModified, 'Content-Length': '200', 'Content-Encoding': 'gzip' }), 800, kept)).toBe(false);
  // Headers exposed (same origin, or full CORS): the ETag kept, and Content-Range.
  const etag = { validator: '"v1"', size: 1000 };
  const shown = (range: string, tag = '"v1"') => new Headers({ ETag: tag, 'Last-Modified': lastModified, 'Content-Range': range });
  expect(continuesFile(shown('bytes 800-999/1000'), 800, etag)).toBe(true);
  expect(continuesFile(shown('bytes 800-999/1000', '"v2"'), 800, etag)).toBe(false);
  expect(continuesFile(shown('bytes 800-899/1000'), 800, etag)).toBe(false);
  expect(continuesFile(shown('bytes 800-1199/1200'), 800, etag)).toBe(false);
  expect(continuesFile(shown('bytes 800-1199/1200'), 800, { ...etag, size: -1 })).toBe(true);
  // The ETag was readable when kept, hidden now: not provably the same.
  expect(continuesFile(hidden('200'), 800, etag)).toBe(false);
  // Where the body goes.
  expect(bodyPlacement({ status: 206, headers: hidden('200') }, 800, kept)).toEqual({ start: 800, size: 1000 });
  expect(bodyPlacement({ status: 206, headers: hidden('300') }, 800, kept)).toBeNull();
  expect(bodyPlacement({ status: 206, headers: shown('bytes 800-1199/1200') }, 800, { ...etag, size: -1 })).toEqual({ start: 800, size: 1200 });
  expect(bodyPlacement({ status: 200, headers: hidden('1000', 'Fri, 02 Jan 2026 00:00:00 GMT') }, 800, kept)).toEqual({ start: 0, size: 1000 });
});

test("another origin is any but the worker's: the request's, or the one it was redirected to", () => {
  const origin = 'http://127.0.0.1:8080';
  expect(isCrossOrigin(['http://127.0.0.1:8080/files/1m'], origin)).toBe(false);
  expect(isCrossOrigin(['/files/1m', null, undefined], origin)).toBe(false);
  expect(isCrossOrigin(['http://localhost:8080/files/1m'], origin)).toBe(true);
  expect(isCrossOrigin(['http://127.0.0.1:8081/files/1m'], origin)).toBe(true);
  expect(isCrossOrigin(['http://127.0.0.1:8080/redirect/1/files/1m', 'https://cdn.example/files/1m'], origin)).toBe(true);
});

test('distinct ranges cover the bytes asked, in order, each of a length of its own', () => {
  const MiB = 1024 * 1024;
  for (const [from, size] of [
    [0, 40 * MiB],
    [12 * MiB, 40 * MiB],
    [0, 8 * MiB + 1],
    [0, 16 * MiB - 6],
    [3, 4 * MiB * 7 - 21],
  ] as const) {
    const ranges = distinctRanges(from, size, 4 * MiB);
    expect(ranges[0]!.first).toBe(from);
    expect(ranges.at(-1)!.last).toBe(size - 1);
    ranges.slice(1).forEach((range, index) => expect(range.first).toBe(ranges[index]!.last + 1));
    const lengths = ranges.map(({ first, last }) => last - first + 1);
    expect(new Set(lengths).size).toBe(lengths.length);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(4 * MiB + lengths.length);
  }
  const lengths = (from: number, size: number, step: number) => distinctRanges(from, size, step).map(({ first, last }) => last - first + 1);
  expect(lengths(0, 10 + 9 + 10, 10)).toEqual([10, 9, 8, 2]);
  expect(lengths(0, 10 + 9 + 3, 10)).toEqual([10, 9, 3]);
  expect(() => lengths(0, 100, 4)).toThrow(RangeError);
});

test('isExpectedType: a media type or type/* matches, parameters and case aside; no list or no type passes', () => {
  expect(isExpectedType('text/html; charset=utf-8', ['application/octet-stream'])).toBe(false);
  expect(isExpectedType('Video/MP4', ['video/mp4'])).toBe(true);
  expect(isExpectedType('video/webm', ['audio/*', 'video/*'])).toBe(true);
  expect(isExpectedType('videos/webm', ['video/*'])).toBe(false);
  expect(isExpectedType(null, ['video/*'])).toBe(true);
  expect(isExpectedType('text/html', undefined)).toBe(true);
});
