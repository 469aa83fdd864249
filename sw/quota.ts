import { URLError } from '../common/errors.js';

/**
 * Whether a storage write failed for want of room. Chromium says so with a `QuotaExceededError`
 * DOMException. Firefox's Cache Storage rejects `cache.put` with an XPCOM exception named
 * `NS_ERROR_FILE_NO_DEVICE_SPACE` (not an `Error`; measured in Firefox ESR 153 with a fixed
 * storage limit), having first cancelled the body stream with an `AbortError`.
 */
export function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_FILE_NO_DEVICE_SPACE';
}

/**
 * The named error a download that found no room ends with, saying what the quota error said
 * (its message, else its name: Firefox's exception has no message).
 */
export function storageFull(url: string, error: unknown): URLError {
  const { name, message } = error as { name?: unknown; message?: unknown };
  return new URLError('cannotWriteToFile', `No storage left for the download of ${url}: ${String(message || name)}`);
}
