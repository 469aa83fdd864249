// @ts-check
/** The test server's static files: the demo or an app's build. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { HttpError, sendText } from './http.mjs';

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('node:http').ServerResponse<IncomingMessage>} ServerResponse */

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

/**
 * Static files from `root` (the demo, an app), never from outside it.
 * @param {string} root
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 */
export async function serveStatic(root, req, res) {
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
}
