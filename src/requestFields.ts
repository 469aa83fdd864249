import { badValue } from '../common/quote.js';

/**
 * What a `Request` may say beyond its URL, method and headers, with the value `new Request(url)`
 * gives. The worker fetches the file later, in the background, from the URL, method and headers
 * alone (and checks the file against its `integrity`): a request that asks more is refused,
 * naming the field, rather than fetched without it.
 */
const DEFAULTS = {
  mode: 'cors',
  credentials: 'same-origin',
  cache: 'default',
  redirect: 'follow',
  referrerPolicy: '',
  keepalive: false,
} as const satisfies Partial<Record<keyof Request, unknown>>;

/**
 * Throws a TypeError naming the first field of `request` that a background task cannot honour
 * (a body, `redirect: 'error'`, `credentials: 'include'`, `mode: 'no-cors'`, ...).
 * Its `signal` is honoured: see `URLSession.downloadTask`.
 */
export function checkRequestFields(request: Request): void {
  // Firefox has no `Request.body`, nor a way to tell a body without reading it: there it goes unseen.
  if (request.body) {
    throw new TypeError('A background task sends no request body: a download sends none, an upload the file given to uploadTask()');
  }
  // (The worker checks it again, and the file against it.)
  if (request.integrity && !/(^|\s)sha(256|384|512)-[\w+/=-]+/.test(request.integrity)) {
    throw badValue("A request's integrity must name a sha256, sha384 or sha512 digest", request.integrity);
  }
  for (const [field, value] of Object.entries(DEFAULTS)) {
    const asked = request[field as keyof typeof DEFAULTS];
    // A field this browser does not have (Firefox before 133: keepalive) cannot be asked.
    if (field in request && asked !== value) throw badValue(`A background task takes a request's ${field} only as ${JSON.stringify(value)}`, asked);
  }
}
