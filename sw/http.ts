/** The HTTP rules the streaming engine follows: what to retry, how long to wait, how to resume. */

/** Statuses worth another try: the server or the way to it may do better later. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Statuses that say the request's credentials no longer hold: `401`, and `403`, which S3,
 * CloudFront, Azure and Hugging Face answer to a signed URL past its expiry.
 */
export function isUnauthorized(status: number | undefined): boolean {
  return status === 401 || status === 403;
}

/** The first retry waits about this long; each next one twice as long, up to `MAX_DELAY_MS`. */
export const BASE_DELAY_MS = 1000;
export const MAX_DELAY_MS = 60_000;

/**
 * How long to wait before retry number `retry` (1, 2, ...): the server's `Retry-After` (seconds
 * or an HTTP date) if it sent one, else exponential backoff with full jitter.
 */
export function retryDelay(retry: number, retryAfter: string | null, now = Date.now(), random = Math.random()): number {
  if (retryAfter !== null && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    const until = Number.isFinite(seconds) ? now + seconds * 1000 : Date.parse(retryAfter);
    if (Number.isFinite(until)) return Math.min(Math.max(0, until - now), 60 * 60_000);
  }
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (retry - 1));
  return Math.round(ceiling / 2 + (random * ceiling) / 2);
}

/**
 * What `If-Range` may carry to resume this response: a strong ETag, else Last-Modified
 * (a weak ETag never matches in If-Range), else null: the response cannot be resumed.
 */
export function validatorOf(headers: Headers): string | null {
  const etag = headers.get('ETag');
  if (etag && !etag.startsWith('W/')) return etag;
  return headers.get('Last-Modified');
}

/** A `Content-Range: bytes first-last/complete` header, or null if it is not one. */
export function parseContentRange(value: string | null): { first: number; last: number; complete: number } | null {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? '');
  if (!match) return null;
  const [first, last] = [Number(match[1]), Number(match[2])];
  const complete = match[3] === '*' ? -1 : Number(match[3]);
  return last < first ? null : { first, last, complete };
}

/** What is kept of a file to resume it: the validator its first response showed, and its size (-1 if unknown). */
export interface KeptFile {
  validator: string;
  size: number;
}

/**
 * Whether a `206` to `Range: bytes=offset-` provably continues the file kept, from the headers
 * it lets the worker read: the same validator, and the range asked, to the end of a file of the
 * same size. Another origin's response may hide ETag and Content-Range (CORS lets through
 * Last-Modified and Content-Length only): a hidden Content-Range is then proven by the length,
 * `size - offset`, of a body not encoded.
 */
export function continuesFile(headers: Headers, offset: number, kept: KeptFile): boolean {
  if (validatorOf(headers) !== kept.validator) return false;
  const range = parseContentRange(headers.get('Content-Range'));
  if (range) return range.first === offset && (kept.size < 0 || (range.complete === kept.size && range.last === kept.size - 1));
  return kept.size > offset && !headers.get('Content-Encoding') && contentLength(headers) === kept.size - offset;
}

/**
 * Where a response's body starts in the file, and the file's size (-1 if unknown), given the
 * offset asked for and, when resuming, the file kept: a `206` that provably continues it
 * (`continuesFile`) starts there; a `200` is the whole file from byte 0. Null for a `206` that
 * does not: a range not asked for, or not provably of the file kept.
 */
export function bodyPlacement(response: { status: number; headers: Headers }, askedOffset: number, kept?: KeptFile): { start: number; size: number } | null {
  if (response.status === 206) {
    const range = parseContentRange(response.headers.get('Content-Range'));
    if (kept && askedOffset > 0) {
      if (!continuesFile(response.headers, askedOffset, kept)) return null;
      return { start: askedOffset, size: kept.size >= 0 ? kept.size : range!.complete };
    }
    if (!range || range.first !== askedOffset) return null;
    return { start: range.first, size: range.complete };
  }
  return { start: 0, size: response.headers.get('Content-Encoding') ? -1 : contentLength(response.headers) };
}

