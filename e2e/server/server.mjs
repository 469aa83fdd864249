// @ts-check
/**
 * Test server for the end-to-end tests: deterministic (optionally faulty)
 * downloads, redirects, uploads, stats/control endpoints and static files.
 * Uses only Node built-ins. See README.md in this folder for the endpoints.
 */
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Of } from './content.mjs';
import { fileStatsId, handleFile, handleMedia } from './files.mjs';
import { headerString, HttpError, intParam, parseSize, sendJson, sendText } from './http.mjs';
import { emptyStats, newGate, ServerRecords } from './records.mjs';
import { serveStatic } from './static.mjs';

export { parseSize };

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('node:http').ServerResponse<IncomingMessage>} ServerResponse */
/** @typedef {import('node:http').Server} Server */
/** @typedef {import('./records.mjs').LogEntry} LogEntry */
/** @typedef {import('./records.mjs').IdStats} IdStats */
/** @typedef {import('./records.mjs').Gate} Gate */
/** @typedef {import('./records.mjs').StartOptions} StartOptions */
/** @typedef {import('./records.mjs').RunningServer} RunningServer */

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

/**
 * /redirect/<n>/<rest...>
 * @param {ServerRecords} records
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {URL} url
 * @param {number} t
 */
function handleRedirect(records, req, res, url, t) {
  const m = /^\/redirect\/(\d+)(?:\/(.*))?$/.exec(url.pathname);
  if (!m || Number(m[1]) < 1) throw new HttpError(400, 'expected /redirect/<n>/<path>, n >= 1');
  const n = Number(m[1]);
  const rest = m[2] ?? '';
  const location = (n > 1 ? `/redirect/${n - 1}/${rest}` : `/${rest}`) + url.search;
  const { entry } = records.recordRequest('redirect', req, t);
  entry.status = 302;
  res.writeHead(302, { Location: location, 'Content-Length': '0' });
  res.end();
}

/**
 * POST/PUT /upload?id=X
 * @param {ServerRecords} records
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {URL} url
 * @param {number} t
 */
async function handleUpload(records, req, res, url, t) {
  if (req.method !== 'POST' && req.method !== 'PUT') {
    return sendText(res, 405, 'method not allowed', { Allow: 'POST, PUT, OPTIONS' });
  }
  const id = url.searchParams.get('id') ?? 'upload';
  const { s, entry } = records.recordRequest(id, req, t);
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
}

/**
 * /__stats, /__token, /__reset, /__release, /__gate, /__control, /__sha256
 * @param {ServerRecords} records
 * @param {ServerResponse} res
 * @param {URL} url
 */
async function handleControl(records, res, url) {
  const q = url.searchParams;
  const { stats, tokens, gates } = records;
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
      records.reset();
      return sendText(res, 204);
    case '/__release': {
      const name = q.get('gate');
      if (!name) throw new HttpError(400, 'expected ?gate=NAME');
      records.gateFor(name).open();
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
      if (id === null || version === undefined || version < 1) throw new HttpError(400, 'expected ?id=X&version=N (N >= 1)');
      records.statsFor(id).version = version;
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
}

/**
 * A preflight: logged with the file's requests (not counted in `requests`), so that a test can
 * tell whether the browser sent one; answered only with `cors=full`.
 * @param {ServerRecords} records
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {URL} url
 * @param {number} t
 * @param {string} cors
 */
function handleOptions(records, req, res, url, t, cors) {
  if (/^\/files\/([^/]+)$/.test(url.pathname)) records.logPreflight(fileStatsId(url), req, t, cors === 'full' ? 204 : 405);
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
  res.end();
}

/**
 * Answers one request: its CORS headers (`cors=`), then its route.
 * @param {ServerRecords} records
 * @param {string} root
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 */
async function handle(records, root, req, res) {
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
  if (NO_STORE_PREFIXES.some((prefix) => p === prefix || p.startsWith(prefix))) res.setHeader('Cache-Control', 'no-store');
  if (req.method === 'OPTIONS') return handleOptions(records, req, res, url, t, cors);
  const fileMatch = /^\/files\/([^/]+)$/.exec(p);
  if (fileMatch) return handleFile(records, req, res, url, fileMatch[1] ?? '', t);
  if (p === '/redirect' || p.startsWith('/redirect/')) return handleRedirect(records, req, res, url, t);
  if (p === '/upload') return handleUpload(records, req, res, url, t);
  if (p.startsWith('/media/')) return handleMedia(records, req, res, url, t);
  if (p.startsWith('/__')) return handleControl(records, res, url);
  return serveStatic(root, req, res);
}

/**
 * Starts the test server.
 * @param {StartOptions} [options]
 * @returns {Promise<RunningServer>}
 */
export async function startServer({ port = 0, host = '127.0.0.1', staticDir } = {}) {
  const root = path.resolve(staticDir ?? 'dist/demo');
  const records = new ServerRecords();
  const server = createServer((req, res) => {
    // Errors after a client abort are expected; never let them crash the process.
    req.on('error', () => {});
    res.on('error', () => {});
    handle(records, root, req, res).catch((err) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!(err instanceof HttpError) && !res.destroyed) console.error('[e2e server]', req.method, req.url, err);
      if (!res.headersSent && !res.destroyed) sendText(res, status, err instanceof Error ? err.message : String(err));
      else res.destroy();
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
