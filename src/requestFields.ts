import { quote } from '../common/quote.js';

/**
 * What a `Request` may say beyond its URL, method and headers, with the value `new Request(url)`
 * gives. The worker fetches the file later, in the background, from the URL, method and headers
 * alone: a request that asks more is refused, naming the field, rather than fetched without it.
 */
const DEFAULTS = {
  mode: 'cors',
  credentials: 'same-origin',
  cache: 'default',
  redirect: 'follow',
  integrity: '',
  referrerPolicy: '',
  keepalive: false,
} as const satisfies Partial<Record<keyof Request, unknown>>;

/** What each refused field would need instead, to say so in the error. */
const INSTEAD: Partial<Record<keyof typeof DEFAULTS | 'body', string>> = {
  body: 'a download sends no body; an upload sends the file given to uploadTask()',
  integrity: "check the file's digest in didFinishDownloadingTo",
};

/**
 * Throws a TypeError naming the first field of `request` that a background task cannot honour
 * (a body, `integrity`, `redirect: 'error'`, `credentials: 'include'`, `mode: 'no-cors'`, ...).
 * Its `signal` is honoured: see `URLSession.downloadTask`.
 */
export function checkRequestFields(request: Request): void {
  if (request.body !== null) throw refused('body', 'a stream');
  for (const [field, value] of Object.entries(DEFAULTS) as [keyof typeof DEFAULTS, unknown][]) {
    // A field this browser does not have (Firefox before 133: keepalive) cannot be asked.
    if (field in request && request[field] !== value) throw refused(field, request[field]);
  }
}

function refused(field: keyof typeof INSTEAD, value: unknown): TypeError {
  const instead = INSTEAD[field] ?? `only ${quote(DEFAULTS[field as keyof typeof DEFAULTS])} is supported`;
  return new TypeError(`A background task cannot honour the request's ${field} ${quote(value)}: ${instead}`);
}