/**
 * The size and validator of a file whose server serves byte ranges of it, from the headers of a
 * `200` to `HEAD` (or `GET`): `Accept-Ranges: bytes`, a `Content-Length` not of an encoded body,
 * and a validator (without one, two versions could be spliced). Null if any is missing.
 */
export function rangesOf(response: { status: number; headers: Headers }): { size: number; validator: string } | null {
  const { headers } = response;
  if (response.status !== 200 || headers.get('Content-Encoding')) return null;
  if (!/(^|,)\s*bytes\s*(,|$)/i.test(headers.get('Accept-Ranges') ?? '')) return null;
  const size = contentLength(headers);
  const validator = validatorOf(headers);
  return size >= 0 && validator ? { size, validator } : null;
}

/** The `Content-Length` a response's headers give, -1 if none (or not a length). */
export function contentLength(headers: Headers): number {
  const length = headers.get('Content-Length');
  const size = length === null || !/^\s*\d+\s*$/.test(length) ? NaN : Number(length);
  return Number.isSafeInteger(size) ? size : -1;
}

/** A `Range: bytes=first-last` request header, or null if it is not one range with both ends. */
export function parseRange(value: string | null): { first: number; last: number } | null {
  const match = /^bytes=(\d+)-(\d+)$/.exec(value?.trim() ?? '');
  if (!match) return null;
  const [first, last] = [Number(match[1]), Number(match[2])];
  return last < first ? null : { first, last };
}

/** The inclusive byte ranges that cover `from` .. `size - 1` in pieces of `step` bytes (the last may be shorter). */
export function rangesFrom(from: number, size: number, step: number): { first: number; last: number }[] {
  const out: { first: number; last: number }[] = [];
  for (let first = from; first < size; first += step) out.push({ first, last: Math.min(size, first + step) - 1 });
  return out;
}

/**
 * The ranges that cover `from` .. `size - 1`, each a byte shorter than the one before, from
 * `step` bytes (the last, what is left, is shorter still): where CORS hides `Content-Range`, a
 * body handed over for the wrong range (seen in Chromium 156 after a browser was killed) is
 * told by its length alone.
 */
export function distinctRanges(from: number, size: number, step: number): { first: number; last: number }[] {
  const out: { first: number; last: number }[] = [];
  for (let first = from; first < size; first = out.at(-1)!.last + 1) {
    const length = step - out.length;
    if (length < 1) throw new RangeError(`${size - from} bytes are too many for ranges of distinct lengths up to ${step}`);
    out.push({ first, last: Math.min(size, first + length) - 1 });
  }
  return out;
}

/**
 * Whether a body of `size` bytes is all of a response. Same-origin, it must be its
 * Content-Length where the response has one and no Content-Encoding. Cross-origin, CORS may
 * hide the encoding: Content-Length is then the encoded length, which a decoded body exceeds
 * or, for bytes that do not compress, falls short of by the format's overhead (deflate adds
 * 5 bytes per stored block of at most 64 KiB; this allows 5 per 16 KiB and 64 more). A body
 * shorter than that was cut off. A response without a length (chunked) is held to the one its
 * `HEAD` gave (`headLength`, -1 if none): a chunked body may end cleanly short.
 */
export function isWholeBody(headers: Headers, crossOrigin: boolean, size: number, headLength = -1): boolean {
  const announced = headers.has('Content-Length') ? contentLength(headers) : headLength;
  if (announced < 0 || headers.has('Content-Encoding')) return true;
  if (!crossOrigin) return size === announced;
  return size >= announced - (Math.ceil(announced / 16384) * 5 + 64);
}

/**
 * Whether a response's `Content-Type` is one of `expected` (media types or `type/*`, lower
 * case; parameters ignored). No list, or no `Content-Type` to judge by, passes.
 */
export function isExpectedType(contentType: string | null, expected: readonly string[] | undefined): boolean {
  const type = contentType?.split(';')[0]!.trim().toLowerCase();
  if (!expected || !type) return true;
  return expected.some((range) => range === type || (range.endsWith('/*') && type.startsWith(range.slice(0, -1))));
}
