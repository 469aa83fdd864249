// @ts-check
/**
 * Test server for the end-to-end tests: deterministic (optionally faulty)
 * downloads, redirects, uploads, stats/control endpoints and static files.
 * Uses only Node built-ins. See README.md in this folder for the endpoints.
 */
import { createServer, STATUS_CODES } from 'node:http';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentChunks, sha256Of, CHUNK_SIZE } from './content.mjs';

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('node:http').ServerResponse<IncomingMessage>} ServerResponse */
/** @typedef {import('node:http').Server} Server */

/**
 * @typedef {object} LogEntry
 * @property {string} method
 * @property {string | null} range    Range request header, if any.
 * @property {string | null} ifRange  If-Range request header, if any.
 * @property {number} status          Status code sent (0 until headers are sent).
 * @property {number} bytesSent       Body bytes written to the socket for this response.
 * @property {number} t               Date.now() when the request arrived.
 * @property {number} [end]           Date.now() when the response ended (sent whole or cut off).
 * @property {{ method: string | null, headers: string | null }} [preflight]  An OPTIONS: what it asked to send.
 * @property {string | null} [authorization]  The Authorization request header, if any.
 * @property {string | null} [app]            The X-App request header, if any (a test's own).
 * @property {string} [url]                   The path and query asked.
 */

/**
 * @typedef {object} UploadRecord
 * @property {number} size
 * @property {string} sha256
 * @property {string | null} contentType
 */

/**
 * @typedef {object} IdStats
 * @property {number} requests
 * @property {number} bytesSent
 * @property {number} completed
 * @property {number} version
 * @property {LogEntry[]} log
 * @property {UploadRecord[]} uploads
 */

/**
 * A gate (`gate=NAME`): the responses that reach it wait until it is released.
 * @typedef {object} Gate
 * @property {boolean} released
 * @property {Promise<void>} opened  Resolves on release.
 * @property {() => void} open
 * @property {number} reached        Responses that came to the gate, released or not.
 * @property {number} held           Responses waiting at the gate now.
 */

/**
 * @typedef {object} StartOptions
 * @property {number} [port]       0 = pick a free port.
 * @property {string} [host]
 * @property {string} [staticDir]  Defaults to `dist/demo` relative to process.cwd().
 */

/**
 * @typedef {object} RunningServer
 * @property {Server} server
 * @property {number} port
 * @property {string} url          e.g. `http://127.0.0.1:8080/`
 * @property {() => Promise<void>} close
 */

/**
 * What a response tells other origins, by the request's `cors` parameter: `full` (the default)
 * allows any origin, exposes every header the tests read and answers preflights; `simple` is
 * what most CDNs send (only `Access-Control-Allow-Origin: *`: no header exposed beyond the
 * safelisted ones, no preflight answered); `none` sends no CORS header at all.
 * @type {Record<string, Record<string, string>>}
 */
const CORS_HEADERS = {
  full: {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Expose-Headers': 'Content-Length, Content-Range, ETag, Last-Modified, Accept-Ranges, Retry-After',
  },
  simple: { 'Access-Control-Allow-Origin': '*' },
  none: {},
};

const NO_STORE_PREFIXES = ['/files', '/redirect', '/upload', '/__'];

/** @type {Record<string, string>} */
const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.webmanifest': 'application/manifest+json',
};

