/**
 * Requests to another origin, under CORS. Most CDNs answer only `Access-Control-Allow-Origin: *`:
 * no preflight, no header exposed beyond the safelisted ones.
 */

/**
 * Whether any of these URLs (a request's, and the one it was redirected to) is of another origin
 * than the worker's: a request to it with a header that is not CORS-safelisted, as `If-Range`,
 * needs a preflight the server may not answer.
 */
export function isCrossOrigin(urls: (string | null | undefined)[], origin: string = location.origin): boolean {
  return urls.some((url) => url && new URL(url, origin).origin !== origin);
}
