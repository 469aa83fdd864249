/**
 * The permanent store (`documents`) served to the app's pages: `documents.url(name)` names a
 * URL in the worker's scope that this answers from the stored file, with byte ranges, so a
 * `<video>` or `<audio>` plays and seeks a stored file offline, without reading it whole.
 */
import { readDocument } from '../common/documentFile.js';
import { documentName } from '../common/cacheKeys.js';
import { quote } from '../common/quote.js';
import { filesCache } from './store/parts.js';

/** Whether a request asks for a stored document: a GET or HEAD of a URL `documents.url()` gives. */
export function isDocumentRequest(request: Request): boolean {
  const url = new URL(request.url);
  return (request.method === 'GET' || request.method === 'HEAD') && url.origin === location.origin && documentName(url.pathname) !== null;
}

/**
 * Answers a request for a stored document (see `isDocumentRequest`): the whole file, or the
 * one byte range its `Range` header asks (206), 416 for a range past the end, 404 if there is
 * no such file. `?download` answers it as an attachment, for the browser to save.
 */
export async function serveDocument(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const name = documentName(url.pathname);
  const stored = name === null ? undefined : await readDocument(await filesCache(), name);
  if (!stored) return new Response(`No document ${quote(name)} is stored`, { status: 404, headers: { 'Content-Type': 'text/plain' } });
  // Backed by storage: a slice reads only its own bytes.
  const { file } = stored;
  const headers = new Headers({
    'Accept-Ranges': 'bytes',
    'Content-Type': stored.headers.get('Content-Type') || 'application/octet-stream',
    // A file from elsewhere, served from the app's origin, must not run as the app (an HTML file).
    'Content-Security-Policy': 'sandbox',
    'X-Content-Type-Options': 'nosniff',
  });
  if (url.searchParams.has('download')) headers.set('Content-Disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name!)}`);
  const range = byteRange(request.headers.get('Range'), file.size);
  if (range === null) {
    headers.set('Content-Range', `bytes */${file.size}`);
    return new Response(null, { status: 416, headers });
  }
  const { first, last } = range ?? { first: 0, last: file.size - 1 };
  headers.set('Content-Length', String(last - first + 1));
  if (range) headers.set('Content-Range', `bytes ${first}-${last}/${file.size}`);
  const body = request.method === 'HEAD' ? null : range ? file.slice(first, last + 1) : file;
  return new Response(body, { status: range ? 206 : 200, headers });
}

/**
 * The one byte range a `Range` header asks of a file of `size` bytes, as RFC 9110 reads it:
 * undefined where the whole file is the answer (no header, one that does not parse, several
 * ranges), null where the range is past the end (416).
 */
export function byteRange(header: string | null, size: number): { first: number; last: number } | null | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    return suffix === 0 || size === 0 ? null : { first: Math.max(0, size - suffix), last: size - 1 };
  }
  const first = Number(match[1]);
  const last = match[2] === '' ? Infinity : Number(match[2]);
  if (last < first) return undefined;
  return first >= size ? null : { first, last: Math.min(last, size - 1) };
}
