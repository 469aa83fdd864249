// @ts-check
/**
 * The test server's files: `/files/<size>`, deterministic bytes with ranges, validators and
 * faults (see README.md in this folder), and `/media/`, a tone and a video to play.
 */
import { gzipSync } from 'node:zlib';
import { readFile } from 'node:fs/promises';
import { contentChunks, CHUNK_SIZE } from './content.mjs';
import { chunked, flagParam, headerString, HttpError, ifRangeMatches, intParam, parseRange, parseSize, pump, sendText, wait, watchClose } from './http.mjs';

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('node:http').ServerResponse<IncomingMessage>} ServerResponse */

/** @typedef {import('./records.mjs').ServerRecords} ServerContext */

/**
 * The options of a `/files/` request, from its query (see README.md in this folder).
 * @param {URLSearchParams} q
 * @param {string | undefined} method
 */
function fileOptions(q, method) {
  const statusFault = intParam(q, 'status');
  if (statusFault !== undefined && (statusFault < 200 || statusFault > 599)) throw new HttpError(400, `invalid status: ${statusFault}`);
  const gateName = q.get('gate');
  const gateAtText = q.get('gateAt');
  const gateAt = gateAtText === null ? 0 : parseSize(gateAtText);
  if (gateAt === null) throw new HttpError(400, `invalid gateAt: ${gateAtText}`);
  if (gateAtText !== null && !gateName) throw new HttpError(400, 'gateAt needs gate=NAME');
  if (q.has('gateRanges') && !gateName) throw new HttpError(400, 'gateRanges needs gate=NAME');
  return {
    seed: q.get('seed') ?? 'default',
    changeEvery: intParam(q, 'changeEvery'),
    times: intParam(q, 'times'),
    statusFault,
    retryAfter: q.get('retryAfter'),
    drop: intParam(q, 'drop'),
    dropDelay: intParam(q, 'dropDelay') ?? 0,
    stall: intParam(q, 'stall'),
    short: intParam(q, 'short'),
    rate: intParam(q, 'rate') ?? 0,
    // `headDelay`: a HEAD's answer waits so long (a probe that hangs); `delay`: every answer.
    delay: (method === 'HEAD' ? intParam(q, 'headDelay') : undefined) ?? intParam(q, 'delay') ?? 0,
    weak: flagParam(q, 'weak'),
    noValidators: flagParam(q, 'noValidators'),
    noLength: flagParam(q, 'noLength'),
    noRanges: flagParam(q, 'noRanges'),
    ignoreRange: flagParam(q, 'ignoreRange'),
    gzip: flagParam(q, 'gzip'),
    gateName,
    gateAt,
    gateRanges: flagParam(q, 'gateRanges'),
    type: q.get('type') ?? 'application/octet-stream',
    token: q.get('token'),
    expires: intParam(q, 'expires'),
  };
}

/** @typedef {ReturnType<typeof fileOptions>} FileOptions */

/**
 * A response about to be sent: its request's log, the file's version, and whether this
 * request is one the faults apply to.
 * @typedef {object} Answer
 * @property {IncomingMessage} req
 * @property {ServerResponse} res
 * @property {{ closed: boolean }} w
 * @property {import('./records.mjs').IdStats} s
 * @property {import('./records.mjs').LogEntry} entry
 * @property {number} version
 * @property {boolean} faulty
 */

/**
 * GET/HEAD /files/<size>
 * @param {ServerContext} ctx
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {URL} url
 * @param {string} sizeText
 * @param {number} t
 */