/** Error carrying an HTTP status, turned into a small text response. */
class HttpError extends Error {
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
function intParam(q, name) {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new HttpError(400, `invalid ${name}: ${v}`);
  return Number(v);
}

/**
 * @param {URLSearchParams} q
 * @param {string} name
 */
function flagParam(q, name) {
  const v = q.get(name);
  return v !== null && v !== '0' && v !== 'false';
}

/**
 * Parses a Range header against a size.
 * @param {string} header
 * @param {number} size
 * @returns {{ start: number, end: number } | 'unsatisfiable' | null} null = ignore the header
 */
function parseRange(header, size) {
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
function ifRangeMatches(value, etag, lastModified) {
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
function watchClose(res) {
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
function wait(ms, res, w) {
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
function onceOrClose(res, w, event) {
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
async function pump(res, w, chunks, { limit, rate, onBytes }) {
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
function* chunked(buffer, size) {
  for (let at = 0; at < buffer.length; at += size) yield buffer.subarray(at, at + size);
}

/**
 * Sends a small text response.
 * @param {ServerResponse} res
 * @param {number} status
 * @param {string} [text]
 * @param {Record<string, string>} [headers]
 */
function sendText(res, status, text, headers = {}) {
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
function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/** @returns {Gate} */
function newGate() {
  /** @type {() => void} */
  let open = () => {};
  const opened = new Promise((resolve) => (open = () => resolve(undefined)));
  const gate = { released: false, opened, open: () => ((gate.released = true), open()), reached: 0, held: 0 };
  return gate;
}

/** @returns {IdStats} */
function emptyStats() {
  return { requests: 0, bytesSent: 0, completed: 0, version: 1, log: [], uploads: [] };
}

/**
 * Starts the test server.
 * @param {StartOptions} [options]
 * @returns {Promise<RunningServer>}
 */
export async function startServer({ port = 0, host = '127.0.0.1', staticDir } = {}) {
  const root = path.resolve(staticDir ?? 'dist/demo');

  /** Per-id stats (and content versions). @type {Map<string, IdStats>} */
  const stats = new Map();

  /** Gates by name (`gate=NAME`). @type {Map<string, Gate>} */
  const gates = new Map();

  /** The value each token (`token=NAME`) has now. @type {Map<string, string>} */
  const tokens = new Map();

  /** @param {string} name */
  const gateFor = (name) => {
    let g = gates.get(name);
    if (!g) {
      g = newGate();
      gates.set(name, g);
    }
    return g;
  };

  /** @param {string} id */
  const statsFor = (id) => {
    let s = stats.get(id);
    if (!s) {
      s = emptyStats();
      stats.set(id, s);
    }
    return s;
  };

  /**
   * Records a new request for `id` and returns its stats and log entry.
   * @param {string} id
   * @param {IncomingMessage} req
   * @param {number} t
   */
  const recordRequest = (id, req, t) => {
    const s = statsFor(id);
    s.requests++;
    /** @type {LogEntry} */
    const entry = {
      method: req.method ?? 'GET',
      range: req.headers.range ?? null,
      ifRange: headerString(req.headers['if-range']),
      status: 0,
      bytesSent: 0,
      t,
      authorization: headerString(req.headers.authorization),
      app: headerString(req.headers['x-app']),
      url: req.url,
    };
    s.log.push(entry);
    return { s, entry };
  };

  /**
   * Logs a preflight (`OPTIONS`) for `id`: it is not one of the file's `requests`, so `times`
   * and `changeEvery` count as without it.
   * @param {string} id
   * @param {IncomingMessage} req
   * @param {number} t
   * @param {number} status
   */
  const logPreflight = (id, req, t, status) => {
    const method = headerString(req.headers['access-control-request-method']);
    const headers = headerString(req.headers['access-control-request-headers']);
    statsFor(id).log.push({ method: 'OPTIONS', range: null, ifRange: null, status, bytesSent: 0, t, end: t, preflight: { method, headers } });
  };

  /**
   * GET/HEAD /files/<size>
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   * @param {URL} url
   * @param {string} sizeText
   * @param {number} t
   */
  const handleFile = async (req, res, url, sizeText, t) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendText(res, 405, 'method not allowed', { Allow: 'GET, HEAD, OPTIONS' });
    }
    const size = parseSize(sizeText);
    if (size === null) throw new HttpError(400, `invalid size: ${sizeText}`);
    const q = url.searchParams;
    const seed = q.get('seed') ?? 'default';
    const id = fileStatsId(url);
    const changeEvery = intParam(q, 'changeEvery');
    const times = intParam(q, 'times');
    const statusFault = intParam(q, 'status');
    const retryAfter = q.get('retryAfter');
    const drop = intParam(q, 'drop');
    const dropDelay = intParam(q, 'dropDelay') ?? 0;
    const stall = intParam(q, 'stall');
    const short = intParam(q, 'short');
    const rate = intParam(q, 'rate') ?? 0;
    // `headDelay`: a HEAD's answer waits so long (a probe that hangs); `delay`: every answer.
    const delay = (req.method === 'HEAD' ? intParam(q, 'headDelay') : undefined) ?? intParam(q, 'delay') ?? 0;
    const weak = flagParam(q, 'weak');
    const noValidators = flagParam(q, 'noValidators');
    const noLength = flagParam(q, 'noLength');
    const noRanges = flagParam(q, 'noRanges');
    const ignoreRange = flagParam(q, 'ignoreRange');
    const gzip = flagParam(q, 'gzip');
    const gateName = q.get('gate');
    const gateAtText = q.get('gateAt');
    const gateAt = gateAtText === null ? 0 : parseSize(gateAtText);
    if (gateAt === null) throw new HttpError(400, `invalid gateAt: ${gateAtText}`);
    if (gateAtText !== null && !gateName) throw new HttpError(400, 'gateAt needs gate=NAME');
    if (statusFault !== undefined && (statusFault < 200 || statusFault > 599)) {
      throw new HttpError(400, `invalid status: ${statusFault}`);
    }

    const { s, entry } = recordRequest(id, req, t);
    // The response's end: its last byte handed to the socket ('finish'), or the connection gone.
    const ended = () => (entry.end ??= Date.now());
    res.once('finish', ended);
    res.once('close', ended);
    const n = s.requests;
    const version = s.version;
    if (changeEvery && n % changeEvery === 0) s.version++;
    const faulty = times === undefined || n <= times;

    const w = watchClose(res);
    if (delay > 0) {
      await wait(delay, res, w);
      if (w.closed) return;
    }

    // Credentials: a token the server may change (`token=NAME`), a URL that expires (`expires=MS`).
    const tokenName = q.get('token');
    if (tokenName !== null && req.headers.authorization !== `Bearer ${tokens.get(tokenName)}`) {
      entry.status = 401;
      return sendText(res, 401, 'the token is not the current one', { 'WWW-Authenticate': 'Bearer' });
    }
    const expires = intParam(q, 'expires');
    if (expires !== undefined && Date.now() > expires) {
      entry.status = 403;
      return sendText(res, 403, 'Request has expired');
    }

    if (faulty && statusFault !== undefined) {
      entry.status = statusFault;
      /** @type {Record<string, string>} */
      const extra = retryAfter !== null ? { 'Retry-After': retryAfter } : {};
      return sendText(res, statusFault, undefined, extra);
    }

    const etag = noValidators ? null : `${weak ? 'W/' : ''}"${seed}-${size}-v${version}"`;
    const lastModified = noValidators ? null : new Date(Date.UTC(2026, 0, 1) + version * 86400000).toUTCString();

    /** @type {Record<string, string>} */
    const headers = { 'Content-Type': q.get('type') ?? 'application/octet-stream' };
    if (!noRanges) headers['Accept-Ranges'] = 'bytes';
    if (etag !== null) headers.ETag = etag;
    if (lastModified !== null) headers['Last-Modified'] = lastModified;

    let range = /** @type {ReturnType<typeof parseRange>} */ (null);
    const rangeHeader = req.headers.range;
    const ifRange = headerString(req.headers['if-range']);
    if (rangeHeader && !noRanges && !ignoreRange) {
      if (ifRange === null || ifRangeMatches(ifRange, etag, lastModified)) {
        range = parseRange(rangeHeader, size);
      }
    }
    if (range === 'unsatisfiable') {
      entry.status = 416;
      return sendText(res, 416, 'range not satisfiable', { ...headers, 'Content-Range': `bytes */${size}` });
    }

    const start = range ? range.start : 0;
    const end = range ? range.end : size - 1;
    const length = end - start + 1;
    const status = range ? 206 : 200;
    if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    if (!noLength) headers['Content-Length'] = String(length);

    if (gzip && !range) {
      // The whole file gzip-encoded, as servers compress: not for ranges (they are served
      // plain), no Accept-Ranges, the encoded length. Content-Encoding is not among the
      // headers CORS exposes, so a cross-origin page cannot see it.
      const body = gzipSync(Buffer.concat([...contentChunks(seed, version, 0, size - 1)]));
      delete headers['Accept-Ranges'];
      Object.assign(headers, { 'Content-Encoding': 'gzip', 'Content-Length': String(body.length) });
      entry.status = 200;
      res.writeHead(200, headers);
      if (req.method === 'HEAD') return void res.end();
      const bytes = (/** @type {number} */ n) => ((s.bytesSent += n), (entry.bytesSent += n));
      await pump(res, w, rate > 0 ? chunked(body, Math.max(1024, Math.floor(rate / 10))) : [body], { limit: body.length, rate, onBytes: bytes });
      if (w.closed) return;
      s.completed++;
      return void res.end();
    }
    // A body cut short that ends as if whole: sent chunked (no Content-Length for the client to
    // check it by), its end clean. The HEAD keeps the full length, as the file's own.
    const shortAt = req.method === 'GET' && faulty && short !== undefined && short < length ? short : undefined;
    if (shortAt !== undefined) delete headers['Content-Length'];

    entry.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();

    // Faults: stop after N bytes, either dropping the connection or hanging.
    const dropAt = faulty && drop !== undefined && drop < length ? drop : undefined;
    const stallAt = faulty && dropAt === undefined && stall !== undefined && stall < length ? stall : undefined;
    const limit = dropAt ?? stallAt ?? shortAt ?? length;

    res.once('finish', () => {
      s.completed++;
    });
    if (length === 0) return void res.end();

    if (limit === 0) {
      // Make sure the headers reach the client before anything else happens.
      await new Promise((resolve) => res.write(Buffer.alloc(0), () => resolve(undefined)));
    }
    const chunkSize = rate > 0 ? Math.max(1024, Math.min(CHUNK_SIZE, Math.floor(rate / 10))) : CHUNK_SIZE;
    /** @param {number} bytes */
    const onBytes = (bytes) => {
      s.bytesSent += bytes;
      entry.bytesSent += bytes;
      // The throttle waits after a chunk: the last byte written is the response's end.
      if (entry.bytesSent === length) entry.end ??= Date.now();
    };
    let sent = 0;
    // The gate: the body stops at file offset gateAt (a response that starts past it, before
    // its first byte) until the gate is released, so no byte from gateAt on is sent before.
    const gate = gateName ? gateFor(gateName) : undefined;
    const gateRel = Math.max(0, gateAt - start);
    if (gate && !gate.released && gateRel < limit) {
      if (gateRel > 0) {
        sent = await pump(res, w, contentChunks(seed, version, start, start + gateRel - 1, chunkSize), { limit: gateRel, rate, onBytes });
      } else {
        await new Promise((resolve) => res.write(Buffer.alloc(0), () => resolve(undefined)));
      }
      if (w.closed) return;
      gate.reached++;
      gate.held++;
      await new Promise((resolve) => {
        if (w.closed) return resolve(undefined);
        res.once('close', resolve);
        void gate.opened.then(() => {
          res.off('close', resolve);
          resolve(undefined);
        });
      });
      gate.held--;
      if (w.closed) return;
    }
    const chunks = contentChunks(seed, version, start + sent, end, chunkSize);
    sent += await pump(res, w, chunks, { limit: limit - sent, rate, onBytes });
    if (w.closed) return;
    if (dropAt !== undefined) {
      await wait(dropDelay, res, w);
      res.destroy();
    } else if (stallAt !== undefined) {
      // Hang: never end the response; the client has to give up.
    } else if (sent === limit) {
      res.end();
    }
  };

  /**
   * /redirect/<n>/<rest...>
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   * @param {URL} url
   * @param {number} t
   */
  const handleRedirect = (req, res, url, t) => {
    const m = /^\/redirect\/(\d+)(?:\/(.*))?$/.exec(url.pathname);
    if (!m || Number(m[1]) < 1) throw new HttpError(400, 'expected /redirect/<n>/<path>, n >= 1');
    const n = Number(m[1]);
    const rest = m[2] ?? '';
    const location = (n > 1 ? `/redirect/${n - 1}/${rest}` : `/${rest}`) + url.search;
    const { entry } = recordRequest('redirect', req, t);
    entry.status = 302;
    res.writeHead(302, { Location: location, 'Content-Length': '0' });
    res.end();
  };

  /**
   * GET /media/<seconds>.wav?id=X: a WAV of a rising tone (8 kHz, 8-bit mono), that a media
   * element plays and seeks; GET /media/bars.webm?id=X: 30 s of a VP8 test pattern, 160x120
   * (made by scripts/make-test-video.py). Whole (no ranges): what is tested is where the app
   * plays it from.
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   * @param {URL} url
   * @param {number} t
   */
  const handleMedia = async (req, res, url, t) => {
    const m = /^\/media\/(\d{1,3})\.wav$/.exec(url.pathname);
    const video = url.pathname === '/media/bars.webm';
    if (!video && (!m || Number(m[1]) < 1)) throw new HttpError(400, 'expected /media/<seconds>.wav (1 to 999 seconds) or /media/bars.webm');
    const body = video ? await readFile(new URL('./media/bars.webm', import.meta.url)) : wavOf(Number(m?.[1]));
    const { entry } = recordRequest(url.searchParams.get('id') ?? 'media', req, t);
    entry.status = 200;
    res.writeHead(200, {
      'Content-Type': video ? 'video/webm' : 'audio/wav',
      'Content-Length': String(body.length),
      'Content-Disposition': `inline; filename="${video ? 'bars.webm' : 'tone.wav'}"`,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  /**
   * POST/PUT /upload?id=X
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   * @param {URL} url
   * @param {number} t
   */
  const handleUpload = async (req, res, url, t) => {
    if (req.method !== 'POST' && req.method !== 'PUT') {
      return sendText(res, 405, 'method not allowed', { Allow: 'POST, PUT, OPTIONS' });
    }
    const id = url.searchParams.get('id') ?? 'upload';
    const { s, entry } = recordRequest(id, req, t);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of req) {
      hash.update(/** @type {Buffer} */ (chunk));
      size += /** @type {Buffer} */ (chunk).length;
    }
    const sha256 = hash.digest('hex');
    s.uploads.push({ size, sha256, contentType: headerString(req.headers['content-type']) });
    entry.status = 200;
    sendJson(res, 200, { size, sha256 });
  };

  /**
   * /__stats, /__reset, /__control, /__sha256, /__release, /__gate
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   * @param {URL} url
   */
  const handleControl = async (req, res, url) => {
    const q = url.searchParams;
    switch (url.pathname) {
      case '/__stats': {
        const id = q.get('id');
        if (id !== null) return sendJson(res, 200, stats.get(id) ?? emptyStats());
        return sendJson(res, 200, { ids: Object.fromEntries(stats) });
      }
      case '/__token': {
        const name = q.get('name');
        const value = q.get('value');
        if (!name || !value) throw new HttpError(400, 'expected ?name=NAME&value=V');
        tokens.set(name, value);
        return sendText(res, 204);
      }
      case '/__reset':
        stats.clear();
        tokens.clear();
        for (const gate of gates.values()) gate.open();
        gates.clear();
        return sendText(res, 204);
      case '/__release': {
        const name = q.get('gate');
        if (!name) throw new HttpError(400, 'expected ?gate=NAME');
        gateFor(name).open();
        return sendText(res, 204);
      }
      case '/__gate': {
        const name = q.get('gate');
        if (!name) throw new HttpError(400, 'expected ?gate=NAME');
        const { released, reached, held } = gates.get(name) ?? newGate();
        return sendJson(res, 200, { released, reached, held });
      }
      case '/__control': {
        const id = q.get('id');
        const version = intParam(q, 'version');
        if (id === null || version === undefined || version < 1) {
          throw new HttpError(400, 'expected ?id=X&version=N (N >= 1)');
        }
        statsFor(id).version = version;
        return sendText(res, 204);
      }
      case '/__sha256': {
        const size = parseSize(q.get('size'));
        const version = intParam(q, 'version') ?? 1;
        if (size === null || version < 1) throw new HttpError(400, 'expected ?seed=S&version=V&size=N');
        return sendJson(res, 200, { sha256: await sha256Of(q.get('seed') ?? 'default', version, size) });
      }
      default:
        throw new HttpError(404, 'not found');
    }
  };

  /**
   * Static files from `root`.
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   */
  const handleStatic = async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendText(res, 405, 'method not allowed', { Allow: 'GET, HEAD, OPTIONS' });
    }
    // Check the raw (un-normalized) path so that traversal attempts are rejected.
    const rawPath = (req.url ?? '/').split('?')[0]?.split('#')[0] ?? '/';
    let decoded;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      throw new HttpError(400, 'bad path encoding');
    }
    if (decoded.includes('\0') || decoded.split(/[\\/]/).includes('..')) throw new HttpError(403, 'forbidden');
    let file = path.resolve(root, '.' + path.posix.normalize('/' + decoded));
    if (file !== root && !file.startsWith(root + path.sep)) throw new HttpError(403, 'forbidden');

    let info = await stat(file).catch(() => null);
    if (info?.isDirectory()) {
      file = path.join(file, 'index.html');
      info = await stat(file).catch(() => null);
    }
    if (!info || !info.isFile()) throw new HttpError(404, 'not found');

    const ext = path.extname(file).toLowerCase();
    /** @type {Record<string, string>} */
    const headers = {
      'Content-Type': MIME_TYPES[ext] ?? 'application/octet-stream',
      'Content-Length': String(info.size),
      'Cache-Control': 'no-cache',
    };
    if (ext === '.js' || ext === '.mjs') headers['Service-Worker-Allowed'] = '/';
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return void res.end();
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    res.once('close', () => stream.destroy());
    stream.pipe(res);
  };

  /**
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   */
  const handle = async (req, res) => {
    const t = Date.now();
    let url;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      throw new HttpError(400, 'bad request url');
    }
    const cors = url.searchParams.get('cors') ?? 'full';
    const corsHeaders = CORS_HEADERS[cors];
    if (!corsHeaders) throw new HttpError(400, `invalid cors: ${cors} (none, simple or full)`);
    for (const [k, v] of Object.entries(corsHeaders)) res.setHeader(k, v);
    const p = url.pathname;
    if (NO_STORE_PREFIXES.some((prefix) => p === prefix || p.startsWith(prefix))) {
      res.setHeader('Cache-Control', 'no-store');
    }

    if (req.method === 'OPTIONS') {
      // A preflight is logged with the file's requests (not counted in `requests`), so that a
      // test can tell whether the browser sent one.
      const fileId = /^\/files\/([^/]+)$/.exec(p) ? fileStatsId(url) : null;
      if (fileId !== null) logPreflight(fileId, req, t, cors === 'full' ? 204 : 405);
      if (cors !== 'full') {
        // As a server or CDN that knows nothing of CORS: no preflight answer.
        res.removeHeader('Access-Control-Allow-Origin');
        return sendText(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
      }
      res.writeHead(204, {
        // `*` allows any header but Authorization, which must be named.
        'Access-Control-Allow-Headers': '*, Authorization',
        'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, OPTIONS',
        'Access-Control-Max-Age': '600',
      });
      return void res.end();
    }

    const fileMatch = /^\/files\/([^/]+)$/.exec(p);
    if (fileMatch) return handleFile(req, res, url, fileMatch[1] ?? '', t);
    if (p === '/redirect' || p.startsWith('/redirect/')) return handleRedirect(req, res, url, t);
    if (p === '/upload') return handleUpload(req, res, url, t);
    if (p.startsWith('/media/')) return handleMedia(req, res, url, t);
    if (p.startsWith('/__')) return handleControl(req, res, url);
    return handleStatic(req, res);
  };

  const server = createServer((req, res) => {
    // Errors after a client abort are expected; never let them crash the process.
    req.on('error', () => {});
    res.on('error', () => {});
    handle(req, res).catch((err) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!(err instanceof HttpError) && !res.destroyed) {
        console.error('[e2e server]', req.method, req.url, err);
      }
      if (!res.headersSent && !res.destroyed) {
        sendText(res, status, err instanceof Error ? err.message : String(err));
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 35_000; // must exceed keepAliveTimeout
  server.requestTimeout = 0; // allow slow uploads / long responses
  server.on('clientError', (err, socket) => {
    if (socket.writable && /** @type {NodeJS.ErrnoException} */ (err).code !== 'ECONNRESET') {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
    socket.destroy();
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  server.on('error', (err) => console.error('[e2e server]', err));

  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  return {
    server,
    port: actualPort,
    url: `http://${urlHost}:${actualPort}/`,
    close: () =>
      new Promise((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * The stats id of a `/files/<size>` URL: `id`, else `<seed>:<size in bytes>`.
 * @param {URL} url
 */
function fileStatsId(url) {
  const q = url.searchParams;
  return q.get('id') ?? `${q.get('seed') ?? 'default'}:${parseSize(url.pathname.split('/')[2]) ?? url.pathname.split('/')[2]}`;
}

/**
 * Normalizes an optional single-valued header.
 * @param {string | string[] | undefined} value
 * @returns {string | null}
 */
function headerString(value) {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * A WAV of a rising tone, `seconds` long (8 kHz, 8-bit mono).
 * @param {number} seconds
 */
function wavOf(seconds) {
  const rate = 8000;
  const samples = seconds * rate;
  const wav = Buffer.alloc(44 + samples);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + samples, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate, 28); // bytes per second
  wav.writeUInt16LE(1, 32);
  wav.writeUInt16LE(8, 34);
  wav.write('data', 36);
  wav.writeUInt32LE(samples, 40);
  for (let i = 0; i < samples; i++) wav[44 + i] = 128 + Math.round(100 * Math.sin((2 * Math.PI * (200 + i / 100) * i) / rate));
  return wav;
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const port = Number(process.env.PORT ?? 8080);
  const staticDir = path.resolve(process.cwd(), process.env.STATIC_DIR ?? 'dist/demo');
  const running = await startServer({ port, staticDir });
  console.log(`listening on ${running.url}`);
  const shutdown = () => {
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
