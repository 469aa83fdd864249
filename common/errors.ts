/**
 * Errors that survive `postMessage`: a transfer's failure is made in the worker and rebuilt
 * on the page with the same `name`, `code` and `status`.
 */

/**
 * URLError codes used by the library, named as Apple's `URLError.Code`. Two are the web's own:
 * `corsBlocked`, the server refused the request from this origin (CORS), or the browser blocked
 * it; `integrityMismatch`, the file's bytes are not those its request's `integrity` names.
 */
export type URLErrorCode =
  | 'badServerResponse'
  | 'cancelled'
  | 'networkConnectionLost'
  | 'corsBlocked'
  | 'integrityMismatch'
  | 'timedOut'
  | 'dataLengthExceedsMaximum'
  | 'cannotWriteToFile'
  | 'unsupportedURL'
  | 'cannotDecodeRawData'
  | 'unknown';

/** The plain-object form of an error, as stored in IndexedDB and posted between sides. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  status?: number;
  stack?: string;
}

/** A failed transfer, as `URLError`: `code` says why; `status` is the HTTP status if any. */
export class URLError extends Error {
  override name = 'URLError';
  /** Why the transfer failed. */
  readonly code: URLErrorCode;
  /** The HTTP status of the response that failed the transfer, if it had one. */
  readonly status?: number;

  constructor(code: URLErrorCode, message: string, status?: number) {
    super(message);
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}

/** Turns any thrown value into its plain-object form. */
export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const out: SerializedError = { name: error.name, message: error.message, stack: error.stack };
  const { code, status } = error as { code?: unknown; status?: unknown };
  if (typeof code === 'string') out.code = code;
  if (typeof status === 'number') out.status = status;
  return out;
}

/** The `DOMException` names a worker's call may fail with (storage full, a file gone, ...). */
const DOM_EXCEPTIONS = new Set(['QuotaExceededError', 'NotFoundError', 'InvalidStateError', 'AbortError', 'NotAllowedError', 'DataCloneError', 'UnknownError']);

/**
 * Rebuilds an error from its plain-object form, as a URLError or TypeError (what the worker
 * throws), a `DOMException` of its name (what storage throws: a page checks `QuotaExceededError`
 * as the browser gives it), or else an Error with the original name.
 */
export function deserializeError(data: SerializedError): Error {
  if (DOM_EXCEPTIONS.has(data.name)) return new DOMException(data.message, data.name);
  const error =
    data.name === 'URLError'
      ? new URLError((data.code ?? 'unknown') as URLErrorCode, data.message)
      : new (data.name === 'TypeError' ? TypeError : Error)(data.message);
  // name (where the class does not give it), code, status and stack, as they were.
  return Object.assign(error, data);
}