export async function handleFile(ctx, req, res, url, sizeText, t) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendText(res, 405, 'method not allowed', { Allow: 'GET, HEAD, OPTIONS' });
  }
  const size = parseSize(sizeText);
  if (size === null) throw new HttpError(400, `invalid size: ${sizeText}`);
  const o = fileOptions(url.searchParams, req.method);
  const { s, entry } = ctx.recordRequest(fileStatsId(url), req, t);
  // The response's end: its last byte handed to the socket ('finish'), or the connection gone.
  const ended = () => (entry.end ??= Date.now());
  res.once('finish', ended);
  res.once('close', ended);
  const n = s.requests;
  const version = s.version;
  if (o.changeEvery && n % o.changeEvery === 0) s.version++;
  /** @type {Answer} */
  const answer = { req, res, w: watchClose(res), s, entry, version, faulty: o.times === undefined || n <= o.times };
  if (o.delay > 0) {
    await wait(o.delay, res, answer.w);
    if (answer.w.closed) return;
  }
  const refused = refusal(ctx, answer, o);
  if (refused) {
    entry.status = refused[0];
    return sendText(res, ...refused);
  }
  const etag = o.noValidators ? null : `${o.weak ? 'W/' : ''}"${o.seed}-${size}-v${version}"`;
  const lastModified = o.noValidators ? null : new Date(Date.UTC(2026, 0, 1) + version * 86400000).toUTCString();
  /** @type {Record<string, string>} */
  const headers = { 'Content-Type': o.type };
  if (!o.noRanges) headers['Accept-Ranges'] = 'bytes';
  if (etag !== null) headers.ETag = etag;
  if (lastModified !== null) headers['Last-Modified'] = lastModified;

  let range = /** @type {ReturnType<typeof parseRange>} */ (null);
  const ifRange = headerString(req.headers['if-range']);
  if (req.headers.range && !o.noRanges && !o.ignoreRange && (ifRange === null || ifRangeMatches(ifRange, etag, lastModified))) {
    range = parseRange(req.headers.range, size);
  }
  if (range === 'unsatisfiable') {
    entry.status = 416;
    return sendText(res, 416, 'range not satisfiable', { ...headers, 'Content-Range': `bytes */${size}` });
  }
  if (o.gzip && !range) return sendGzipped(answer, o, size, headers);
  const start = range ? range.start : 0;
  const end = range ? range.end : size - 1;
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  if (!o.noLength) headers['Content-Length'] = String(end - start + 1);
  return sendBody(ctx, answer, o, { start, end, status: range ? 206 : 200, headers });
}

/**
 * Why a request is refused before its body, as `sendText`'s arguments, or undefined.
 * Credentials: a token the server may change (`token=NAME`), a URL that expires (`expires=MS`).
 * @param {ServerContext} ctx
 * @param {Answer} answer
 * @param {FileOptions} o
 * @returns {[number, string | undefined, Record<string, string>?] | undefined}
 */
function refusal(ctx, { req, faulty }, o) {
  if (o.token !== null && req.headers.authorization !== `Bearer ${ctx.tokens.get(o.token)}`) {
    return [401, 'the token is not the current one', { 'WWW-Authenticate': 'Bearer' }];
  }
  if (o.expires !== undefined && Date.now() > o.expires) return [403, 'Request has expired'];
  if (faulty && o.statusFault !== undefined) return [o.statusFault, undefined, o.retryAfter !== null ? { 'Retry-After': o.retryAfter } : {}];
  return undefined;
}

/**
 * The whole file gzip-encoded, as servers compress: not for ranges (they are served plain), no
 * Accept-Ranges, the encoded length. Content-Encoding is not among the headers CORS exposes,
 * so a cross-origin page cannot see it.
 * @param {Answer} answer
 * @param {FileOptions} o
 * @param {number} size
 * @param {Record<string, string>} headers
 */
async function sendGzipped({ req, res, w, s, entry, version }, o, size, headers) {
  const body = gzipSync(Buffer.concat([...contentChunks(o.seed, version, 0, size - 1)]));
  delete headers['Accept-Ranges'];
  Object.assign(headers, { 'Content-Encoding': 'gzip', 'Content-Length': String(body.length) });
  entry.status = 200;
  res.writeHead(200, headers);
  if (req.method === 'HEAD') return void res.end();
  const bytes = (/** @type {number} */ n) => ((s.bytesSent += n), (entry.bytesSent += n));
  const chunks = o.rate > 0 ? chunked(body, Math.max(1024, Math.floor(o.rate / 10))) : [body];
  await pump(res, w, chunks, { limit: body.length, rate: o.rate, onBytes: bytes });
  if (w.closed) return;
  s.completed++;
  res.end();
}

/**
 * Sends bytes `start` to `end` of the file, with the faults asked: a drop, a stall, a body cut
 * short that ends as if whole, a gate.
 * @param {ServerContext} ctx
 * @param {Answer} answer
 * @param {FileOptions} o
 * @param {{ start: number, end: number, status: number, headers: Record<string, string> }} body
 */
