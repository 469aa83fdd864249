// @ts-check
/**
 * The test server's HTTP helpers: query parameters, ranges and validators, and writing a body
 * at a given rate with backpressure.
 */
import { STATUS_CODES } from 'node:http';

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('node:http').ServerResponse<IncomingMessage>} ServerResponse */

/** Error carrying an HTTP status, turned into a small text response. */
export class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Parses a size such as `1024`, `256k`, `20m` or `1g` (binary units) into bytes.
 * @param {string | null | undefined} text
 * @returns {number | null} null when the text is not a valid size.
 */
export function parseSize(text) {
  const m = /^(\d+)([kmg])?$/i.exec(String(text ?? '').trim());
  if (!m) return null;
  const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[/** @type {'k'|'m'|'g'} */ ((m[2] ?? '').toLowerCase())] ?? 1;
  const n = Number(m[1]) * mult;
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Reads an optional non-negative integer query parameter.
 * @param {URLSearchParams} q
 * @param {string} name
 * @returns {number | undefined}
 */
export function intParam(q, name) {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new HttpError(400, `invalid ${name}: ${v}`);
  return Number(v);
}

/**
 * @param {URLSearchParams} q
 * @param {string} name
 */
export function flagParam(q, name) {
  const v = q.get(name);
  return v !== null && v !== '0' && v !== 'false';
}

/**
 * Parses a Range header against a size.
 * @param {string} header
 * @param {number} size
 * @returns {{ start: number, end: number } | 'unsatisfiable' | null} null = ignore the header
 */
export function parseRange(header, size) {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return null; // malformed or multiple ranges: ignore
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (b !== '' && Number(b) < start) return null; // invalid: ignore
  if (start >= size) return 'unsatisfiable';
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  return { start, end };
}

/**
 * Whether an If-Range value matches the current validators. ETags compare as
 * exact strings and weak ETags never match; dates must equal Last-Modified.
 * @param {string} value
 * @param {string | null} etag
 * @param {string | null} lastModified
 */
export function ifRangeMatches(value, etag, lastModified) {
  const v = value.trim();
  if (v.startsWith('"') || v.startsWith('W/')) {
    return etag !== null && !etag.startsWith('W/') && !v.startsWith('W/') && v === etag;
  }
  const t = Date.parse(v);
  return lastModified !== null && !Number.isNaN(t) && t === Date.parse(lastModified);
}

/**
 * Tracks whether a response's connection has closed.
 * @param {ServerResponse} res
 */
export function watchClose(res) {
  const w = { closed: false };
  res.once('close', () => {
    w.closed = true;
  });
  return w;
}

/**
 * Resolves after `ms` or as soon as the response closes.
 * @param {number} ms
 * @param {ServerResponse} res
 * @param {{ closed: boolean }} w
 * @returns {Promise<void>}
 */
export function wait(ms, res, w) {
  return new Promise((resolve) => {
    if (w.closed) return resolve();
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.once('close', done);
  });
}

/**
 * Resolves on the first of the given events on `res`.
 * @param {ServerResponse} res
 * @param {{ closed: boolean }} w
 * @param {string} event
 * @returns {Promise<void>}
 */
export function onceOrClose(res, w, event) {
  return new Promise((resolve) => {
    if (w.closed) return resolve();
    const done = () => {
      res.off(event, done);
      res.off('close', done);
      resolve();
    };
    res.once(event, done);
    res.once('close', done);
  });
}

/**
 * Writes chunks to the response with backpressure, an optional byte limit and
 * an optional rate (bytes/s). Resolves once the last written chunk has been
 * flushed to the socket, or the connection is gone.
 * @param {ServerResponse} res
 * @param {{ closed: boolean }} w
 * @param {Iterable<Buffer>} chunks
 * @param {{ limit: number, rate: number, onBytes: (n: number) => void }} opts
 * @returns {Promise<number>} number of bytes handed to res.write
 */
export async function pump(res, w, chunks, { limit, rate, onBytes }) {
  const t0 = Date.now();
  let written = 0;
  /** @type {Promise<void>} */
  let lastFlush = Promise.resolve();
  for (let chunk of chunks) {
    if (w.closed) break;
    if (written + chunk.length > limit) chunk = chunk.subarray(0, limit - written);
    if (chunk.length === 0) break;
    written += chunk.length;
    const len = chunk.length;
    let ok = true;
    lastFlush = new Promise((resolve) => {
      ok = res.write(chunk, (err) => {
        if (!err) onBytes(len);
        resolve();
      });
    });
    if (!ok) await onceOrClose(res, w, 'drain');
    if (rate > 0) {
      const delay = t0 + (written / rate) * 1000 - Date.now();
      if (delay > 0) await wait(delay, res, w);
    }
  }
  if (!w.closed) await Promise.race([lastFlush, onceOrClose(res, w, 'close')]);
  return written;
}

/**
 * A buffer in slices of `size` bytes (so that `pump` can throttle it).
 * @param {Buffer} buffer
 * @param {number} size
 */
export function* chunked(buffer, size) {
  for (let at = 0; at < buffer.length; at += size) yield buffer.subarray(at, at + size);
}

/**
 * Sends a small text response.
 * @param {ServerResponse} res
 * @param {number} status
 * @param {string} [text]
 * @param {Record<string, string>} [headers]
 */
export function sendText(res, status, text, headers = {}) {
  const body = status === 204 || status === 304 ? '' : (text ?? `${status} ${STATUS_CODES[status] ?? ''}`) + '\n';
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/**
 * @param {ServerResponse} res
 * @param {number} status
 * @param {unknown} value
 */
export function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/**
 * Normalizes an optional single-valued header.
 * @param {string | string[] | undefined} value
 * @returns {string | null}
 */
export function headerString(value) {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}
