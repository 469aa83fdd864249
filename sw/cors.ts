/**
 * Requests to another origin, under CORS. Most CDNs answer only `Access-Control-Allow-Origin: *`:
 * no preflight, no header exposed beyond the safelisted ones. And when a server refuses this
 * origin, the browser fails the request as it fails a lost connection (a TypeError, before any
 * response) and says no more; retrying it as one only delays the failure.
 */
import { URLError } from '../common/errors.js';
import type { RequestRecord } from '../common/schema.js';

/** How long a probe waits for an answer before it takes the server as unreachable. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * Whether any of these URLs (a request's, and the one it was redirected to) is of another origin
 * than the worker's: a request to it with a header that is not CORS-safelisted, as `If-Range`,
 * needs a preflight the server may not answer.
 */
export function isCrossOrigin(urls: (string | null | undefined)[], origin: string = location.origin): boolean {
  return urls.some((url) => url && new URL(url, origin).origin !== origin);
}

/**
 * Whether a fetch failed before any response, with the network up: the server refused this
 * origin (CORS), the browser blocked the request, or the server could not be reached.
 */
export function failedBeforeResponse(error: unknown, signal?: AbortSignal): boolean {
  return error instanceof TypeError && !signal?.aborted && navigator.onLine;
}

/**
 * Whether the server of `url` answers a request that asks no CORS (`no-cors`: its answer is
 * opaque, but it is an answer): a request that failed before any response was then refused by
 * CORS, not lost on the way.
 */
export async function answersWithoutCors(url: string): Promise<boolean> {
  try {
    await fetch(url, { method: 'HEAD', mode: 'no-cors', cache: 'no-store', credentials: 'omit', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a download's request is refused by CORS: asked again for one byte (`Range` is
 * safelisted: the same preflight, or none), it fails before any response with the network up,
 * while the server answers a request that asks no CORS. A browser restart also fails a
 * Background Fetch as `fetch-error`; this tells the two apart.
 */
export async function refusedByCors(request: RequestRecord): Promise<boolean> {
  const headers = new Headers(request.headers);
  if (!headers.has('Range')) headers.set('Range', 'bytes=0-0');
  const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  try {
    const response = await fetch(request.url, { method: request.method, headers, cache: 'no-store', signal });
    await response.body?.cancel();
    return false;
  } catch (error) {
    return failedBeforeResponse(error, signal) && (await answersWithoutCors(request.url));
  }
}

/** The error of a request the server refused to this origin, or the browser blocked. */
export function corsBlocked(url: string): URLError {
  return new URLError(
    'corsBlocked',
    `The server of ${url} refused the request from this origin (CORS: no Access-Control-Allow-Origin for it, or a preflight it did not answer), or the browser blocked it`,
  );
}