async function sendBody(ctx, { req, res, w, s, entry, version, faulty }, o, { start, end, status, headers }) {
  const length = end - start + 1;
  // A body cut short that ends as if whole: sent chunked (no Content-Length for the client to
  // check it by), its end clean. The HEAD keeps the full length, as the file's own.
  const shortAt = req.method === 'GET' && faulty && o.short !== undefined && o.short < length ? o.short : undefined;
  if (shortAt !== undefined) delete headers['Content-Length'];
  entry.status = status;
  res.writeHead(status, headers);
  if (req.method === 'HEAD') return void res.end();

  // Faults: stop after N bytes, either dropping the connection or hanging.
  const dropAt = faulty && o.drop !== undefined && o.drop < length ? o.drop : undefined;
  const stallAt = faulty && dropAt === undefined && o.stall !== undefined && o.stall < length ? o.stall : undefined;
  const limit = dropAt ?? stallAt ?? shortAt ?? length;
  res.once('finish', () => {
    s.completed++;
  });
  if (length === 0) return void res.end();
  if (limit === 0) {
    // Make sure the headers reach the client before anything else happens.
    await new Promise((resolve) => res.write(Buffer.alloc(0), () => resolve(undefined)));
  }
  const { rate } = o;
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
  // With `gateRanges`, it holds closed ranges (Background Fetch's) before their first byte.
  const gate = o.gateName ? ctx.gateFor(o.gateName) : undefined;
  const gateRel = o.gateRanges ? 0 : Math.max(0, o.gateAt - start);
  const gated = o.gateRanges ? /^bytes=\d+-\d+$/.test(req.headers.range ?? '') : gateRel < limit;
  if (gate && !gate.released && gated) {
    if (gateRel > 0) {
      sent = await pump(res, w, contentChunks(o.seed, version, start, start + gateRel - 1, chunkSize), { limit: gateRel, rate, onBytes });
    } else {
      await new Promise((resolve) => res.write(Buffer.alloc(0), () => resolve(undefined)));
    }
    if (w.closed) return;
    await holdAtGate(gate, res, w);
    if (w.closed) return;
  }
  sent += await pump(res, w, contentChunks(o.seed, version, start + sent, end, chunkSize), { limit: limit - sent, rate, onBytes });
  if (w.closed) return;
  if (dropAt !== undefined) {
    await wait(o.dropDelay, res, w);
    res.destroy();
  } else if (stallAt !== undefined) {
    // Hang: never end the response; the client has to give up.
  } else if (sent === limit) {
    res.end();
  }
}

/**
 * Waits at a gate until it is released or the connection closes.
 * @param {import('./records.mjs').Gate} gate
 * @param {ServerResponse} res
 * @param {{ closed: boolean }} w
 */
async function holdAtGate(gate, res, w) {
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
}

/**
 * GET /media/<seconds>.wav?id=X: a WAV of a rising tone (8 kHz, 8-bit mono), that a media
 * element plays and seeks; GET /media/bars.webm?id=X: 30 s of a VP8 test pattern, 160x120
 * (made by scripts/make-test-video.py). Whole (no ranges): what is tested is where the app
 * plays it from.
 * @param {ServerContext} ctx
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {URL} url
 * @param {number} t
 */
export async function handleMedia(ctx, req, res, url, t) {
  const m = /^\/media\/(\d{1,3})\.wav$/.exec(url.pathname);
  const video = url.pathname === '/media/bars.webm';
  if (!video && (!m || Number(m[1]) < 1)) throw new HttpError(400, 'expected /media/<seconds>.wav (1 to 999 seconds) or /media/bars.webm');
  const body = video ? await readFile(new URL('./media/bars.webm', import.meta.url)) : wavOf(Number(m?.[1]));
  const { entry } = ctx.recordRequest(url.searchParams.get('id') ?? 'media', req, t);
  entry.status = 200;
  res.writeHead(200, {
    'Content-Type': video ? 'video/webm' : 'audio/wav',
    'Content-Length': String(body.length),
    'Content-Disposition': `inline; filename="${video ? 'bars.webm' : 'tone.wav'}"`,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * The stats id of a `/files/<size>` URL: `id`, else `<seed>:<size in bytes>`.
 * @param {URL} url
 */
export function fileStatsId(url) {
  const q = url.searchParams;
  return q.get('id') ?? `${q.get('seed') ?? 'default'}:${parseSize(url.pathname.split('/')[2]) ?? url.pathname.split('/')[2]}`;
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
